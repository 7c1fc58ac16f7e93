//! The records store: SQLite (default, a file) or PostgreSQL through diesel.
//!
//! Records of every model live in one table; a side table of typed values
//! makes filtering use an index, and a side table of unique values lets the
//! database enforce `unique: true`. Diesel is synchronous: call the store
//! from blocking threads.

pub mod model_type;
pub mod models;
pub mod query;

use serde_json::{Map, Value};

use crate::error::FieldError;
use model_type::ModelType;
pub use models::record::Record;
use query::{Filter, RecordPage, RecordQuery};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Field-level problems; nothing was written.
    #[error("{}", join_fields(.0))]
    Validation(Vec<FieldError>),
    #[error("{model} {id} not found")]
    NotFound { model: String, id: i64 },
    #[error("unknown model `{0}`")]
    UnknownModel(String),
    /// A database failure; never contains connection secrets.
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

#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

impl Store {
    /// `postgres://..`/`postgresql://..` for PostgreSQL; `sqlite://PATH` or a
    /// bare path for a SQLite file.
    pub fn connect(database_url: &str) -> Result<Store, StoreError> {
        let backend = if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        Ok(Store { backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn migrate(&self) -> Result<(), StoreError> {
        Err(StoreError::Database("not implemented yet".into()))
    }

    pub fn ping(&self) -> Result<(), StoreError> {
        Err(StoreError::Database("not implemented yet".into()))
    }

    pub fn create_record(&self, model: &ModelType, properties: Map<String, Value>) -> Result<Record, StoreError> {
        let _ = (model, properties);
        Err(StoreError::Database("not implemented yet".into()))
    }

    /// Merge `properties` into the record's.
    pub fn update_record(&self, model: &ModelType, id: i64, properties: Map<String, Value>) -> Result<Record, StoreError> {
        let _ = (model, id, properties);
        Err(StoreError::Database("not implemented yet".into()))
    }

    /// Update the first record whose properties equal `matching`, or create one; atomic.
    pub fn upsert_record(
        &self,
        model: &ModelType,
        matching: &Map<String, Value>,
        properties: Map<String, Value>,
    ) -> Result<Record, StoreError> {
        let _ = (model, matching, properties);
        Err(StoreError::Database("not implemented yet".into()))
    }

    pub fn delete_record(&self, model: &ModelType, id: i64) -> Result<Record, StoreError> {
        let _ = (model, id);
        Err(StoreError::Database("not implemented yet".into()))
    }

    pub fn get_record(&self, model: &ModelType, id: i64) -> Result<Option<Record>, StoreError> {
        let _ = (model, id);
        Err(StoreError::Database("not implemented yet".into()))
    }

    pub fn find_record(&self, model: &ModelType, matching: &Map<String, Value>) -> Result<Option<Record>, StoreError> {
        let _ = (model, matching);
        Err(StoreError::Database("not implemented yet".into()))
    }

    pub fn query_records(&self, model: &ModelType, query: &RecordQuery) -> Result<RecordPage, StoreError> {
        let _ = (model, query);
        Err(StoreError::Database("not implemented yet".into()))
    }

    pub fn count_records(&self, model: &ModelType, filters: &[Filter]) -> Result<i64, StoreError> {
        let _ = (model, filters);
        Err(StoreError::Database("not implemented yet".into()))
    }
}
