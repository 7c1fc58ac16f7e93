//! platformOS's property lists (`properties: [{ name: "amount", value:
//! "599" }]`) read into the store properties payforms' own mutations
//! write: the store types each value by the property's schema type, so
//! "599" is stored as the integer 599 and "5.99" is refused for an integer
//! (money is never read through a float).

use async_graphql::dynamic::{InputObject, InputValue, ObjectAccessor, TypeRef, ValueAccessor};
use async_graphql::Error;
use serde_json::{Map, Value};

use crate::db::schema::{ModelType, PropertyType};
use crate::graphql::errors::bad_field;
use crate::graphql::values::{to_json, JSON, MAP};

pub const PROPERTY_INPUT: &str = "PlatformosPropertyInput";
pub const RECORD_INPUT: &str = "PlatformosRecordInput";
/// The name platformOS modules declare their variables with.
pub const CUSTOMIZATION_INPUT: &str = "CustomizationInputType";

/// Properties one write may list.
pub const MAX_PROPERTIES: usize = 200;

pub fn type_names() -> [&'static str; 3] {
    [PROPERTY_INPUT, RECORD_INPUT, CUSTOMIZATION_INPUT]
}

pub fn inputs() -> Vec<InputObject> {
    let property = InputObject::new(PROPERTY_INPUT)
        .description(
            "One property by its schema name and at most one value; none (or null) clears it. \
             `value` is text, typed by the property (\"599\" for an integer; JSON text for json/array).",
        )
        .field(InputValue::new("name", TypeRef::named_nn(TypeRef::STRING)))
        .field(InputValue::new("value", TypeRef::named(TypeRef::STRING)))
        .field(InputValue::new("value_int", TypeRef::named(TypeRef::INT)))
        .field(
            InputValue::new("value_float", TypeRef::named(TypeRef::FLOAT))
                .description("For float properties only: an integer (money) is never read from a float."),
        )
        .field(InputValue::new("value_boolean", TypeRef::named(TypeRef::BOOLEAN)))
        .field(InputValue::new("value_json", TypeRef::named(MAP)))
        .field(InputValue::new("value_array", TypeRef::named_list(JSON)));
    let properties = || InputValue::new("properties", TypeRef::named_nn_list(PROPERTY_INPUT));
    let record = InputObject::new(RECORD_INPUT)
        .field(
            InputValue::new("table", TypeRef::named(TypeRef::STRING))
                .description("The model: its full name, or a module model's short name."),
        )
        .field(properties());
    let customization = InputObject::new(CUSTOMIZATION_INPUT)
        .field(
            InputValue::new("name", TypeRef::named(TypeRef::STRING))
                .description("The model; else the form's resource (form_configuration_name)."),
        )
        .field(properties());
    vec![property, record, customization]
}

/// `record`/`customization` input: its model name (`table` or `name`), if
/// given, and its property list.
pub fn model_name(input: &ObjectAccessor<'_>, key: &str) -> Result<Option<String>, Error> {
    match input.get(key).filter(|v| !v.is_null()) {
        Some(name) => Ok(Some(name.string()?.to_string())),
        None => Ok(None),
    }
}

/// The input's `properties` as store properties of `model`.
pub fn properties(model: &ModelType, input: &ObjectAccessor<'_>) -> Result<Map<String, Value>, Error> {
    let Some(list) = input.get("properties").filter(|v| !v.is_null()) else {
        return Ok(Map::new());
    };
    // GraphQL takes one item for a list as is.
    if let Ok(only) = list.object() {
        let mut out = Map::with_capacity(1);
        add_property(model, &only, &mut out)?;
        return Ok(out);
    }
    let list = list.list()?;
    if list.len() > MAX_PROPERTIES {
        return Err(bad_field(
            "properties",
            format!("at most {MAX_PROPERTIES} properties, not {}", list.len()),
        ));
    }
    let mut out = Map::with_capacity(list.len());
    for item in list.iter() {
        add_property(model, &item.object()?, &mut out)?;
    }
    Ok(out)
}

fn add_property(model: &ModelType, item: &ObjectAccessor<'_>, out: &mut Map<String, Value>) -> Result<(), Error> {
    let name = item.try_get("name")?.string()?.to_string();
    let shown: String = name.chars().take(64).collect();
    let Some(property) = model.property(&name) else {
        return Err(bad_field(&shown, format!("is not a property of {}", model.name)));
    };
    let value = property_value(&shown, property.kind, item)?;
    if out.insert(name, value).is_some() {
        return Err(bad_field(&shown, "is given twice"));
    }
    Ok(())
}

/// The one value given for a property (null when none).
fn property_value(name: &str, kind: PropertyType, item: &ObjectAccessor<'_>) -> Result<Value, Error> {
    let given: Vec<(String, ValueAccessor<'_>)> = item
        .iter()
        .filter(|(key, value)| key.as_str() != "name" && !value.is_null())
        .map(|(key, value)| (key.to_string(), value))
        .collect();
    let [(key, value)] = given.as_slice() else {
        return match given.len() {
            0 => Ok(Value::Null),
            _ => Err(bad_field(
                name,
                "give one of value, value_int, value_float, value_boolean, value_json, value_array",
            )),
        };
    };
    match key.as_str() {
        "value" => {
            let text = value.string()?;
            match kind {
                // platformOS sends hashes and arrays as JSON text.
                PropertyType::Json | PropertyType::Array if !text.trim().is_empty() => serde_json::from_str(text)
                    .map_err(|_| bad_field(name, format!("is a {kind} property; its value must be JSON text"))),
                _ => Ok(Value::String(text.to_string())),
            }
        }
        "value_float" if kind != PropertyType::Float => Err(bad_field(
            name,
            format!("is a {kind} property; value_float is only for float properties (give value or value_int)"),
        )),
        "value_int" | "value_float" | "value_boolean" | "value_json" | "value_array" => Ok(to_json(value.as_value())),
        other => Err(bad_field(name, format!("`{other}` is not a property value"))),
    }
}
