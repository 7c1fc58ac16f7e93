//! The records store: SQLite (default, a file) or PostgreSQL through diesel.
//!
//! Records of every model live in one table; a side table of typed values
//! makes filtering use an index, and a side table of unique values lets the
//! database enforce `unique: true`. Diesel is synchronous: call the store
//! from blocking threads.

mod connection;
pub mod models;
pub mod query;
mod records;
pub mod schema;
mod search;
mod sql;
mod typing;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use serde_json::{Map, Value};

use connection::Database;

use crate::error::FieldError;
pub use models::record::Record;
use query::{Filter, RecordPage, RecordQuery};
use schema::ModelType;

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

/// The records store; cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct Store {
    database: Arc<Database>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend()).finish()
    }
}

impl Store {
    /// `postgres://..`/`postgresql://..` for PostgreSQL; `sqlite://PATH`,
    /// `sqlite:PATH` or a bare path for a SQLite file (created if absent).
    pub fn connect(database_url: &str) -> Result<Store, StoreError> {
        Ok(Store {
            database: Arc::new(Database::open(database_url)?),
        })
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

    /// Validate, type and store a new record with its side rows, or write
    /// nothing and say which fields are wrong.
    pub fn create_record(&self, model: &ModelType, properties: Map<String, Value>) -> Result<Record, StoreError> {
        self.database
            .with_transaction(|conn| records::create(conn, model, properties))
    }

    /// Create many records in one transaction: all or none.
    pub fn create_records(&self, model: &ModelType, batch: Vec<Map<String, Value>>) -> Result<Vec<Record>, StoreError> {
        self.database.with_transaction(|conn| {
            batch
                .into_iter()
                .map(|properties| records::create(conn, model, properties))
                .collect()
        })
    }

    /// Merge `properties` into the record's (`null` removes a property).
    pub fn update_record(
        &self,
        model: &ModelType,
        id: i64,
        properties: Map<String, Value>,
    ) -> Result<Record, StoreError> {
        self.database
            .with_transaction(|conn| records::update(conn, model, id, properties))
    }

    /// Update the first record (oldest) whose properties equal `matching`,
    /// or create one from `matching` plus `properties`; atomic. An empty
    /// `matching` always creates.
    pub fn upsert_record(
        &self,
        model: &ModelType,
        matching: &Map<String, Value>,
        properties: Map<String, Value>,
    ) -> Result<Record, StoreError> {
        self.database
            .with_transaction(|conn| records::upsert(conn, model, matching, properties))
    }

    /// Upsert unless the existing record satisfies `keep` (checked in the same
    /// transaction as the write). Returns the record and whether it was written.
    pub fn upsert_record_unless(
        &self,
        model: &ModelType,
        matching: &Map<String, Value>,
        properties: Map<String, Value>,
        keep: &dyn Fn(&Record) -> bool,
    ) -> Result<(Record, bool), StoreError> {
        self.database
            .with_transaction(|conn| records::upsert_unless(conn, model, matching, properties, keep))
    }

    /// Delete and return the record.
    pub fn delete_record(&self, model: &ModelType, id: i64) -> Result<Record, StoreError> {
        self.database.with_transaction(|conn| records::delete(conn, model, id))
    }

    pub fn get_record(&self, model: &ModelType, id: i64) -> Result<Option<Record>, StoreError> {
        self.database.with_conn(|conn| records::get(conn, model, id, false))
    }

    /// The first record (oldest) whose properties equal `matching` (`null`
    /// matches an absent property; the key `id` matches the id).
    pub fn find_record(&self, model: &ModelType, matching: &Map<String, Value>) -> Result<Option<Record>, StoreError> {
        self.database.with_conn(|conn| records::find(conn, model, matching))
    }

    /// One Relay page of records; see [`RecordQuery`].
    pub fn query_records(&self, model: &ModelType, query: &RecordQuery) -> Result<RecordPage, StoreError> {
        self.database.with_conn(|conn| search::page(conn, model, query))
    }

    pub fn count_records(&self, model: &ModelType, filters: &[Filter]) -> Result<i64, StoreError> {
        self.database.with_conn(|conn| search::count(conn, model, filters))
    }

    pub(crate) fn database(&self) -> &Database {
        &self.database
    }
}
