//! The records store: SQLite (default, a file) or PostgreSQL through diesel.
//!
//! Each model has its own table (`payment`, `customer`, ...) with a typed
//! column per property, planned from the schema files by [`migrate`]; every
//! write goes through [`write::RecordWrite`] and the model's declared rules.
//! Diesel is synchronous: call the store from blocking threads.

pub mod aggregate;
pub mod claims;
mod connection;
mod group_commit;
pub mod migrate;
pub mod models;
pub mod query;
mod records;
pub mod schema;
mod search;
mod sql;
mod tables;
mod typing;
pub mod write;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use serde_json::{Map, Value};

use connection::Database;

use crate::environment::Environment;
use crate::error::FieldError;
use crate::merchant_id::MerchantId;
use migrate::{MigrateError, MigrateOptions, MigrationReport};
pub use models::record::Record;
use query::{Filter, RecordPage, RecordQuery};
use schema::ModelType;
use write::{RecordWrite, Target, WriteResult};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Field-level problems; nothing was written.
    #[error("{}", join_fields(.0))]
    Validation(Vec<FieldError>),
    #[error("{model} {id} not found")]
    NotFound { model: String, id: i64 },
    #[error("unknown model `{0}`")]
    UnknownModel(String),
    /// A query failed; the driver's error is kept as the source.
    #[error("database error: {}", connection::describe(.0))]
    Query(#[from] diesel::result::Error),
    /// Stored data payforms cannot read back; never contains connection
    /// secrets.
    #[error("database error: {0}")]
    Database(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("connection pool: {0}")]
    Pool(String),
    #[error("invalid cursor: {0}")]
    InvalidCursor(String),
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
}

fn join_fields(errors: &[FieldError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Which rows a query may see and a create writes: one environment
/// (`livemode`) of one merchant. Every record query filters on both.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Partition<'a> {
    pub livemode: bool,
    pub merchant: &'a MerchantId,
}

/// The records store; cheap to clone (the pool is shared).
///
/// A store works in one environment (test unless set with
/// [`Store::with_environment`] when the instance starts) for one merchant
/// (the default one unless set with [`Store::with_merchant`]): records it
/// creates carry that environment's `livemode` and that `merchant`, and its
/// reads, updates, deletes, keyed writes and claims see only that
/// environment's records of that merchant (a [`RecordQuery`] may name the
/// other environment to read it, never another merchant).
#[derive(Clone)]
pub struct Store {
    database: Arc<Database>,
    environment: Environment,
    merchant: MerchantId,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .field("environment", &self.environment)
            .field("merchant", &self.merchant)
            .finish()
    }
}

impl Store {
    /// `postgres://..`/`postgresql://..` for PostgreSQL; `sqlite://PATH`,
    /// `sqlite:PATH` or a bare path for a SQLite file (created if absent).
    pub fn connect(database_url: &str) -> Result<Store, StoreError> {
        Ok(Store {
            database: Arc::new(Database::open(database_url)?),
            environment: Environment::default(),
            merchant: MerchantId::default(),
        })
    }

    /// The same database, working in `environment` (the instance's active
    /// one).
    pub fn with_environment(mut self, environment: Environment) -> Store {
        self.environment = environment;
        self
    }

    /// The environment this store writes and reads.
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// The same database, working for `merchant`: it creates that
    /// merchant's records and sees no other's.
    pub fn with_merchant(mut self, merchant: MerchantId) -> Store {
        self.merchant = merchant;
        self
    }

    /// The merchant this store writes and reads for.
    pub fn merchant(&self) -> &MerchantId {
        &self.merchant
    }

    fn livemode(&self) -> bool {
        self.environment.livemode()
    }

    fn partition(&self) -> Partition<'_> {
        Partition {
            livemode: self.livemode(),
            merchant: &self.merchant,
        }
    }

    /// The store's merchant in `environment`.
    fn partition_in(&self, environment: Environment) -> Partition<'_> {
        Partition {
            livemode: environment.livemode(),
            merchant: &self.merchant,
        }
    }

    pub fn backend(&self) -> Backend {
        self.database.backend()
    }

    /// Apply pending migrations (embedded in the binary).
    pub fn migrate(&self) -> Result<(), StoreError> {
        self.database.migrate()
    }

    /// A round trip to the database, for health checks.
    pub fn ping(&self) -> Result<(), StoreError> {
        self.database.with_conn(|conn| {
            conn.load::<sql::IntRow>(conn.sql("SELECT CAST(1 AS BIGINT) AS n"))?;
            Ok(())
        })
    }

    /// Bring the models' tables in line with their schema files; see
    /// [`migrate`]. Refused changes come back as file:line problems and
    /// nothing is changed.
    pub fn migrate_models(
        &self,
        models: &[&ModelType],
        options: MigrateOptions,
    ) -> Result<MigrationReport, MigrateError> {
        let result = self
            .database
            .with_transaction(|conn| match migrate::run(conn, models, options) {
                Ok(report) => Ok(Ok(report)),
                Err(MigrateError::Refused(problems)) => Ok(Err(problems)),
                Err(MigrateError::Store(e)) => Err(e),
            });
        match result {
            Ok(Ok(report)) => Ok(report),
            Ok(Err(problems)) => Err(MigrateError::Refused(problems)),
            Err(e) => Err(MigrateError::Store(e)),
        }
    }

    /// Run one write in one transaction, with the model's rules; the one
    /// way records change.
    pub fn write(&self, model: &ModelType, write: RecordWrite) -> Result<WriteResult, StoreError> {
        let partition = self.partition();
        self.database
            .with_transaction(|conn| write::execute(conn, model, write, partition))
    }

    /// Create a record (null properties are not given).
    pub fn create_record(&self, model: &ModelType, properties: Map<String, Value>) -> Result<Record, StoreError> {
        self.write(model, RecordWrite::create(properties))?
            .into_record()
            .ok_or_else(|| StoreError::Database("a create wrote nothing".into()))
    }

    /// Create many records in one transaction: all or none.
    pub fn create_records(&self, model: &ModelType, batch: Vec<Map<String, Value>>) -> Result<Vec<Record>, StoreError> {
        let partition = self.partition();
        self.database.with_transaction(|conn| {
            batch
                .into_iter()
                .map(
                    |properties| match write::execute(conn, model, RecordWrite::create(properties), partition)? {
                        WriteResult::Created(record) => Ok(record),
                        _ => Err(StoreError::Database("a create wrote nothing".into())),
                    },
                )
                .collect()
        })
    }

    /// Merge `properties` into the record's (`null` removes a property).
    /// A write the model's rules refuse leaves the record as it is.
    pub fn update_record(
        &self,
        model: &ModelType,
        id: i64,
        properties: Map<String, Value>,
    ) -> Result<Record, StoreError> {
        self.write(model, RecordWrite::update(Target::Id(id), properties).nulls_clear())?
            .into_record()
            .ok_or_else(|| records::not_found(model, id))
    }

    /// Delete and return the record.
    pub fn delete_record(&self, model: &ModelType, id: i64) -> Result<Record, StoreError> {
        self.write(model, RecordWrite::delete(Target::Id(id)))?
            .into_record()
            .ok_or_else(|| records::not_found(model, id))
    }

    /// Refresh the planner's statistics of a model's table (after a bulk
    /// load; the database does it by itself over time).
    pub fn analyze(&self, model: &ModelType) -> Result<(), StoreError> {
        let statement = format!("ANALYZE {}", tables::quoted(model.table()));
        self.database.with_conn(|conn| Ok(conn.batch(&statement)?))
    }

    /// The record `id` of the store's environment and merchant (another
    /// environment's or merchant's record is `None`).
    pub fn get_record(&self, model: &ModelType, id: i64) -> Result<Option<Record>, StoreError> {
        self.get_record_in(model, id, self.environment)
    }

    /// The record `id` if it belongs to `environment` (and the store's
    /// merchant).
    pub fn get_record_in(
        &self,
        model: &ModelType,
        id: i64,
        environment: Environment,
    ) -> Result<Option<Record>, StoreError> {
        self.database
            .with_conn(|conn| records::get(conn, model, id, false, self.partition_in(environment)))
    }

    /// The first record (oldest) of the store's environment and merchant whose properties
    /// equal `matching` (`null` matches an absent property; the key `id`
    /// matches the id).
    pub fn find_record(&self, model: &ModelType, matching: &Map<String, Value>) -> Result<Option<Record>, StoreError> {
        let partition = self.partition();
        self.database
            .with_conn(|conn| records::find(conn, model, matching, false, partition))
    }

    /// One Relay page of the store's merchant's records of the query's
    /// environment (the store's unless it names one); see [`RecordQuery`].
    pub fn query_records(&self, model: &ModelType, query: &RecordQuery) -> Result<RecordPage, StoreError> {
        let partition = self.partition_in(query.environment.unwrap_or(self.environment));
        self.database
            .with_conn(|conn| search::page(conn, model, query, partition))
    }

    /// Counts (and sums) per UTC day of the records `query` selects: its
    /// filters over all pages, in the same environment and merchant as
    /// [`Store::query_records`]; see [`aggregate`].
    pub fn day_totals(
        &self,
        model: &ModelType,
        query: &RecordQuery,
        totals: &aggregate::DayTotalsQuery,
    ) -> Result<Vec<aggregate::DayTotal>, StoreError> {
        let partition = self.partition_in(query.environment.unwrap_or(self.environment));
        self.database
            .with_conn(|conn| aggregate::per_day(conn, model, &query.filters, partition, totals))
    }

    /// Records of the store's environment and merchant matching `filters`.
    pub fn count_records(&self, model: &ModelType, filters: &[Filter]) -> Result<i64, StoreError> {
        let partition = self.partition();
        self.database
            .with_conn(|conn| search::count(conn, model, filters, partition))
    }

    /// Claim due records for a background loop (see [`claims`]): several
    /// instances on one database never claim the same record.
    pub fn claim_due_records(&self, model: &ModelType, claim: &claims::Claim<'_>) -> Result<Vec<Record>, StoreError> {
        let partition = self.partition();
        self.database
            .with_transaction(|conn| claims::claim_due(conn, model, claim, chrono::Utc::now(), partition))
    }

    pub(crate) fn database(&self) -> &Database {
        &self.database
    }
}

#[cfg(test)]
impl Store {
    /// Moves records to other creation times (no write path sets
    /// `created_at`), for tests of time filters and day totals.
    pub(crate) fn set_created_at_for_tests(
        &self,
        model: &ModelType,
        times: &[(i64, chrono::DateTime<chrono::Utc>)],
    ) -> Result<(), StoreError> {
        self.database.with_transaction(|conn| {
            for (id, time) in times {
                let mut sql = conn.sql(&format!(
                    "UPDATE {} SET \"created_at\" = ",
                    tables::quoted(model.table())
                ));
                sql.bind(sql::Arg::Instant(Some(*time)))
                    .push(" WHERE \"id\" = ")
                    .bind(sql::Arg::Int(*id));
                conn.execute(sql)?;
            }
            Ok(())
        })
    }
}
