//! `{% record r = 'modules/payments/payment', operation: 'upsert', match: m,
//! properties: p %}`: write a record from a webhook processor (or any
//! template whose host allows it) and assign the written record.
//! `operation` is create, update, upsert, delete or none, with the defaults
//! response mappers have (update with an `id`, create without); `id` or
//! `match` choose the record for update/upsert/delete.

use std::io::Write;

use liquid_core::model::KString;
use liquid_core::{Language, ParseTag, Renderable, TagReflection, TagTokenIter};
use liquid_core::{Result, Runtime};
use serde_json::Value as Json;

use super::args::{name_text, parse_assignment, parse_value, require_host, tag_error, ArgValue, TagArgs};
use crate::liquid::host::RecordRequest;
use crate::liquid::value::{json_to_liquid, liquid_to_json};

#[derive(Copy, Clone, Debug, Default)]
pub struct RecordTag;

impl TagReflection for RecordTag {
    fn tag(&self) -> &'static str {
        "record"
    }

    fn description(&self) -> &'static str {
        "Writes a record: {% record r = 'model', operation: 'upsert', match: m, properties: p %}."
    }
}

const USAGE: &str = "{% record r = 'modules/payments/payment', operation: 'upsert', match: m, properties: p %}";

impl ParseTag for RecordTag {
    fn parse(&self, mut arguments: TagTokenIter<'_>, options: &Language) -> Result<Box<dyn Renderable>> {
        let result = parse_assignment(&mut arguments, USAGE)?;
        let model = parse_value(
            arguments.expect_next(&format!("model expected; usage: {USAGE}"))?,
            options,
        )?;
        let mut args = TagArgs::parse(&mut arguments, options)?;
        args.allow_only("record", &["operation", "id", "match", "properties", "unset"])?;
        args.at_most_positional("record", 0, USAGE)?;
        Ok(Box::new(RecordStatement {
            result,
            model,
            operation: args.take_named("operation"),
            id: args.take_named("id"),
            matching: args.take_named("match"),
            properties: args.take_named("properties"),
            unset: args.take_named("unset"),
        }))
    }

    fn reflection(&self) -> &dyn TagReflection {
        self
    }
}

/// One parsed `{% record %}`: where the result goes and the write's parts.
#[derive(Debug)]
struct RecordStatement {
    result: KString,
    model: ArgValue,
    operation: Option<ArgValue>,
    id: Option<ArgValue>,
    matching: Option<ArgValue>,
    properties: Option<ArgValue>,
    unset: Option<ArgValue>,
}

fn object_of(
    tag_arg: &Option<ArgValue>,
    what: &str,
    runtime: &dyn Runtime,
) -> Result<Option<serde_json::Map<String, Json>>> {
    match tag_arg {
        None => Ok(None),
        Some(value) => match liquid_to_json(&value.evaluate(runtime)?) {
            Json::Object(map) => Ok(Some(map)),
            Json::Null => Ok(None),
            other => Err(tag_error("record", format!("{what} must be a hash, got {other}"))),
        },
    }
}

/// `unset: ["a", "b"]`: property names to clear.
fn names_of(tag_arg: &Option<ArgValue>, runtime: &dyn Runtime) -> Result<Vec<String>> {
    let Some(value) = tag_arg else {
        return Ok(Vec::new());
    };
    match liquid_to_json(&value.evaluate(runtime)?) {
        Json::Null => Ok(Vec::new()),
        Json::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Json::String(name) => Ok(name),
                other => Err(tag_error("record", format!("unset takes property names, got {other}"))),
            })
            .collect(),
        other => Err(tag_error(
            "record",
            format!("unset must be a list of names, got {other}"),
        )),
    }
}

impl Renderable for RecordStatement {
    fn render_to(&self, _writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let model = name_text("record", "the model", &self.model.evaluate(runtime)?)?;
        let operation = match &self.operation {
            Some(op) => Some(name_text("record", "the operation", &op.evaluate(runtime)?)?),
            None => None,
        };
        let id = match &self.id {
            Some(id) => Some(liquid_to_json(&id.evaluate(runtime)?)).filter(|v| !v.is_null()),
            None => None,
        };
        let request = RecordRequest {
            model: model.clone(),
            operation,
            id,
            matching: object_of(&self.matching, "match", runtime)?,
            properties: object_of(&self.properties, "properties", runtime)?.unwrap_or_default(),
            unset: names_of(&self.unset, runtime)?,
        };
        let host = require_host("record")?;
        let record = host
            .write_record(request)
            .map_err(|err| tag_error("record", format!("{model}: {err}")))?;
        runtime.set_global(self.result.clone(), json_to_liquid(&record));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::liquid::host::{with_host, GraphqlSource, HostError, RenderHost};
    use serde_json::{json, Map, Value};
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl RenderHost for Recorder {
        fn include_form(&self, _: &str, _: Map<String, Value>) -> std::result::Result<String, HostError> {
            unreachable!()
        }
        fn form_block(&self, _: &str, _: Map<String, Value>) -> std::result::Result<String, HostError> {
            unreachable!()
        }
        fn graphql(&self, _: GraphqlSource<'_>, _: Map<String, Value>) -> std::result::Result<Value, HostError> {
            unreachable!()
        }
        fn dispatch(&self, _: &str, _: Value) -> std::result::Result<Value, HostError> {
            unreachable!()
        }
        fn log(&self, _: &str, _: &str) {}
        fn asset_url(&self, path: &str) -> String {
            path.into()
        }
        fn write_record(&self, r: RecordRequest) -> std::result::Result<Value, HostError> {
            self.0.lock().unwrap().push(format!(
                "{} {} {:?} {}",
                r.model,
                r.operation.as_deref().unwrap_or("default"),
                r.matching.map(Value::Object),
                Value::Object(r.properties.clone())
            ));
            if r.model == "fail" {
                return Err(HostError("no such model".into()));
            }
            Ok(json!({"id": "7", "state": r.properties.get("state")}))
        }
    }

    fn render(source: &str, globals: liquid_core::Object) -> (std::result::Result<String, String>, Vec<String>) {
        let parser = crate::liquid::parser_builder().build().unwrap();
        let host = Arc::new(Recorder::default());
        let out = with_host(host.clone(), || {
            parser
                .parse(source)
                .map_err(|e| e.to_string())?
                .render(&globals)
                .map_err(|e| e.to_string())
        });
        let calls = host.0.lock().unwrap().clone();
        (out, calls)
    }

    #[test]
    fn writes_and_assigns() {
        let (out, calls) = render(
            "{% record p = 'modules/payments/payment', operation: 'upsert', match: m, properties: props %}{{ p.id }}:{{ p.state }}",
            liquid_core::object!({"m": {"gateway_id": "pi_1"}, "props": {"state": "succeeded"}}),
        );
        assert_eq!(out.unwrap(), "7:succeeded");
        assert_eq!(
            calls,
            vec![
                r#"modules/payments/payment upsert Some(Object {"gateway_id": String("pi_1")}) {"state":"succeeded"}"#
                    .to_string()
            ]
        );
    }

    #[test]
    fn errors_and_usage() {
        let (out, _) = render("{% record p = 'fail', operation: 'create' %}", liquid_core::object!({}));
        assert!(out.unwrap_err().contains("no such model"));
        let (out, _) = render("{% record p = 'm', properties: 'text' %}", liquid_core::object!({}));
        assert!(out.unwrap_err().contains("must be a hash"));
        let (out, _) = render("{% record p = 'm', bogus: 1 %}", liquid_core::object!({}));
        assert!(out.unwrap_err().contains("unknown argument"));
    }
}
