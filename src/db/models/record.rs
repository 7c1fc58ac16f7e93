//! A record: one row of the `records` table, properties typed by its model.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::db::query::timestamp_text;

#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct Record {
    pub id: i64,
    /// Full model name, e.g. `modules/payments/payment`.
    pub model: String,
    pub properties: Map<String, Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Record {
    /// `{"id": "12", ...properties, "created_at", "updated_at"}`: the id as a
    /// string, as platformOS gives it to templates.
    pub fn to_liquid_json(&self) -> Value {
        let mut object = Map::with_capacity(self.properties.len() + 3);
        object.insert("id".into(), Value::String(self.id.to_string()));
        for (key, value) in &self.properties {
            object.insert(key.clone(), value.clone());
        }
        object.insert("created_at".into(), Value::String(timestamp_text(self.created_at)));
        object.insert("updated_at".into(), Value::String(timestamp_text(self.updated_at)));
        Value::Object(object)
    }
}
