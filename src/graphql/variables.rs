//! Variables from templates: Liquid hands over what it has (`per_page` from
//! a template, `"5"` from a URL parameter). Before execution, a variable the
//! operation declares in camelCase is filled from its snake_case twin (and
//! back), and scalar strings are read as the Int, Float, Boolean or ID the
//! operation declares. Anything else is left for GraphQL to judge.

use async_graphql::parser::types::{BaseType, ExecutableDocument, Type};
use serde_json::{Map, Value};

use super::naming::{camel_case, snake_case};

pub fn adapt(document: &ExecutableDocument, mut variables: Map<String, Value>) -> Map<String, Value> {
    for (_, operation) in document.operations.iter() {
        for definition in &operation.node.variable_definitions {
            let name = definition.node.name.node.as_str();
            if !variables.contains_key(name) {
                let twin = [snake_case(name), camel_case(name)]
                    .into_iter()
                    .find(|candidate| candidate != name && variables.contains_key(candidate));
                if let Some(value) = twin.and_then(|t| variables.get(&t).cloned()) {
                    variables.insert(name.to_string(), value);
                }
            }
            if let Some(value) = variables.get_mut(name) {
                coerce(&definition.node.var_type.node, value);
            }
        }
    }
    variables
}

fn coerce(ty: &Type, value: &mut Value) {
    match (&ty.base, value) {
        (BaseType::List(inner), Value::Array(items)) => items.iter_mut().for_each(|item| coerce(inner, item)),
        (BaseType::Named(name), value @ Value::String(_)) => {
            let Value::String(text) = &*value else { return };
            let text = text.trim();
            let coerced = match name.as_str() {
                "Int" => text.parse::<i64>().ok().map(Value::from),
                "Float" => text
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number),
                "Boolean" => match text {
                    "true" => Some(Value::Bool(true)),
                    "false" => Some(Value::Bool(false)),
                    _ => None,
                },
                _ => None,
            };
            // An empty string for an optional number or flag means "not given".
            let empty_optional = text.is_empty() && ty.nullable && matches!(name.as_str(), "Int" | "Float" | "Boolean");
            if let Some(coerced) = coerced {
                *value = coerced;
            } else if empty_optional {
                *value = Value::Null;
            }
        }
        (BaseType::Named(name), value @ Value::Number(_)) if name.as_str() == "String" => {
            *value = Value::String(value.to_string());
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Parse then adapt, as the engine does (a query that does not parse
    /// leaves the variables as they are).
    fn adapt(query: &str, variables: Map<String, Value>) -> Map<String, Value> {
        match async_graphql::parser::parse_query(query) {
            Ok(document) => super::adapt(&document, variables),
            Err(_) => variables,
        }
    }

    fn vars(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn snake_case_variables_fill_camel_case_declarations() {
        let query = "query q($perPage: Int, $page_no: Int) { __typename }";
        let adapted = adapt(query, vars(json!({"per_page": 5, "pageNo": 2})));
        assert_eq!(adapted["perPage"], json!(5));
        assert_eq!(adapted["page_no"], json!(2));
        // the given names stay; GraphQL ignores undeclared variables
        assert_eq!(adapted["per_page"], json!(5));
    }

    #[test]
    fn strings_become_the_declared_scalar() {
        let query =
            "query q($n: Int!, $f: Float, $b: Boolean, $s: String, $ids: [Int!], $e: Int, $bad: Int) { __typename }";
        let adapted = adapt(
            query,
            vars(json!({"n": "5", "f": "1.5", "b": "true", "s": 12, "ids": ["1", 2], "e": "", "bad": "abc"})),
        );
        assert_eq!(
            Value::Object(adapted),
            json!({"n": 5, "f": 1.5, "b": true, "s": "12", "ids": [1, 2], "e": null, "bad": "abc"})
        );
    }

    #[test]
    fn unparsable_queries_and_empty_variables_pass_through() {
        assert_eq!(adapt("query {", vars(json!({"a": "1"}))), vars(json!({"a": "1"})));
        assert!(adapt("{ __typename }", Map::new()).is_empty());
    }
}
