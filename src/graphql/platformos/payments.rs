//! platformOS field names on every model's record type, beside payforms'
//! camelCase ones: `created_at`, `updated_at`, `properties` (the snake_case
//! hash); and on `modules/payments/payment` the Payment fields of
//! platformOS's "Integrating Stripe" guide: `total_amount_cents` (the
//! amount in minor units) and `payer` (the payment's customer record).

use std::sync::Arc;

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, Object, TypeRef};
use async_graphql::{Name, Value as GqlValue};
use serde_json::{json, Map, Value};

use crate::db::schema::{ModelType, PropertyType};
use crate::db::Store;
use crate::graphql::errors::from_store;
use crate::graphql::model_schema::ModelSchema;
use crate::graphql::values::{key_field, to_graphql, to_json, MAP};

pub const PAYER: &str = "PlatformosPayer";
pub const PAYMENT_MODEL: &str = "modules/payments/payment";
pub const CUSTOMER_MODEL: &str = "modules/payments/customer";

pub fn type_names() -> [&'static str; 1] {
    [PAYER]
}

pub fn payer_type() -> Object {
    Object::new(PAYER)
        .description("Who paid: the payment's customer record.")
        .field(key_field("id", TypeRef::named_nn(TypeRef::ID)))
        .field(key_field("email", TypeRef::named(TypeRef::STRING)))
        .field(key_field("name", TypeRef::named(TypeRef::STRING)))
}

/// A field of the parent record object, read from its camelCase key.
fn renamed(name: &str, key: &str, ty: TypeRef) -> Field {
    let key = Name::new(key);
    Field::new(name, ty, move |ctx| {
        let value = match ctx.parent_value.as_value() {
            Some(GqlValue::Object(object)) => object.get(&key).cloned(),
            _ => None,
        };
        FieldFuture::Value(value.filter(|v| !matches!(v, GqlValue::Null)).map(FieldValue::value))
    })
}

/// The fields to add to `plan`'s record type; `customer` is the customer
/// model when the app has it. A name a property already takes is skipped.
pub fn record_fields(plan: &Arc<ModelSchema>, customer: Option<Arc<ModelType>>, store: &Store) -> Vec<Field> {
    let taken = |name: &str| plan.fields.iter().any(|f| f.graphql == name);
    let mut fields = vec![
        renamed("created_at", "createdAt", TypeRef::named_nn(TypeRef::STRING)),
        renamed("updated_at", "updatedAt", TypeRef::named_nn(TypeRef::STRING)),
    ];
    if !taken("properties") {
        fields.push(properties_field(plan));
    }
    if plan.model.name != PAYMENT_MODEL {
        return fields;
    }
    let amount = plan
        .fields
        .iter()
        .find(|f| f.property == "amount" && f.kind == PropertyType::Integer);
    if let (Some(amount), false) = (amount, taken("total_amount_cents")) {
        fields.push(
            renamed("total_amount_cents", &amount.graphql, TypeRef::named(TypeRef::INT))
                .description("The amount in minor units (platformOS's Payment)."),
        );
    }
    let customer_key = plan.fields.iter().find(|f| f.property == "customer_id");
    if let (Some(customer), Some(key), false) = (customer, customer_key, taken("payer")) {
        fields.push(payer_field(customer, &key.graphql, store));
    }
    fields
}

/// `properties`: the record's properties by schema name.
fn properties_field(plan: &Arc<ModelSchema>) -> Field {
    let plan = plan.clone();
    Field::new("properties", TypeRef::named_nn(MAP), move |ctx| {
        let hash = match ctx.parent_value.as_value() {
            Some(GqlValue::Object(object)) => plan
                .fields
                .iter()
                .map(|f| {
                    let value = object.get(&Name::new(&f.graphql)).map(to_json).unwrap_or(Value::Null);
                    (f.property.clone(), value)
                })
                .collect::<Map<String, Value>>(),
            _ => Map::new(),
        };
        FieldFuture::Value(Some(FieldValue::value(to_graphql(Value::Object(hash)))))
    })
    .description("The record's properties by their schema (snake_case) names, as platformOS gives them.")
}

/// `payer { email name }`: the customer record whose `gateway_id` is the
/// payment's `customer_id`, in the request's store; null without one.
fn payer_field(customer: Arc<ModelType>, customer_key: &str, store: &Store) -> Field {
    let (key, store) = (Name::new(customer_key), store.clone());
    Field::new("payer", TypeRef::named(PAYER), move |ctx| {
        let customer_id = match ctx.parent_value.as_value() {
            Some(GqlValue::Object(object)) => match object.get(&key) {
                Some(GqlValue::String(id)) if !id.is_empty() => Some(id.clone()),
                _ => None,
            },
            _ => None,
        };
        let result = match customer_id {
            None => Ok(None),
            Some(id) => {
                let matching = match json!({ "gateway_id": id }) {
                    Value::Object(map) => map,
                    _ => Map::new(),
                };
                crate::graphql::store_for(&ctx, &store)
                    .find_record(&customer, &matching)
                    .map_err(|e| from_store(e, &str::to_string))
                    .map(|found| {
                        found.map(|record| {
                            let text = |name: &str| record.properties.get(name).cloned().unwrap_or(Value::Null);
                            FieldValue::value(to_graphql(json!({
                                "id": record.id.to_string(),
                                "email": text("email"),
                                "name": text("name"),
                            })))
                        })
                    })
            }
        };
        FieldFuture::new(futures::future::ready(result))
    })
    .description("The payment's customer (by its Stripe id), or null.")
}
