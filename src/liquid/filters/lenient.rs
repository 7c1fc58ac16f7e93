//! Reading data that may not be there, as a data template must: a Stripe
//! object omits what it does not have, and an id may come as a string or
//! as the expanded object.
//!
//! - `pf_dig` is inserted by the loader into every output of a data
//!   template that reads into a variable (`{{ pi.customer.id | json }}`
//!   becomes `{{ nil | pf_dig: "pi", "customer", "id" | json }}`: the
//!   variable's name first, always a literal), so a missing member is nil,
//!   as in `{% if %}`, instead of an error.
//! - `id_of`: `{{ pi.customer | id_of | json }}` is the id of an expanded
//!   object, the value itself when it is already an id, nil otherwise.
//! - `missing_keys`: the given names a hash has as nil or not at all, for
//!   a mapper's `unset`.

use std::fmt;

use liquid_core::model::ScalarCow;
use liquid_core::parser::{FilterArguments, ParameterReflection};
use liquid_core::{Display_filter, Expression, Filter, FilterReflection, ParseFilter, Runtime};
use liquid_core::{Result, Value, ValueView};

use super::filter_error;

#[derive(Clone)]
pub struct PfDig;

impl FilterReflection for PfDig {
    fn name(&self) -> &str {
        "pf_dig"
    }
    fn description(&self) -> &str {
        "The member at the given indexes, or nil when any is missing."
    }
    fn positional_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
    fn keyword_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
}

/// How many indexes one output may read through.
pub const MAX_INDEXES: usize = 32;

/// The 1 to `MAX_INDEXES` positional arguments of a filter that takes a
/// list (`pf_dig: "a", "b"`, `missing_keys: "x", "y"`), and no keywords.
fn positional_list(filter: &str, arguments: FilterArguments) -> Result<Vec<Expression>> {
    let mut keyword = arguments.keyword;
    if keyword.next().is_some() {
        return Err(filter_error(filter, "takes positional arguments only"));
    }
    let list: Vec<Expression> = arguments.positional.take(MAX_INDEXES + 1).collect();
    if list.is_empty() || list.len() > MAX_INDEXES {
        return Err(filter_error(filter, format!("takes 1 to {MAX_INDEXES} arguments")));
    }
    Ok(list)
}

impl ParseFilter for PfDig {
    /// The first argument names the variable and must be a literal, so
    /// what a visitor sends can never choose which variable is read.
    fn parse(&self, arguments: FilterArguments) -> Result<Box<dyn Filter>> {
        let mut indexes = positional_list("pf_dig", arguments)?.into_iter();
        let root = match indexes.next() {
            Some(Expression::Literal(Value::Scalar(name))) => name.into_cow_str().into_owned(),
            _ => return Err(filter_error("pf_dig", "takes the variable's name as a literal first")),
        };
        let indexes: Vec<Expression> = indexes.collect();
        if indexes.is_empty() {
            return Err(filter_error(
                "pf_dig",
                "takes at least one index after the variable's name",
            ));
        }
        Ok(Box::new(PfDigFilter { root, indexes }))
    }

    fn reflection(&self) -> &dyn FilterReflection {
        self
    }
}

#[derive(Debug)]
struct PfDigFilter {
    root: String,
    indexes: Vec<Expression>,
}

impl fmt::Display for PfDigFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.indexes.iter().map(ToString::to_string).collect();
        write!(f, "pf_dig: {:?}, {}", self.root, parts.join(", "))
    }
}

impl Filter for PfDigFilter {
    /// The input is not read (the loader writes `nil`): the member is
    /// looked up whole in the runtime by the variable's name, so only it
    /// is copied, never the variable (liquid-rust copies a variable's
    /// whole value, e.g. a page's `context`, each time it is evaluated).
    fn evaluate(&self, _input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let mut path: Vec<ScalarCow<'_>> = Vec::with_capacity(self.indexes.len() + 1);
        path.push(ScalarCow::new(self.root.as_str()));
        for index in &self.indexes {
            // An index that is itself missing reads nothing.
            let Some(value) = index.try_evaluate(runtime) else {
                return Ok(Value::Nil);
            };
            match value.as_scalar() {
                Some(scalar) => path.push(scalar.into_owned()),
                None => return Ok(Value::Nil),
            }
        }
        if let Some(found) = runtime.try_get(&path) {
            return Ok(found.into_owned());
        }
        // Missing: nil, unless the variable itself is unknown where the
        // runtime says so (a misspelt name stays an error).
        runtime.get(&path[..1])?;
        Ok(Value::Nil)
    }
}

/// `{{ customer | missing_keys: "email", "phone" | json }}`: the names
/// among those given whose value in the hash is nil or absent, for a
/// mapper's `unset` (what the gateway reports as null is cleared).
#[derive(Clone)]
pub struct MissingKeys;

impl FilterReflection for MissingKeys {
    fn name(&self) -> &str {
        "missing_keys"
    }
    fn description(&self) -> &str {
        "The given names whose value in the hash is nil or absent."
    }
    fn positional_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
    fn keyword_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
}

impl ParseFilter for MissingKeys {
    fn parse(&self, arguments: FilterArguments) -> Result<Box<dyn Filter>> {
        Ok(Box::new(MissingKeysFilter {
            names: positional_list("missing_keys", arguments)?,
        }))
    }

    fn reflection(&self) -> &dyn FilterReflection {
        self
    }
}

#[derive(Debug)]
struct MissingKeysFilter {
    names: Vec<Expression>,
}

impl fmt::Display for MissingKeysFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.names.iter().map(ToString::to_string).collect();
        write!(f, "missing_keys: {}", parts.join(", "))
    }
}

impl Filter for MissingKeysFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let object = input.as_object();
        let mut missing = Vec::new();
        for name in &self.names {
            let name = name.evaluate(runtime)?.to_kstr().into_owned();
            let present = object
                .and_then(|o| o.get(name.as_str()))
                .is_some_and(|value| !value.is_nil());
            if !present {
                missing.push(Value::scalar(name.to_string()));
            }
        }
        Ok(Value::Array(missing))
    }
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "id_of",
    description = "The `id` of an object, the value itself when it is text (already an id), else nil.",
    parsed(IdOfFilter)
)]
pub struct IdOf;

#[derive(Debug, Default, Display_filter)]
#[name = "id_of"]
struct IdOfFilter;

impl Filter for IdOfFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        if let Some(object) = input.as_object() {
            return Ok(object.get("id").map(|id| id.to_value()).unwrap_or(Value::Nil));
        }
        match input.as_scalar() {
            Some(scalar) if !input.is_nil() && !scalar.to_kstr().is_empty() => Ok(input.to_value()),
            _ => Ok(Value::Nil),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::liquid::test_support::render_data;

    #[test]
    fn missing_members_of_assigned_objects_are_nil() {
        let template = r#"{% assign pi = response.body %}{{ pi.customer.id | json }} {{ pi.charges.data.first.id | json }} {{ pi.missing.deeper | json }} {{ pi.charges.data.size }} {{ pi[key] | json }}"#;
        let out = render_data(
            template,
            serde_json::json!({"response": {"body": {"customer": "cus_1", "charges": {"data": [{"id": "ch_1"}]}, "status": "ok"}}, "key": "status"}),
        );
        assert_eq!(out, r#"null "ch_1" null 1 "ok""#);
    }

    #[test]
    fn pf_dig_reads_only_the_variable_its_literal_first_argument_names() {
        let parser = crate::liquid::parser_builder().build().unwrap();
        for refused in [
            "{{ nil | pf_dig: name, 'x' }}",
            "{{ nil | pf_dig: context.params.v, 'secret_key' }}",
            "{{ nil | pf_dig: 'gateway' }}",
        ] {
            assert!(parser.parse(refused).is_err(), "{refused}");
        }
        let globals = liquid_core::object!({"a": {"b": [1, {"c": "deep"}]}, "i": 1});
        let read = |source: &str| parser.parse(source).unwrap().render(&globals).unwrap();
        assert_eq!(read("{{ 'ignored' | pf_dig: 'a', 'b', i, 'c' }}"), "deep");
        assert_eq!(
            read("[{{ nil | pf_dig: 'a', 'x', 'y' }}][{{ nil | pf_dig: 'a', missing }}]"),
            "[][]"
        );
    }

    #[test]
    fn missing_keys_names_what_is_nil_or_absent() {
        let template = r#"{% assign c = customer %}{{ c | missing_keys: "email", "phone", "name" | json }}"#;
        let out = render_data(
            template,
            serde_json::json!({"customer": {"email": "a@example.com", "phone": null}}),
        );
        assert_eq!(out, r#"["phone","name"]"#);
    }

    #[test]
    fn id_of_reads_expanded_and_plain_references() {
        let template = r#"{% assign pi = response %}{{ pi.a | id_of | json }} {{ pi.b | id_of | json }} {{ pi.c | id_of | json }} {{ pi.d | id_of | json }}"#;
        let out = render_data(
            template,
            serde_json::json!({"response": {"a": "cus_1", "b": {"id": "cus_2", "email": "x"}, "d": ""}}),
        );
        assert_eq!(out, r#""cus_1" "cus_2" null null"#);
    }
}
