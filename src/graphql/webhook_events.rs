//! `stripe_webhookEvents(first, after, status)`: the durable webhook inbox,
//! newest first, read-only. Stripe is the only gateway writing there, so
//! the listing is not filtered by gateway.

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, Object, ResolverContext, TypeRef};
use async_graphql::Error;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use super::errors::{bad_field, from_store};
use super::filters::page_size;
use super::models::PAGE_INFO;
use super::stripe_api::views::time_text;
use super::values::{key_field, to_graphql, TIME};
use crate::db::models::webhook_event::{self, WebhookEvent, WebhookStatus};
use crate::db::query::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::db::Store;

pub const QUERY: &str = "stripe_webhookEvents";
const NODE: &str = "StripeWebhookEvent";
const EDGE: &str = "StripeWebhookEventEdge";
const CONNECTION: &str = "StripeWebhookEventConnection";

pub fn type_names() -> [&'static str; 3] {
    [NODE, EDGE, CONNECTION]
}

pub fn types() -> Vec<Object> {
    let node = Object::new(NODE)
        .description("A webhook event received from Stripe.")
        .field(key_field("id", TypeRef::named_nn(TypeRef::ID)))
        .field(key_field("eventId", TypeRef::named_nn(TypeRef::STRING)).description("Stripe's event id (evt_...)."))
        .field(key_field("type", TypeRef::named_nn(TypeRef::STRING)).description("e.g. payment_intent.succeeded"))
        .field(key_field("objectId", TypeRef::named(TypeRef::STRING)).description("The object it is about (pi_…)."))
        .field(
            key_field("data", TypeRef::named_nn(TypeRef::STRING)).description("The event as received, a JSON string."),
        )
        .field(key_field("processed", TypeRef::named_nn(TypeRef::BOOLEAN)))
        .field(
            key_field("status", TypeRef::named_nn(TypeRef::STRING))
                .description("pending, processing, processed, skipped or failed"),
        )
        .field(key_field("attempts", TypeRef::named_nn(TypeRef::INT)))
        .field(key_field("lastError", TypeRef::named(TypeRef::STRING)))
        .field(key_field("createdAt", TypeRef::named_nn(TIME)))
        .field(key_field("processedAt", TypeRef::named(TIME)));
    let edge = Object::new(EDGE)
        .field(key_field("node", TypeRef::named_nn(NODE)))
        .field(key_field("cursor", TypeRef::named_nn(TypeRef::STRING)));
    let connection = Object::new(CONNECTION)
        .field(key_field("edges", TypeRef::named_nn_list_nn(EDGE)))
        .field(key_field("nodes", TypeRef::named_nn_list_nn(NODE)))
        .field(key_field("pageInfo", TypeRef::named_nn(PAGE_INFO)));
    vec![node, edge, connection]
}

pub fn query_field(store: &Store) -> Field {
    let store = store.clone();
    Field::new(QUERY, TypeRef::named_nn(CONNECTION), move |ctx| {
        let result = list(super::store_for(&ctx, &store), &ctx).map(|v| Some(FieldValue::value(to_graphql(v))));
        FieldFuture::new(futures::future::ready(result))
    })
    .description("Webhook events received from Stripe, newest first.")
    .argument(
        InputValue::new("first", TypeRef::named(TypeRef::INT)).description("Page size (default 10, at most 250)."),
    )
    .argument(InputValue::new("after", TypeRef::named(TypeRef::STRING)))
    .argument(
        InputValue::new("status", TypeRef::named(TypeRef::STRING))
            .description("pending, processing, processed, skipped or failed"),
    )
    .argument(
        InputValue::new("objectIds", TypeRef::named_nn_list(TypeRef::STRING))
            .description("Only events about these Stripe objects (`data.object.id`; at most 100)."),
    )
}

fn list(store: &Store, ctx: &ResolverContext<'_>) -> Result<Value, Error> {
    let first = page_size(&ctx.args, "first")?
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .min(MAX_PAGE_SIZE);
    let after = match ctx.args.get("after").filter(|v| !v.is_null()) {
        Some(cursor) => Some(
            decode_cursor(cursor.string()?).ok_or_else(|| bad_field("after", "is not a cursor this server made"))?,
        ),
        None => None,
    };
    let status = match ctx.args.get("status").filter(|v| !v.is_null()) {
        Some(status) => Some(parse_status(status.string()?)?),
        None => None,
    };
    // One more than asked tells whether there is a next page; only the
    // store's merchant's events, like its records.
    let object_ids = match ctx.args.get("objectIds").filter(|v| !v.is_null()) {
        Some(list) => {
            let list = list.list()?;
            if list.len() > 100 {
                return Err(bad_field("objectIds", "lists at most 100 ids"));
            }
            let mut ids = Vec::with_capacity(list.len());
            for id in list.iter() {
                let id = id.string()?;
                if !webhook_event::is_object_id(id) {
                    return Err(bad_field("objectIds", "holds something that is not an object id"));
                }
                ids.push(id.to_string());
            }
            Some(ids)
        }
        None => None,
    };
    let filter = webhook_event::EventFilter { status, object_ids };
    let mut events = webhook_event::list(store, Some(store.merchant()), &filter, first + 1, after)
        .map_err(|e| from_store(e, &|s| s.to_string()))?;
    let has_next_page = events.len() > first;
    events.truncate(first);
    let nodes: Vec<Value> = events.iter().map(event_value).collect();
    let edges: Vec<Value> = events
        .iter()
        .zip(&nodes)
        .map(|(event, node)| json!({"node": node, "cursor": cursor_of(event.id)}))
        .collect();
    Ok(json!({
        "edges": edges,
        "nodes": nodes,
        "pageInfo": {
            "hasNextPage": has_next_page,
            "hasPreviousPage": after.is_some(),
            "startCursor": events.first().map(|e| cursor_of(e.id)),
            "endCursor": events.last().map(|e| cursor_of(e.id)),
        },
    }))
}

fn parse_status(text: &str) -> Result<WebhookStatus, Error> {
    WebhookStatus::parse(&text.trim().to_ascii_lowercase()).ok_or_else(|| {
        bad_field(
            "status",
            "must be one of pending, processing, processed, skipped, failed",
        )
    })
}

fn event_value(event: &WebhookEvent) -> Value {
    json!({
        "id": event.id.to_string(),
        "eventId": event.event_id,
        "type": event.event_type,
        "objectId": event.object_id,
        "data": event.payload,
        "processed": event.status == WebhookStatus::Processed,
        "status": event.status.as_str(),
        "attempts": event.attempts,
        "lastError": event.last_error,
        // Seed 004's Time: milliseconds, like the other `stripe_…` objects.
        "createdAt": time_text(event.created_at),
        "processedAt": event.processed_at.map(time_text),
    })
}

fn cursor_of(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("webhook_event:{id}"))
}

fn decode_cursor(cursor: &str) -> Option<i64> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("webhook_event:")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        assert_eq!(decode_cursor(&cursor_of(42)), Some(42));
        assert_eq!(decode_cursor(""), None);
        assert_eq!(decode_cursor("!!"), None);
        assert_eq!(decode_cursor(&URL_SAFE_NO_PAD.encode("record:1")), None);
    }

    #[test]
    fn statuses_parse_case_insensitively() {
        assert_eq!(parse_status("Processed").unwrap(), WebhookStatus::Processed);
        assert!(parse_status("done").is_err());
        for status in [
            WebhookStatus::Pending,
            WebhookStatus::Processing,
            WebhookStatus::Processed,
            WebhookStatus::Skipped,
            WebhookStatus::Failed,
        ] {
            assert_eq!(parse_status(status.as_str()).unwrap(), status);
        }
    }
}
