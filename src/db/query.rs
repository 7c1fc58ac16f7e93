//! What a caller asks of the records of one model: filters, order and a
//! Relay-style page (`first/after`, `last/before`) with opaque cursors.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

pub(crate) use super::models::record::timestamp_text;
use super::models::record::Record;
use super::StoreError;
use crate::environment::Environment;

/// Page size when neither `first` nor `last` is given.
pub const DEFAULT_PAGE_SIZE: usize = 10;
/// Largest page a caller may ask for.
pub const MAX_PAGE_SIZE: usize = 250;
/// Largest `offset`: deeper pages are refused (an offset reads and drops
/// every row before it).
pub const MAX_OFFSET: usize = 100_000;

#[derive(Debug, Clone, Default)]
pub struct RecordQuery {
    pub filters: Vec<Filter>,
    pub order: Order,
    pub first: Option<usize>,
    pub after: Option<String>,
    pub last: Option<usize>,
    pub before: Option<String>,
    /// The environment whose records to read (the `livemode` column);
    /// `None` is the store's active environment. One query never mixes
    /// test and live records.
    pub environment: Option<Environment>,
    /// Records to skip before the page (platformOS's `page`/`per_page`),
    /// instead of a cursor; with it, `first` is the page size and
    /// `after`/`before`/`last` must be absent.
    pub offset: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct Filter {
    /// A property of the model, or `id`.
    pub property: String,
    pub op: FilterOp,
}

impl Filter {
    pub fn new(property: impl Into<String>, op: FilterOp) -> Filter {
        Filter {
            property: property.into(),
            op,
        }
    }
}

/// `Ne` matches records whose property differs or is missing/null.
/// `Exists(true)` matches records where the property is present and not null.
#[derive(Debug, Clone)]
pub enum FilterOp {
    Eq(Value),
    Ne(Value),
    In(Vec<Value>),
    Gt(Value),
    Gte(Value),
    Lt(Value),
    Lte(Value),
    Exists(bool),
    /// A string property containing the text (case-sensitive).
    Contains(String),
}

#[derive(Debug, Clone)]
pub struct Order {
    pub field: OrderField,
    pub descending: bool,
}

/// Newest first.
impl Default for Order {
    fn default() -> Self {
        Order {
            field: OrderField::CreatedAt,
            descending: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderField {
    Id,
    CreatedAt,
    UpdatedAt,
    /// Records without the property come last in ascending order.
    Property(String),
}

impl OrderField {
    /// How a cursor names the order it was made for.
    fn tag(&self) -> String {
        match self {
            OrderField::Id => "id".into(),
            OrderField::CreatedAt => "created_at".into(),
            OrderField::UpdatedAt => "updated_at".into(),
            OrderField::Property(name) => format!("p:{name}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RecordPage {
    pub records: Vec<Record>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
    /// Records matching the filters, all pages together.
    pub total_count: i64,
}

/// The position of `record` in `order`, as an opaque string.
pub fn cursor_of(record: &Record, order: &Order) -> String {
    let value = match &order.field {
        OrderField::Id => Value::Null,
        OrderField::CreatedAt => json!(timestamp_text(record.created_at)),
        OrderField::UpdatedAt => json!(timestamp_text(record.updated_at)),
        OrderField::Property(name) => record.properties.get(name).cloned().unwrap_or(Value::Null),
    };
    let payload = json!({ "o": order.field.tag(), "v": value, "id": record.id });
    URL_SAFE_NO_PAD.encode(payload.to_string())
}

/// A decoded cursor: the sort value (raw, as in the record) and the id.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Position {
    pub value: Value,
    pub id: i64,
}

impl Position {
    pub(crate) fn timestamp(&self) -> Result<DateTime<Utc>, StoreError> {
        self.value
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| StoreError::InvalidCursor("the cursor's time is malformed".into()))
    }
}

/// Decode `cursor`, which must have been made for `order`.
pub(crate) fn decode_cursor(cursor: &str, order: &Order) -> Result<Position, StoreError> {
    let invalid = |why: &str| StoreError::InvalidCursor(why.to_string());
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| invalid("the cursor is not one this server made"))?;
    let payload: Value =
        serde_json::from_slice(&bytes).map_err(|_| invalid("the cursor is not one this server made"))?;
    if payload["o"].as_str() != Some(order.field.tag().as_str()) {
        return Err(invalid("the cursor was made for another order"));
    }
    let id = payload["id"]
        .as_i64()
        .ok_or_else(|| invalid("the cursor has no record id"))?;
    Ok(Position {
        value: payload["v"].clone(),
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::Map;

    fn record(id: i64, properties: Value) -> Record {
        Record {
            id,
            model: "payment".into(),
            properties: match properties {
                Value::Object(map) => map,
                _ => Map::new(),
            },
            created_at: Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap(),
            updated_at: Utc.with_ymd_and_hms(2024, 5, 2, 12, 0, 0).unwrap(),
            livemode: false,
            merchant: crate::merchant_id::MerchantId::default(),
        }
    }

    #[test]
    fn cursor_round_trips_for_each_order() {
        let r = record(42, json!({"amount": 599, "note": "caf\u{e9}"}));
        let orders = [
            (OrderField::Id, Value::Null),
            (OrderField::CreatedAt, json!("2024-05-01T12:00:00.000000Z")),
            (OrderField::UpdatedAt, json!("2024-05-02T12:00:00.000000Z")),
            (OrderField::Property("amount".into()), json!(599)),
            (OrderField::Property("note".into()), json!("caf\u{e9}")),
            (OrderField::Property("absent".into()), Value::Null),
        ];
        for (field, value) in orders {
            let order = Order {
                field,
                descending: false,
            };
            let position = decode_cursor(&cursor_of(&r, &order), &order).unwrap();
            assert_eq!(position, Position { value, id: 42 });
        }
    }

    #[test]
    fn cursor_for_another_order_is_refused() {
        let r = record(1, json!({}));
        let cursor = cursor_of(&r, &Order::default());
        let other = Order {
            field: OrderField::Id,
            descending: true,
        };
        assert!(matches!(
            decode_cursor(&cursor, &other),
            Err(StoreError::InvalidCursor(_))
        ));
    }

    #[test]
    fn garbage_cursors_are_refused() {
        for cursor in [
            "",
            "!!!",
            "bm90IGpzb24",
            &URL_SAFE_NO_PAD.encode(r#"{"o":"created_at"}"#),
        ] {
            assert!(
                matches!(
                    decode_cursor(cursor, &Order::default()),
                    Err(StoreError::InvalidCursor(_))
                ),
                "{cursor}"
            );
        }
    }

    #[test]
    fn default_order_is_newest_first() {
        let order = Order::default();
        assert_eq!(order.field, OrderField::CreatedAt);
        assert!(order.descending);
    }
}
