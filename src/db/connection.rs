//! Opening the database: URL parsing, r2d2 pools, SQLite PRAGMAs,
//! migrations, and running work on a connection or in a transaction.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::group_commit::GroupCommit;
use super::sql::Conn;
use super::{Backend, StoreError};

pub(super) const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub(super) const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// How long a SQLite writer waits for another one before giving up.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 15_000;
/// How long a caller waits for a pooled connection.
const POOL_TIMEOUT: Duration = Duration::from_secs(30);
/// Key of the PostgreSQL advisory lock held while migrating, so instances
/// starting together do not race.
const MIGRATION_LOCK: i64 = 0x7061_7966_6f72_6d73; // "payforms"

/// Where the database is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    Sqlite(PathBuf),
    Postgres(String),
}

/// `postgres://`/`postgresql://` URLs, `sqlite://PATH` (`sqlite:///abs`),
/// `sqlite:PATH`, or a bare file path.
pub(crate) fn parse_url(url: &str) -> Result<Location, StoreError> {
    let url = url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Location::Postgres(url.to_string()));
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if path.is_empty() {
        return Err(StoreError::InvalidUrl("no SQLite file path given".into()));
    }
    if path == ":memory:" {
        return Err(StoreError::InvalidUrl(
            "an in-memory SQLite database cannot be shared by a pool; give a file path".into(),
        ));
    }
    if path.contains("://") {
        return Err(StoreError::InvalidUrl(format!(
            "unsupported scheme in `{}`; use postgres://, sqlite:// or a file path",
            redact_url(url)
        )));
    }
    Ok(Location::Sqlite(PathBuf::from(path)))
}

/// The URL without its password, for messages.
pub(crate) fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(_) => url.to_string(),
        Err(_) => "<unparseable URL>".to_string(),
    }
}

/// The PRAGMAs every SQLite connection needs: wait for writers instead of
/// failing, WAL so readers do not block the writer, foreign keys enforced.
#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&format!(
            "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL; \
             PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
             PRAGMA cache_size = -16000; PRAGMA mmap_size = 268435456; \
             PRAGMA wal_autocheckpoint = 0;"
        ))
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

pub(crate) enum Pools {
    Sqlite(Pool<ConnectionManager<SqliteConnection>>),
    Postgres(Pool<ConnectionManager<PgConnection>>),
}

pub(crate) struct Database {
    pools: Pools,
    /// Scrubbed from every message.
    password: Option<String>,
    /// SQLite has one writer at a time, so this process writes through one
    /// kept connection, and writers queueing for it share a commit (see
    /// `group_commit`); the connection's page cache stays warm.
    sqlite_writer: GroupCommit,
    /// While true, a thread checkpoints the SQLite WAL (see
    /// `spawn_checkpointer`); cleared when the database is dropped.
    checkpoints: Arc<AtomicBool>,
}

impl Drop for Database {
    fn drop(&mut self) {
        self.checkpoints.store(false, Ordering::Relaxed);
    }
}

/// How often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Checkpoint the WAL beside the writers rather than in a commit: SQLite
/// would otherwise make the commit that crosses 1,000 WAL pages copy them
/// all back while every other writer waits. PASSIVE never blocks a writer.
fn spawn_checkpointer(pool: Pool<ConnectionManager<SqliteConnection>>, running: Arc<AtomicBool>) {
    let spawned = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while running.load(Ordering::Relaxed) {
                std::thread::sleep(CHECKPOINT_EVERY);
                if let Ok(mut conn) = pool.get() {
                    if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
                        tracing::debug!("WAL checkpoint: {e}");
                    }
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("no WAL checkpoint thread ({e}); SQLite checkpoints in commits");
    }
}

impl Database {
    pub(crate) fn open(url: &str) -> Result<Database, StoreError> {
        match parse_url(url)? {
            Location::Sqlite(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| StoreError::Pool(format!("cannot create {}: {e}", parent.display())))?;
                }
                let manager = ConnectionManager::<SqliteConnection>::new(path.to_string_lossy());
                let pool = Pool::builder()
                    .max_size(8)
                    .min_idle(Some(1))
                    .connection_timeout(POOL_TIMEOUT)
                    .connection_customizer(Box::new(SqlitePragmas))
                    .build(manager)
                    .map_err(|e| StoreError::Pool(format!("cannot open SQLite file {}: {e}", path.display())))?;
                let checkpoints = Arc::new(AtomicBool::new(true));
                spawn_checkpointer(pool.clone(), checkpoints.clone());
                Ok(Database {
                    pools: Pools::Sqlite(pool),
                    password: None,
                    sqlite_writer: GroupCommit::default(),
                    checkpoints,
                })
            }
            Location::Postgres(url) => {
                let password = url::Url::parse(&url)
                    .ok()
                    .and_then(|u| u.password().map(str::to_string))
                    .filter(|p| !p.is_empty());
                let manager = ConnectionManager::<PgConnection>::new(url.clone());
                let pool = Pool::builder()
                    .max_size(10)
                    .min_idle(Some(1))
                    .connection_timeout(Duration::from_secs(10))
                    .build(manager);
                match pool {
                    Ok(pool) => Ok(Database {
                        pools: Pools::Postgres(pool),
                        password,
                        sqlite_writer: GroupCommit::default(),
                        checkpoints: Arc::new(AtomicBool::new(false)),
                    }),
                    Err(e) => Err(scrub(
                        password.as_deref(),
                        StoreError::Pool(format!("cannot connect to PostgreSQL at {}: {e}", redact_url(&url))),
                    )),
                }
            }
        }
    }

    pub(crate) fn backend(&self) -> Backend {
        match self.pools {
            Pools::Sqlite(_) => Backend::Sqlite,
            Pools::Postgres(_) => Backend::Postgres,
        }
    }

    pub(crate) fn scrub(&self, error: StoreError) -> StoreError {
        scrub(self.password.as_deref(), error)
    }

    /// Run `work` on a pooled connection.
    pub(crate) fn with_conn<R>(&self, work: impl FnOnce(&mut Conn) -> Result<R, StoreError>) -> Result<R, StoreError> {
        let result = match &self.pools {
            Pools::Sqlite(pool) => get(pool).and_then(|mut c| work(&mut Conn::Sqlite(&mut c))),
            Pools::Postgres(pool) => get(pool).and_then(|mut c| work(&mut Conn::Postgres(&mut c))),
        };
        result.map_err(|e| self.scrub(e))
    }

    /// Run `work` in one transaction; an error rolls everything back.
    /// SQLite takes the write lock up front (BEGIN IMMEDIATE, so another
    /// process's writers wait on busy_timeout) and concurrent callers share
    /// one commit, each in its own savepoint.
    pub(crate) fn with_transaction<R>(
        &self,
        work: impl FnOnce(&mut Conn) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let result = match &self.pools {
            Pools::Sqlite(pool) => self.sqlite_writer.run(pool, work),
            Pools::Postgres(pool) => get(pool).and_then(|mut c| c.transaction(|c| work(&mut Conn::Postgres(c)))),
        };
        result.map_err(|e| self.scrub(e))
    }

    pub(crate) fn migrate(&self) -> Result<(), StoreError> {
        let failed = |e: Box<dyn std::error::Error + Send + Sync>| StoreError::Migration(e.to_string());
        let result = match &self.pools {
            Pools::Sqlite(pool) => {
                get(pool).and_then(|mut c| c.run_pending_migrations(SQLITE_MIGRATIONS).map(drop).map_err(failed))
            }
            Pools::Postgres(pool) => get(pool).and_then(|mut c| {
                c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
                let migrated = c.run_pending_migrations(POSTGRES_MIGRATIONS).map(drop).map_err(failed);
                let unlocked = c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
                migrated.and(unlocked.map_err(StoreError::from))
            }),
        };
        result.map_err(|e| self.scrub(e))
    }
}

/// Remove the password from a message, wherever a driver put it.
fn scrub(password: Option<&str>, error: StoreError) -> StoreError {
    let Some(password) = password else {
        return error;
    };
    let clean = |m: String| m.replace(password, "***");
    match error {
        StoreError::Database(m) => StoreError::Database(clean(m)),
        StoreError::Migration(m) => StoreError::Migration(clean(m)),
        StoreError::Pool(m) => StoreError::Pool(clean(m)),
        other => other,
    }
}

fn get<M: diesel::r2d2::ManageConnection>(pool: &Pool<M>) -> Result<PooledConnection<M>, StoreError> {
    pool.get().map_err(|e| StoreError::Pool(e.to_string()))
}

/// A driver error as one line: what was violated, and the database's own
/// message (never the connection string, which queries do not carry).
pub(crate) fn describe(error: &DieselError) -> String {
    match error {
        DieselError::DatabaseError(kind, info) => {
            let what = match kind {
                DatabaseErrorKind::UniqueViolation => "unique constraint violated: ",
                DatabaseErrorKind::ForeignKeyViolation => "foreign key violated: ",
                DatabaseErrorKind::SerializationFailure => "serialization failure: ",
                _ => "",
            };
            format!("{what}{}", info.message())
        }
        other => other.to_string(),
    }
}

/// Is this the database refusing a duplicate?
pub(crate) fn is_unique_violation(error: &DieselError) -> bool {
    matches!(error, DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_select_the_backend() {
        assert_eq!(
            parse_url("postgres://u:p@h/db").unwrap(),
            Location::Postgres("postgres://u:p@h/db".into())
        );
        assert!(matches!(parse_url("postgresql://h/db").unwrap(), Location::Postgres(_)));
        assert_eq!(
            parse_url("sqlite://data/app.db").unwrap(),
            Location::Sqlite("data/app.db".into())
        );
        assert_eq!(
            parse_url("sqlite:///var/app.db").unwrap(),
            Location::Sqlite("/var/app.db".into())
        );
        assert_eq!(parse_url("sqlite:app.db").unwrap(), Location::Sqlite("app.db".into()));
        assert_eq!(
            parse_url(" data/app.db ").unwrap(),
            Location::Sqlite("data/app.db".into())
        );
        assert_eq!(
            parse_url("d\u{e9}j\u{e0}.db").unwrap(),
            Location::Sqlite("d\u{e9}j\u{e0}.db".into())
        );
    }

    #[test]
    fn bad_urls_are_refused() {
        for url in ["", "sqlite://", ":memory:", "mysql://u:hunter2@h/db"] {
            let error = parse_url(url).unwrap_err();
            assert!(matches!(error, StoreError::InvalidUrl(_)), "{url}");
            assert!(!error.to_string().contains("hunter2"), "{error}");
        }
    }

    #[test]
    fn redaction_hides_the_password_only() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/pay"),
            "postgres://app:***@db:5432/pay"
        );
        assert_eq!(redact_url("postgres://app@db/pay"), "postgres://app@db/pay");
    }
}
