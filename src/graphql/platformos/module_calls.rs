//! The other operations platformOS's payments module runs, so each of its
//! graph queries is valid here:
//! - `api_call_send(data:, template: { name: })` sends an API call
//!   notification: in payforms, the request type of that name, through the
//!   same dispatcher as its own mutation;
//! - `admin_liquid_partials(filter: { path: { exact: } })` lists the app's
//!   partials by path (payforms' partials have no other ids);
//! - `constant_set` is refused with what to use instead: payforms keeps
//!   gateway keys in its encrypted configuration, not in constants.

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputObject, InputValue, Object, Scalar, TypeRef};
use async_graphql::Error;
use serde_json::{json, Value};

use super::filters::VALUE_FILTER;
use crate::gateway::{Caller, DispatchOutcome, Tenant};
use crate::graphql::errors::{bad_field, coded, not_found, FORBIDDEN};
use crate::graphql::values::{key_field, to_graphql, to_json};
use crate::graphql::{ForTenant, RequestSender};

pub const HASH_OBJECT: &str = "HashObject";
const TEMPLATE_INPUT: &str = "PlatformosTemplateInput";
const API_CALL_RESULT: &str = "PlatformosApiCallResult";
const API_CALL_RESPONSE: &str = "PlatformosApiCallResponse";
const API_CALL_ERROR: &str = "PlatformosApiCallError";
const PARTIAL: &str = "PlatformosPartial";
const PARTIALS: &str = "PlatformosPartialCollection";
const PARTIAL_FILTER: &str = "PlatformosPartialFilter";
const CONSTANT: &str = "PlatformosConstant";

pub const QUERIES: [&str; 1] = ["admin_liquid_partials"];
pub const MUTATIONS: [&str; 2] = ["api_call_send", "constant_set"];

/// Partials one answer lists.
const MAX_PARTIALS: usize = 100;

pub fn type_names() -> [&'static str; 9] {
    [
        HASH_OBJECT,
        TEMPLATE_INPUT,
        API_CALL_RESULT,
        API_CALL_RESPONSE,
        API_CALL_ERROR,
        PARTIAL,
        PARTIALS,
        PARTIAL_FILTER,
        CONSTANT,
    ]
}

pub fn scalar() -> Scalar {
    Scalar::new(HASH_OBJECT).description("A JSON object (platformOS's HashObject).")
}

pub fn objects() -> Vec<Object> {
    vec![
        Object::new(API_CALL_RESULT)
            .field(key_field("response", TypeRef::named(API_CALL_RESPONSE)))
            .field(key_field("errors", TypeRef::named_nn_list_nn(API_CALL_ERROR)))
            .field(
                key_field("skipped", TypeRef::named_nn(TypeRef::BOOLEAN)).description(
                    "True when nothing was sent: the notification's trigger_condition did not render true.",
                ),
            ),
        Object::new(API_CALL_RESPONSE)
            .field(key_field("status", TypeRef::named(TypeRef::INT)))
            .field(key_field("body", TypeRef::named(TypeRef::STRING)).description("The gateway's answer as text.")),
        Object::new(API_CALL_ERROR)
            .field(key_field("message", TypeRef::named_nn(TypeRef::STRING)))
            .field(key_field("code", TypeRef::named(TypeRef::STRING))),
        Object::new(PARTIAL)
            .field(
                key_field("id", TypeRef::named_nn(TypeRef::ID))
                    .description("The path: payforms' partials have no other id."),
            )
            .field(key_field("path", TypeRef::named_nn(TypeRef::STRING))),
        Object::new(PARTIALS)
            .field(key_field("results", TypeRef::named_nn_list_nn(PARTIAL)))
            .field(key_field("total_entries", TypeRef::named_nn(TypeRef::INT))),
        Object::new(CONSTANT)
            .field(key_field("name", TypeRef::named_nn(TypeRef::STRING)))
            .field(key_field("value", TypeRef::named(TypeRef::STRING))),
    ]
}

pub fn inputs() -> Vec<InputObject> {
    vec![
        InputObject::new(TEMPLATE_INPUT).field(
            InputValue::new("name", TypeRef::named_nn(TypeRef::STRING))
                .description("The API call notification (request type), e.g. `modules/stripe/create_customer`."),
        ),
        InputObject::new(PARTIAL_FILTER).field(InputValue::new("path", TypeRef::named(VALUE_FILTER))),
    ]
}

/// `admin_liquid_partials(filter:)`: the app's partials whose path matches.
pub fn partials_query(partial_names: Vec<String>) -> Field {
    Field::new("admin_liquid_partials", TypeRef::named_nn(PARTIALS), move |ctx| {
        let result = (|| {
            let mut matching: Vec<&String> = partial_names.iter().collect();
            if let Some(filter) = ctx.args.get("filter").filter(|v| !v.is_null()) {
                if let Some(path) = filter.object()?.get("path").filter(|v| !v.is_null()) {
                    for (op, value) in path.object()?.iter() {
                        if value.is_null() {
                            continue;
                        }
                        let wanted: Vec<String> = match op.as_str() {
                            "value_in" => value
                                .list()?
                                .iter()
                                .map(|v| v.string().map(str::to_string))
                                .collect::<Result<_, _>>()?,
                            _ => vec![value.string()?.to_string()],
                        };
                        let keep = |name: &String| wanted.contains(name);
                        match op.as_str() {
                            "value" | "exact" | "value_in" => matching.retain(|n| keep(n)),
                            "not_value" => matching.retain(|n| !keep(n)),
                            other => return Err(bad_field("path", format!("`{other}` is not supported"))),
                        }
                    }
                }
            }
            let total = matching.len();
            let results: Vec<Value> = matching
                .into_iter()
                .take(MAX_PARTIALS)
                .map(|path| json!({"id": path, "path": path}))
                .collect();
            Ok(Some(FieldValue::value(to_graphql(
                json!({"results": results, "total_entries": total}),
            ))))
        })();
        FieldFuture::new(futures::future::ready(result))
    })
    .description(format!(
        "The app's partials (at most {MAX_PARTIALS}), by path: platformOS's admin_liquid_partials."
    ))
    .argument(InputValue::new("filter", TypeRef::named(PARTIAL_FILTER)))
}

/// `constant_set`: refused, with where payforms keeps such values.
pub fn constant_set() -> Field {
    Field::new("constant_set", TypeRef::named(CONSTANT), |_| {
        FieldFuture::new(futures::future::ready(Err::<Option<FieldValue>, Error>(coded(
            FORBIDDEN,
            "payforms has no constants: Stripe keys are set in its configuration \
             (STRIPE_* settings, the sandbox, or the configureStripe operation), encrypted",
        ))))
    })
    .description("Refused: payforms keeps gateway keys in its encrypted configuration, not in constants.")
    .argument(InputValue::new("name", TypeRef::named_nn(TypeRef::STRING)))
    .argument(InputValue::new("value", TypeRef::named_nn(TypeRef::STRING)))
}

/// `api_call_send(data:, template: { name: })`. `sendable`: request types
/// a template may send (runtime-only ones are payforms' own), by full name.
pub fn api_call_send(sender: Option<RequestSender>, sendable: Vec<String>) -> Field {
    Field::new("api_call_send", TypeRef::named_nn(API_CALL_RESULT), move |ctx| {
        let result = (|| {
            let template = ctx.args.try_get("template")?.object()?;
            let name = template.try_get("name")?.string()?.to_string();
            let shown: String = name.chars().take(100).collect();
            let full_name = sendable_name(&sendable, &name)
                .ok_or_else(|| not_found(format!("there is no API call notification `{shown}` a page may send")))?;
            let data = match ctx.args.get("data").filter(|v| !v.is_null()) {
                Some(data) => match to_json(data.as_value()) {
                    object @ Value::Object(_) => object,
                    _ => return Err(bad_field("data", "must be a hash")),
                },
                None => json!({}),
            };
            let Some(sender) = &sender else {
                return Err(coded("UNAVAILABLE", "no gateway is configured to send API calls"));
            };
            let default_tenant = Tenant::default();
            let tenant = ctx.data_opt::<ForTenant>().map_or(&default_tenant, |t| &t.tenant);
            let answer = match sender
                .gateway
                .dispatch_for(tenant, &sender.app, &full_name, data, None, Caller::Visitor)
            {
                Ok(outcome) => outcome_value(&outcome),
                Err(failure) => json!({
                    "response": null,
                    "skipped": false,
                    "errors": [{ "message": failure.message, "code": failure.gateway_code }],
                }),
            };
            Ok(Some(FieldValue::value(to_graphql(answer))))
        })();
        FieldFuture::new(futures::future::ready(result))
    })
    .description("Send an API call notification (a request type): its gateway's answer and errors.")
    .argument(InputValue::new("data", TypeRef::named(HASH_OBJECT)))
    .argument(InputValue::new("template", TypeRef::named_nn(TEMPLATE_INPUT)))
}

/// A request type by full name, or a module's by its short name (the
/// first module's, in name order, as payforms resolves names elsewhere).
fn sendable_name(sendable: &[String], name: &str) -> Option<String> {
    if sendable.iter().any(|full| full == name) {
        return Some(name.to_string());
    }
    if name.starts_with("modules/") {
        return None;
    }
    let mut candidates: Vec<&String> = sendable
        .iter()
        .filter(|full| full.starts_with("modules/") && full.splitn(3, '/').nth(2) == Some(name))
        .collect();
    candidates.sort();
    candidates.first().map(|full| full.to_string())
}

fn outcome_value(outcome: &DispatchOutcome) -> Value {
    let response = outcome.response.as_ref().map(|response| {
        let body = match &response["body"] {
            Value::String(text) => Value::String(text.clone()),
            Value::Null => Value::Null,
            other => Value::String(other.to_string()),
        };
        json!({ "status": response["status"], "body": body })
    });
    json!({
        "response": response,
        "skipped": outcome.skipped,
        "errors": outcome
            .errors
            .iter()
            .map(|e| json!({"message": e.message, "code": e.code}))
            .collect::<Vec<_>>(),
    })
}
