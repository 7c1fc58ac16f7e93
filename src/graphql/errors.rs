//! GraphQL errors with `extensions.code` (and `extensions.fields` for
//! validation, `extensions.stripeErrorCode` from gateways).

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo};
use async_graphql::{Error, ErrorExtensions, PathSegment, ServerError, ServerResult};
use serde_json::{json, Map, Value};

use super::values::to_graphql;
use crate::db::StoreError;
use crate::error::FieldError;

pub const NOT_FOUND: &str = "NOT_FOUND";
pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";
/// The caller may not run this operation (a mutation from a page that only reads).
pub const FORBIDDEN: &str = "FORBIDDEN";
/// The query itself is malformed or does not fit the schema.
pub const GRAPHQL_VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";

/// One error of an executed operation, for in-process callers.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GraphqlErrorInfo {
    pub message: String,
    /// `extensions.code`, always present.
    pub code: String,
    /// Where in the result the error happened (field names and indexes).
    pub path: Vec<Value>,
    /// All extensions, `code` included.
    pub extensions: Map<String, Value>,
}

impl GraphqlErrorInfo {
    pub(crate) fn from_server_error(error: &ServerError) -> GraphqlErrorInfo {
        let mut extensions = match error.extensions.as_ref().map(serde_json::to_value) {
            Some(Ok(Value::Object(map))) => map,
            _ => Map::new(),
        };
        let code = match extensions.get("code").and_then(Value::as_str) {
            Some(code) => code.to_string(),
            None => {
                let code = default_code(error);
                extensions.insert("code".into(), json!(code));
                code.to_string()
            }
        };
        let path = error
            .path
            .iter()
            .map(|segment| serde_json::to_value(segment).unwrap_or(Value::Null))
            .collect();
        GraphqlErrorInfo {
            message: error.message.clone(),
            code,
            path,
            extensions,
        }
    }
}

/// Errors raised before any resolver ran (parse, validation, unknown
/// variables) have no path. Errors without a code from inside resolvers
/// come from reading arguments the schema already validated: internal.
fn default_code(error: &ServerError) -> &'static str {
    if error.path.is_empty() {
        GRAPHQL_VALIDATION_FAILED
    } else {
        INTERNAL_SERVER_ERROR
    }
}

/// Give every error of `response` an `extensions.code`.
pub(crate) fn ensure_codes(response: &mut async_graphql::Response) {
    for error in &mut response.errors {
        let has_code = error.extensions.as_ref().is_some_and(|e| e.get("code").is_some());
        if !has_code {
            let code = default_code(error);
            error.extensions.get_or_insert_with(Default::default).set("code", code);
        }
    }
}

/// Resolver errors of dynamic schemas come without a `path`; this
/// extension gives them the path of the field that failed.
pub(crate) struct ErrorPaths;

impl ExtensionFactory for ErrorPaths {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorPaths)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ErrorPaths {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<async_graphql::Value>> {
        let path_node = info.path_node;
        next.run(ctx, info).await.map_err(|mut error| {
            if error.path.is_empty() {
                if let Ok(Value::Array(segments)) = serde_json::to_value(path_node) {
                    error.path = segments
                        .into_iter()
                        .filter_map(|segment| match segment {
                            Value::String(name) => Some(PathSegment::Field(name)),
                            Value::Number(n) => n.as_u64().map(|i| PathSegment::Index(i as usize)),
                            _ => None,
                        })
                        .collect();
                }
            }
            error
        })
    }
}

pub fn coded(code: &'static str, message: impl Into<String>) -> Error {
    Error::new(message).extend_with(|_, e| e.set("code", code))
}

pub fn not_found(message: impl Into<String>) -> Error {
    coded(NOT_FOUND, message)
}

/// Validation problems: a readable message and `extensions.fields`.
pub fn bad_user_input(fields: &[FieldError]) -> Error {
    let message = match fields {
        [] => "the input is invalid".to_string(),
        _ => format!(
            "the input is invalid: {}",
            fields.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        ),
    };
    let list = to_graphql(json!(fields
        .iter()
        .map(|f| json!({"field": f.field, "message": f.message}))
        .collect::<Vec<_>>()));
    Error::new(message).extend_with(move |_, e| {
        e.set("code", BAD_USER_INPUT);
        e.set("fields", list);
    })
}

pub fn bad_field(field: &str, message: impl Into<String>) -> Error {
    bad_user_input(&[FieldError::new(field, message)])
}

/// Map a store failure; `field_name` renames store property names to the
/// GraphQL field names the caller used.
pub fn from_store(error: StoreError, field_name: &dyn Fn(&str) -> String) -> Error {
    match error {
        StoreError::Validation(fields) => {
            let renamed: Vec<FieldError> = fields
                .into_iter()
                .map(|f| FieldError::new(field_name(&f.field), f.message))
                .collect();
            bad_user_input(&renamed)
        }
        StoreError::NotFound { model, id } => not_found(format!("{} {id} not found", short_model(&model))),
        StoreError::InvalidCursor(why) => bad_field("cursor", why),
        other => internal(&other),
    }
}

/// Details go to the log, not to the client.
pub fn internal(error: &dyn std::fmt::Display) -> Error {
    tracing::error!(target: "payforms::graphql", "{error}");
    coded(INTERNAL_SERVER_ERROR, "internal error; see the server log")
}

fn short_model(model: &str) -> &str {
    model.rsplit('/').next().unwrap_or(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extensions(error: &Error) -> Value {
        serde_json::to_value(error.extensions.as_ref().unwrap()).unwrap()
    }

    #[test]
    fn validation_errors_list_fields_and_read_well() {
        let error = from_store(
            StoreError::Validation(vec![
                FieldError::new("gateway_id", "has already been taken"),
                FieldError::new("amount", "is not an integer"),
            ]),
            &|name| super::super::naming::camel_case(name),
        );
        assert_eq!(
            error.message,
            "the input is invalid: gatewayId has already been taken, amount is not an integer"
        );
        assert_eq!(
            extensions(&error),
            json!({"code": "BAD_USER_INPUT", "fields": [
                {"field": "gatewayId", "message": "has already been taken"},
                {"field": "amount", "message": "is not an integer"}
            ]})
        );
    }

    #[test]
    fn store_failures_map_to_codes_without_details() {
        let not_found = from_store(
            StoreError::NotFound {
                model: "modules/payments/payment".into(),
                id: 7,
            },
            &|s| s.to_string(),
        );
        assert_eq!(not_found.message, "payment 7 not found");
        assert_eq!(extensions(&not_found)["code"], "NOT_FOUND");
        let database = from_store(StoreError::Database("disk I/O error at /secret/path".into()), &|s| {
            s.to_string()
        });
        assert_eq!(extensions(&database)["code"], "INTERNAL_SERVER_ERROR");
        assert!(!database.message.contains("secret"));
        let cursor = from_store(StoreError::InvalidCursor("bad".into()), &|s| s.to_string());
        assert_eq!(extensions(&cursor)["code"], "BAD_USER_INPUT");
    }
}
