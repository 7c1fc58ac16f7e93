//! What only the operator may do, for the console's pages: list merchants
//! and API keys, create a key (shown once) and revoke one, replay webhook
//! events, retry a merchant delivery. A request is the operator's when a
//! page renders it for a signed-in operator ([`OperatorSession`], set by
//! the page host from the session, never from request data) or comes with
//! an admin API key; anything else is refused with `FORBIDDEN`.

use std::sync::Arc;

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, Object, ResolverContext, TypeRef};
use async_graphql::Error;
use chrono::Utc;
use serde_json::{json, Map, Value};

use super::callers::{ApiCaller, OperatorSession};
use super::errors::{bad_field, coded, from_store, FORBIDDEN, INTERNAL_SERVER_ERROR};
use super::values::{key_field, time_text, to_graphql, TIME};
use crate::db::models::webhook_event;
use crate::db::schema::ModelType;
use crate::db::Store;
use crate::merchant_id::MerchantId;
use crate::merchants::keys;

const API_KEY: &str = "ApiKey";
const NEW_API_KEY: &str = "NewApiKey";
const MERCHANT: &str = "Merchant";

pub const QUERIES: [&str; 2] = ["apiKeys", "merchants"];
pub const MUTATIONS: [&str; 5] = [
    "createApiKey",
    "revokeApiKey",
    "replayWebhookEvent",
    "replayFailedWebhookEvents",
    "retryMerchantDelivery",
];

pub fn type_names() -> [&'static str; 3] {
    [API_KEY, NEW_API_KEY, MERCHANT]
}

/// The model whose records are merchant deliveries.
pub const DELIVERY_MODEL: &str = "modules/payments/merchant_delivery";

pub fn types() -> Vec<Object> {
    vec![
        Object::new(API_KEY)
            .description("An API key as listed: never the key itself.")
            .field(key_field("keyId", TypeRef::named_nn(TypeRef::STRING)))
            .field(key_field("merchant", TypeRef::named_nn(TypeRef::STRING)))
            .field(key_field("name", TypeRef::named(TypeRef::STRING)))
            .field(key_field("scopes", TypeRef::named_nn_list_nn(TypeRef::STRING)))
            .field(key_field("createdAt", TypeRef::named_nn(TIME)))
            .field(key_field("lastUsedAt", TypeRef::named(TIME)))
            .field(key_field("revokedAt", TypeRef::named(TIME))),
        Object::new(NEW_API_KEY)
            .description("A key just made: `key` is shown this once and kept only as a hash.")
            .field(key_field("key", TypeRef::named_nn(TypeRef::STRING)))
            .field(key_field("apiKey", TypeRef::named_nn(API_KEY))),
        Object::new(MERCHANT)
            .description("A merchant: its id, and whether its keys and webhook URL are set (never the secrets).")
            .field(key_field("id", TypeRef::named_nn(TypeRef::STRING)))
            .field(key_field("name", TypeRef::named_nn(TypeRef::STRING)))
            .field(key_field("hasStripeKey", TypeRef::named_nn(TypeRef::BOOLEAN)))
            .field(key_field("webhookUrl", TypeRef::named(TypeRef::STRING)))
            .field(key_field("createdAt", TypeRef::named_nn(TIME))),
    ]
}

/// The operator's session or an admin key; else `FORBIDDEN`.
fn only_operator(ctx: &ResolverContext<'_>) -> Result<(), Error> {
    let admin_key = matches!(ctx.data_opt::<ApiCaller>(), Some(ApiCaller { admin: true }));
    if admin_key || ctx.data_opt::<OperatorSession>().is_some() {
        Ok(())
    } else {
        Err(coded(
            FORBIDDEN,
            "only the signed-in operator (or an admin API key) may do this",
        ))
    }
}

fn resolve(
    store: &Store,
    name: &str,
    ty: TypeRef,
    run: fn(&Store, &ResolverContext<'_>) -> Result<Value, Error>,
) -> Field {
    let store = store.clone();
    Field::new(name, ty, move |ctx| {
        let result = only_operator(&ctx)
            .and_then(|()| run(&store, &ctx))
            .map(|value| Some(FieldValue::value(to_graphql(value))));
        FieldFuture::new(futures::future::ready(result))
    })
}

pub fn query_fields(store: &Store) -> Vec<Field> {
    vec![
        resolve(store, "apiKeys", TypeRef::named_nn_list_nn(API_KEY), |store, ctx| {
            let merchant = merchant_arg(ctx)?;
            let rows = keys::list(store, merchant.as_ref()).map_err(internal)?;
            Ok(Value::Array(rows.iter().map(api_key_value).collect()))
        })
        .description("API keys, newest first (one merchant's with `merchant`).")
        .argument(InputValue::new("merchant", TypeRef::named(TypeRef::STRING))),
        resolve(store, "merchants", TypeRef::named_nn_list_nn(MERCHANT), |store, _| {
            let rows = crate::db::models::merchant::all(store).map_err(internal)?;
            Ok(Value::Array(
                rows.iter()
                    .map(|row| {
                        json!({
                            "id": row.id,
                            "name": row.name,
                            "hasStripeKey": row.stripe_secret_key_encrypted.is_some(),
                            "webhookUrl": row.webhook_url,
                            "createdAt": time_text(row.created_at),
                        })
                    })
                    .collect(),
            ))
        })
        .description("Every merchant."),
    ]
}

/// `deliveries`: the merchant delivery model, when the app has it.
pub fn mutation_fields(store: &Store, deliveries: Option<Arc<ModelType>>) -> Vec<Field> {
    let mut fields = vec![
        resolve(store, "createApiKey", TypeRef::named_nn(NEW_API_KEY), |store, ctx| {
            let merchant = merchant_arg(ctx)?.unwrap_or_default();
            // One scope may come as a single value (a form with one box ticked).
            let scopes_arg = ctx.args.try_get("scopes")?;
            let scopes_text = match scopes_arg.list() {
                Ok(list) => list
                    .iter()
                    .map(|v| v.string().map(str::to_string))
                    .collect::<Result<Vec<_>, _>>()?
                    .join(","),
                Err(_) => scopes_arg.string()?.to_string(),
            };
            let scopes = keys::parse_scopes(&scopes_text).map_err(|why| bad_field("scopes", why))?;
            let name = match ctx.args.get("name").filter(|v| !v.is_null()) {
                Some(name) => {
                    let name = name.string()?.trim().to_string();
                    if name.chars().count() > 100 || name.chars().any(char::is_control) {
                        return Err(bad_field("name", "must be at most 100 printable characters"));
                    }
                    Some(name).filter(|n| !n.is_empty())
                }
                None => None,
            };
            let (row, key) = keys::create(store, &merchant, &scopes, name.as_deref()).map_err(internal)?;
            Ok(json!({"key": key, "apiKey": api_key_value(&row)}))
        })
        .description("A new API key; the answer holds the key this once.")
        .argument(InputValue::new("merchant", TypeRef::named(TypeRef::STRING)))
        .argument(InputValue::new("scopes", TypeRef::named_nn_list_nn(TypeRef::STRING)))
        .argument(InputValue::new("name", TypeRef::named(TypeRef::STRING))),
        resolve(
            store,
            "revokeApiKey",
            TypeRef::named_nn(TypeRef::BOOLEAN),
            |store, ctx| {
                let key_id = ctx.args.try_get("keyId")?.string()?.to_string();
                if key_id.is_empty()
                    || key_id.len() > 64
                    || !key_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    return Err(bad_field("keyId", "is not a key id"));
                }
                // False for a key already revoked or unknown: a second click is no error.
                Ok(json!(keys::revoke(store, &key_id).map_err(internal)?))
            },
        )
        .description("Revoke a key by its id (the part after `pfk_`); true when it was active, false when not.")
        .argument(InputValue::new("keyId", TypeRef::named_nn(TypeRef::STRING))),
        resolve(
            store,
            "replayWebhookEvent",
            TypeRef::named(TypeRef::STRING),
            |store, ctx| {
                let id = record_id(ctx, "id")?;
                let Some(event) = webhook_event::get(store, id)
                    .map_err(internal)?
                    .filter(|e| e.merchant == *store.merchant())
                else {
                    return Ok(Value::Null);
                };
                webhook_event::requeue(store, event.id).map_err(internal)?;
                Ok(json!(webhook_event::WebhookStatus::Pending.as_str()))
            },
        )
        .description("Queue one stored webhook event to be processed again now; answers its new status, null when there is no such event.")
        .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID))),
        resolve(
            store,
            "replayFailedWebhookEvents",
            TypeRef::named_nn(TypeRef::INT),
            |store, _| {
                // The merchant whose events the console lists.
                let count = webhook_event::requeue_failed(store, Some(store.merchant())).map_err(internal)?;
                Ok(json!(count))
            },
        )
        .description("Queue every failed webhook event to be processed again now; answers how many."),
    ];
    if let Some(model) = deliveries {
        let store = store.clone();
        fields.push(
            Field::new(
                "retryMerchantDelivery",
                TypeRef::named(TypeRef::STRING),
                move |ctx| {
                    let result = only_operator(&ctx)
                        .and_then(|()| retry_delivery(&store, &model, &ctx))
                        .map(|value| Some(FieldValue::value(to_graphql(value))));
                    FieldFuture::new(futures::future::ready(result))
                },
            )
            .description("Send a merchant delivery again now (its attempts start over); answers its new state, null when there is no such delivery.")
            .argument(InputValue::new("id", TypeRef::named_nn(TypeRef::ID))),
        );
    }
    fields
}

fn retry_delivery(store: &Store, model: &ModelType, ctx: &ResolverContext<'_>) -> Result<Value, Error> {
    let id = record_id(ctx, "id")?;
    let mut update = Map::new();
    update.insert("state".into(), json!("pending"));
    update.insert("attempts".into(), json!(0));
    update.insert("next_attempt_at".into(), json!(Utc::now().to_rfc3339()));
    match store.update_record(model, id, update) {
        Ok(record) => Ok(record.properties.get("state").cloned().unwrap_or(Value::Null)),
        Err(crate::db::StoreError::NotFound { .. }) => Ok(Value::Null),
        Err(e) => Err(from_store(e, &|s| s.to_string())),
    }
}

fn merchant_arg(ctx: &ResolverContext<'_>) -> Result<Option<MerchantId>, Error> {
    match ctx.args.get("merchant").filter(|v| !v.is_null()) {
        Some(value) => MerchantId::parse(value.string()?)
            .map(Some)
            .ok_or_else(|| bad_field("merchant", "is not a merchant id (letters, digits, - and _)")),
        None => Ok(None),
    }
}

fn record_id(ctx: &ResolverContext<'_>, name: &str) -> Result<i64, Error> {
    ctx.args
        .try_get(name)?
        .string()
        .ok()
        .and_then(|text| text.parse::<i64>().ok())
        .or_else(|| ctx.args.get(name).and_then(|v| v.i64().ok()))
        .filter(|id| *id > 0)
        .ok_or_else(|| bad_field(name, "is not a record id"))
}

fn api_key_value(row: &crate::db::models::merchant::ApiKeyRow) -> Value {
    json!({
        "keyId": row.key_id,
        "merchant": row.merchant_id,
        "name": row.name,
        "scopes": row.scopes.split_whitespace().collect::<Vec<_>>(),
        "createdAt": time_text(row.created_at),
        "lastUsedAt": row.last_used_at.map(time_text),
        "revokedAt": row.revoked_at.map(time_text),
    })
}

fn internal(error: impl std::fmt::Display) -> Error {
    tracing::error!(target: "payforms::graphql", "operator operation failed: {error}");
    coded(INTERNAL_SERVER_ERROR, "the operation could not be completed")
}
