//! A record: one row of its model's table, properties typed by the model.
//! (`RecordRow` reads the legacy `records` table, to copy it.)

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use diesel::sql_types::{BigInt, Text, Timestamp};
use diesel::QueryableByName;
use serde_json::{Map, Value};

use crate::db::schema::ModelType;
use crate::db::StoreError;
use crate::merchant_id::MerchantId;

#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct Record {
    pub id: i64,
    /// Full model name, e.g. `modules/payments/payment`.
    pub model: String,
    pub properties: Map<String, Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Written in live mode (true) or test mode; set once, on create, from
    /// the writing instance's environment.
    pub livemode: bool,
    /// The merchant the record belongs to; set once, on create, from the
    /// writing store's merchant.
    pub merchant: MerchantId,
}

impl Record {
    /// `{"id": "12", ...properties, "created_at", "updated_at", "livemode",
    /// "merchant"}`: the id as a string, as platformOS gives it to
    /// templates.
    pub fn to_liquid_json(&self) -> Value {
        let mut object = Map::with_capacity(self.properties.len() + 5);
        object.insert("id".into(), Value::String(self.id.to_string()));
        for (key, value) in &self.properties {
            object.insert(key.clone(), value.clone());
        }
        object.insert("created_at".into(), Value::String(timestamp_text(self.created_at)));
        object.insert("updated_at".into(), Value::String(timestamp_text(self.updated_at)));
        object.insert("livemode".into(), Value::Bool(self.livemode));
        object.insert("merchant".into(), Value::String(self.merchant.to_string()));
        Value::Object(object)
    }
}

/// Timestamps in cursors and JSON: RFC 3339, UTC, microseconds.
pub(crate) fn timestamp_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The columns every record query selects.
pub(crate) const RECORD_COLUMNS: &str =
    "r.id, r.model, CAST(r.properties AS TEXT) AS properties, r.created_at, r.updated_at";

#[derive(QueryableByName, Debug)]
pub(crate) struct RecordRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    model: String,
    #[diesel(sql_type = Text)]
    properties: String,
    #[diesel(sql_type = Timestamp)]
    created_at: NaiveDateTime,
    #[diesel(sql_type = Timestamp)]
    updated_at: NaiveDateTime,
}

impl RecordRow {
    pub(crate) fn id(&self) -> i64 {
        self.id
    }

    /// The record, its properties in the model's order (then any the model
    /// no longer names), so both backends give the same order.
    pub(crate) fn into_record(self, model: &ModelType) -> Result<Record, StoreError> {
        let stored: Map<String, Value> = serde_json::from_str(&self.properties)
            .map_err(|e| StoreError::Database(format!("record {} has malformed properties: {e}", self.id)))?;
        Ok(Record {
            id: self.id,
            model: self.model,
            properties: in_model_order(model, stored),
            created_at: self.created_at.and_utc(),
            updated_at: self.updated_at.and_utc(),
            // Only test keys and one merchant existed before environments.
            livemode: false,
            merchant: MerchantId::default(),
        })
    }
}

pub(crate) fn in_model_order(model: &ModelType, mut properties: Map<String, Value>) -> Map<String, Value> {
    let mut ordered = Map::with_capacity(properties.len());
    for def in &model.properties {
        if let Some(value) = properties.remove(&def.name) {
            ordered.insert(def.name.clone(), value);
        }
    }
    ordered.extend(properties);
    ordered
}

/// Now, at the precision both databases keep (microseconds).
pub(crate) fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}
