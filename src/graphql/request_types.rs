//! Request-type mutations: `send_stripe_createCustomer(input:,
//! idempotencyKey:)` (the `send_` prefix keeps seed 004's `stripe_…` names
//! free for its typed API) hands the input (keys back in snake_case) to the gateway dispatcher and
//! returns the written record and the gateway's errors.

use std::sync::Arc;

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputObject, InputValue, Object, TypeRef};
use async_graphql::{Error, ErrorExtensions};
use serde_json::{json, Map, Value};

use super::errors::coded;
use super::naming::{camel_case, pascal_case, snake_case_keys};
use super::values::{key_field, property_type_ref, to_graphql, to_json, MAP};
use crate::app::App;
use crate::db::schema::PropertyType;
use crate::gateway::{Caller, DispatchFailure, DispatchOutcome, RequestDispatcher};

/// What the GraphQL layer knows of a request type (an API call notification).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestTypeInfo {
    /// `stripe`; `app` for the app's own request types.
    pub module: String,
    /// `create_customer`.
    pub name: String,
    /// `modules/stripe/create_customer`, what the dispatcher is given.
    pub full_name: String,
    /// Typed inputs when the notification declares `fields`, else a Map input.
    pub fields: Option<Vec<(String, PropertyType)>>,
    /// Sent only by payforms itself: no mutation.
    pub runtime_only: bool,
}

/// What a request-type mutation sends with: the gateway, and the app
/// version the schema was built from (a mutation and the request type it
/// sends always come from one version).
#[derive(Clone)]
pub struct RequestSender {
    pub gateway: Arc<dyn RequestDispatcher>,
    pub app: Arc<App>,
    /// The running instance's settings: the configuration operations
    /// (`configureStripe`, …) exist only with them.
    pub settings: Option<crate::config::Settings>,
}

pub const GATEWAY_ERROR_TYPE: &str = "GatewayError";

pub fn gateway_error_type() -> Object {
    Object::new(GATEWAY_ERROR_TYPE)
        .field(key_field("message", TypeRef::named_nn(TypeRef::STRING)))
        .field(key_field("code", TypeRef::named(TypeRef::STRING)))
        .field(key_field("field", TypeRef::named(TypeRef::STRING)))
}

/// How one request type appears in GraphQL.
#[derive(Debug)]
pub struct RequestTypeSchema {
    pub info: RequestTypeInfo,
    /// `send_stripe_createCustomer`.
    pub mutation: String,
    /// `SendStripeCreateCustomerPayload`.
    pub payload_type: String,
    /// When the request type declares its fields.
    pub input: Option<TypedInput>,
}

/// `SendStripeCreateCustomerInput { email paymentMethodId }`.
#[derive(Debug)]
pub struct TypedInput {
    pub type_name: String,
    pub fields: Vec<InputField>,
}

#[derive(Debug)]
pub struct InputField {
    /// `paymentMethodId`.
    pub graphql: String,
    /// `payment_method_id`, as the notification names it.
    pub name: String,
    pub kind: PropertyType,
}

impl RequestTypeSchema {
    pub fn new(info: &RequestTypeInfo) -> RequestTypeSchema {
        let module = info
            .module
            .replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "_");
        let prefix = format!("Send{}{}", pascal_case(&info.module), pascal_case(&info.name));
        let input = info.fields.as_ref().filter(|f| !f.is_empty()).map(|fields| TypedInput {
            type_name: format!("{prefix}Input"),
            fields: fields
                .iter()
                .map(|(name, kind)| InputField {
                    graphql: camel_case(name),
                    name: name.clone(),
                    kind: *kind,
                })
                .collect(),
        });
        RequestTypeSchema {
            info: info.clone(),
            mutation: format!("send_{module}_{}", camel_case(&info.name)),
            payload_type: format!("{prefix}Payload"),
            input,
        }
    }

    /// The input as the dispatcher wants it: snake_case keys; Map values as given.
    fn data_from_input(&self, input: Option<&async_graphql::Value>) -> Value {
        let Some(input) = input.filter(|v| !matches!(v, async_graphql::Value::Null)) else {
            return json!({});
        };
        match (&self.input, input) {
            (Some(typed), async_graphql::Value::Object(object)) => {
                let mut data = Map::with_capacity(object.len());
                for (name, value) in object {
                    let key = typed
                        .fields
                        .iter()
                        .find(|field| field.graphql == name.as_str())
                        .map_or_else(|| name.to_string(), |field| field.name.clone());
                    data.insert(key, to_json(value));
                }
                Value::Object(data)
            }
            _ => snake_case_keys(to_json(input)),
        }
    }
}

/// Payload and input types of one request type.
pub fn types(plan: &RequestTypeSchema) -> (Object, Option<InputObject>) {
    let payload = Object::new(&plan.payload_type)
        .description(format!("What `{}` produced.", plan.info.full_name))
        .field(
            key_field("record", TypeRef::named(MAP))
                .description("The written record, if the response mapper wrote one."),
        )
        .field(key_field("model", TypeRef::named(TypeRef::STRING)))
        .field(key_field("errors", TypeRef::named_nn_list_nn(GATEWAY_ERROR_TYPE)))
        .field(
            key_field("response", TypeRef::named(MAP))
                .description("The gateway's answer: { status, body } (list request types return their results here)."),
        )
        .field(
            key_field("skipped", TypeRef::named_nn(TypeRef::BOOLEAN))
                .description("True when nothing was sent: the request type's trigger_condition did not render true."),
        );
    let input = plan.input.as_ref().map(|typed| {
        typed
            .fields
            .iter()
            .fold(InputObject::new(&typed.type_name), |input, field| {
                input.field(InputValue::new(&field.graphql, property_type_ref(field.kind)))
            })
    });
    (payload, input)
}

pub fn mutation_field(plan: &Arc<RequestTypeSchema>, sender: Option<RequestSender>) -> Field {
    let input_type = plan
        .input
        .as_ref()
        .map_or(MAP.to_string(), |typed| typed.type_name.clone());
    let resolver_plan = plan.clone();
    Field::new(&plan.mutation, TypeRef::named(&plan.payload_type), move |ctx| {
        let plan = resolver_plan.clone();
        let sender = sender.clone();
        let data = plan.data_from_input(ctx.args.get("input").map(|v| v.as_value()));
        let default_tenant = crate::gateway::Tenant::default();
        let result = match super::stripe_api::inputs::idempotency_key(&ctx.args) {
            Err(refused) => Err(refused),
            Ok(idempotency_key) => match sender {
                None => Err(coded(
                    "UNAVAILABLE",
                    "no gateway is configured to dispatch request types",
                )),
                Some(sender) => sender
                    .gateway
                    .dispatch_for(
                        ctx.data_opt::<super::ForTenant>()
                            .map_or(&default_tenant, |t| &t.tenant),
                        &sender.app,
                        &plan.info.full_name,
                        data,
                        idempotency_key,
                        Caller::Visitor,
                    )
                    .map(|outcome| Some(FieldValue::value(to_graphql(payload_value(&outcome)))))
                    .map_err(failure_error),
            },
        };
        FieldFuture::new(futures::future::ready(result))
    })
    .description(format!("Send `{}` to its gateway.", plan.info.full_name))
    .argument(InputValue::new("input", TypeRef::named(input_type)))
    .argument(
        InputValue::new("idempotencyKey", TypeRef::named(TypeRef::STRING))
            .description("Sent to the gateway; a retry with the same key has one effect."),
    )
}

fn payload_value(outcome: &DispatchOutcome) -> Value {
    json!({
        "record": outcome.record,
        "model": outcome.model,
        "response": outcome.response,
        "skipped": outcome.skipped,
        "errors": outcome
            .errors
            .iter()
            .map(|e| json!({"message": e.message, "code": e.code, "field": e.field}))
            .collect::<Vec<_>>(),
    })
}

fn failure_error(failure: DispatchFailure) -> Error {
    let DispatchFailure {
        kind,
        message,
        gateway_code,
        ..
    } = failure;
    Error::new(message).extend_with(move |_, e| {
        e.set("code", kind.graphql_code());
        if let Some(stripe_code) = gateway_code {
            e.set("stripeErrorCode", stripe_code);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(fields: Option<Vec<(String, PropertyType)>>) -> RequestTypeInfo {
        RequestTypeInfo {
            module: "stripe".into(),
            name: "create_customer".into(),
            full_name: "modules/stripe/create_customer".into(),
            fields,
            runtime_only: false,
        }
    }

    #[test]
    fn names_follow_the_module_and_request_type() {
        let plan = RequestTypeSchema::new(&info(None));
        assert_eq!(plan.mutation, "send_stripe_createCustomer");
        assert_eq!(plan.payload_type, "SendStripeCreateCustomerPayload");
        assert!(plan.input.is_none());
        let typed = RequestTypeSchema::new(&info(Some(vec![("payment_method_id".into(), PropertyType::String)])));
        let input = typed.input.unwrap();
        assert_eq!(input.type_name, "SendStripeCreateCustomerInput");
        assert_eq!(input.fields[0].graphql, "paymentMethodId");
        assert_eq!(input.fields[0].name, "payment_method_id");
    }

    #[test]
    fn typed_input_keys_map_back_exactly_and_keep_map_values() {
        let plan = RequestTypeSchema::new(&info(Some(vec![
            ("address_line_1".into(), PropertyType::String),
            ("metadata".into(), PropertyType::Json),
        ])));
        let input = to_graphql(json!({"addressLine1": "Main St", "metadata": {"orderId": 1}}));
        assert_eq!(
            plan.data_from_input(Some(&input)),
            json!({"address_line_1": "Main St", "metadata": {"orderId": 1}})
        );
        assert_eq!(plan.data_from_input(None), json!({}));
        assert_eq!(plan.data_from_input(Some(&async_graphql::Value::Null)), json!({}));
    }

    #[test]
    fn map_input_keys_become_snake_case_recursively() {
        let plan = RequestTypeSchema::new(&info(None));
        let input = to_graphql(json!({"paymentMethodId": "pm_1", "recurring": {"intervalCount": 2}}));
        assert_eq!(
            plan.data_from_input(Some(&input)),
            json!({"payment_method_id": "pm_1", "recurring": {"interval_count": 2}})
        );
    }
}
