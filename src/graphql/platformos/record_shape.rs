//! How platformOS shows a record: `id table created_at updated_at
//! deleted_at properties` (a hash of the schema's snake_case names),
//! `property(name:)`, and the customizations' `user` (payforms has no
//! platformOS users: always null); and a page of them.

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, Object, TypeRef};
use async_graphql::{Name, Value as GqlValue};
use serde_json::{json, Map, Value};

use crate::db::query::RecordPage;
use crate::db::schema::ModelType;
use crate::db::Record;
use crate::graphql::paging::Paging;
use crate::graphql::values::{key_field, time_text, to_graphql, typed_output, MAP};

pub const RECORD: &str = "PlatformosRecord";
pub const COLLECTION: &str = "PlatformosRecordCollection";
pub const USER: &str = "PlatformosUser";

pub fn type_names() -> [&'static str; 3] {
    [RECORD, COLLECTION, USER]
}

pub fn objects() -> Vec<Object> {
    let record = Object::new(RECORD)
        .description("A record as platformOS shows it (records, customizations).")
        .field(key_field("id", TypeRef::named_nn(TypeRef::ID)))
        .field(key_field("table", TypeRef::named_nn(TypeRef::STRING)).description("The model's full name."))
        .field(
            key_field("name", TypeRef::named_nn(TypeRef::STRING))
                .description("The model's full name (customizations)."),
        )
        .field(key_field("created_at", TypeRef::named_nn(TypeRef::STRING)))
        .field(key_field("updated_at", TypeRef::named_nn(TypeRef::STRING)))
        .field(
            key_field("deleted_at", TypeRef::named(TypeRef::STRING))
                .description("Always null: payforms deletes records, it keeps no deleted ones."),
        )
        .field(
            key_field("properties", TypeRef::named_nn(MAP))
                .description("The record's properties by their schema (snake_case) names."),
        )
        .field(property_field())
        .field(
            key_field("user", TypeRef::named(USER))
                .description("Always null: payforms has no platformOS users owning records."),
        );
    let user = Object::new(USER)
        .field(key_field("id", TypeRef::named(TypeRef::ID)))
        .field(key_field("name", TypeRef::named(TypeRef::STRING)))
        .field(key_field("email", TypeRef::named(TypeRef::STRING)));
    let collection = Object::new(COLLECTION)
        .field(key_field("results", TypeRef::named_nn_list_nn(RECORD)))
        .field(key_field("total_entries", TypeRef::named_nn(TypeRef::INT)))
        .field(key_field("total_pages", TypeRef::named_nn(TypeRef::INT)))
        .field(key_field("current_page", TypeRef::named_nn(TypeRef::INT)))
        .field(key_field("per_page", TypeRef::named_nn(TypeRef::INT)))
        .field(key_field("has_next_page", TypeRef::named_nn(TypeRef::BOOLEAN)))
        .field(key_field("has_previous_page", TypeRef::named_nn(TypeRef::BOOLEAN)));
    vec![record, user, collection]
}

/// `property(name: "gateway_id")`: one property as text, as platformOS
/// gives it (numbers and booleans as their text, JSON as JSON text).
fn property_field() -> Field {
    Field::new("property", TypeRef::named(TypeRef::STRING), |ctx| {
        let text = ctx.args.get("name").and_then(|name| {
            let name = name.string().ok()?;
            match ctx.parent_value.as_value() {
                Some(GqlValue::Object(record)) => match record.get(&Name::new("properties")) {
                    Some(GqlValue::Object(properties)) => properties.get(&Name::new(name)).and_then(as_text),
                    _ => None,
                },
                _ => None,
            }
        });
        FieldFuture::Value(text.map(|t| FieldValue::value(GqlValue::String(t))))
    })
    .argument(InputValue::new("name", TypeRef::named_nn(TypeRef::STRING)))
}

fn as_text(value: &GqlValue) -> Option<String> {
    match value {
        GqlValue::Null => None,
        GqlValue::String(s) => Some(s.clone()),
        GqlValue::Number(n) => Some(n.to_string()),
        GqlValue::Boolean(b) => Some(b.to_string()),
        other => other.clone().into_json().ok().map(|v| v.to_string()),
    }
}

/// The record's declared properties, typed, by snake_case name (null when
/// unset).
pub fn properties_hash(model: &ModelType, record: &Record) -> Map<String, Value> {
    model
        .properties
        .iter()
        .map(|property| {
            let value = record
                .properties
                .get(&property.name)
                .and_then(|v| typed_output(property.kind, v))
                .unwrap_or(Value::Null);
            (property.name.clone(), value)
        })
        .collect()
}

pub fn record_value(model: &ModelType, record: &Record) -> Value {
    json!({
        "id": record.id.to_string(),
        "table": model.name,
        "name": model.name,
        "created_at": time_text(record.created_at),
        "updated_at": time_text(record.updated_at),
        "properties": properties_hash(model, record),
    })
}

/// A page as `PlatformosRecordCollection`.
pub fn collection_value(model: &ModelType, page: &RecordPage, paging: &Paging) -> GqlValue {
    let mut map = paging.summary(page);
    map.insert(
        "results".into(),
        Value::Array(page.records.iter().map(|r| record_value(model, r)).collect()),
    );
    to_graphql(Value::Object(map))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn properties_are_typed_by_snake_case_name() {
        let model = ModelType::parse(
            Path::new("schema/order.yml"),
            "order",
            "name: order\nproperties:\n  - { name: total_cents, type: integer }\n  - { name: note, type: string }\n  - { name: paid, type: boolean }\n",
        )
        .expect("the schema parses");
        let record = Record {
            id: 7,
            model: "order".into(),
            properties: match json!({"total_cents": "599", "paid": true}) {
                Value::Object(map) => map,
                _ => Map::new(),
            },
            created_at: chrono::DateTime::from_timestamp(0, 0).unwrap_or_default(),
            updated_at: chrono::DateTime::from_timestamp(0, 0).unwrap_or_default(),
            livemode: false,
            merchant: crate::merchant_id::MerchantId::default(),
        };
        let value = record_value(&model, &record);
        assert_eq!(value["id"], json!("7"));
        assert_eq!(value["table"], json!("order"));
        assert_eq!(
            value["properties"],
            json!({"total_cents": 599, "note": null, "paid": true})
        );
        assert_eq!(
            as_text(&GqlValue::from_json(json!(599)).unwrap_or_default()),
            Some("599".into())
        );
        assert_eq!(as_text(&GqlValue::Null), None);
    }
}
