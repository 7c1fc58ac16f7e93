//! `{% dispatch r = 'modules/stripe/create_customer', data: hash %}`: runs a
//! request type through the host and assigns its outcome
//! (`{ record, errors, response }`). Missing or nil `data` sends `{}`.

use std::io::Write;

use liquid_core::model::KString;
use liquid_core::{Language, ParseTag, Renderable, TagReflection, TagTokenIter};
use liquid_core::{Result, Runtime};

use super::args::{name_text, parse_assignment, parse_value, require_host, tag_error, ArgValue, TagArgs};
use crate::liquid::value::{json_to_liquid, liquid_to_json};

#[derive(Copy, Clone, Debug, Default)]
pub struct DispatchTag;

impl TagReflection for DispatchTag {
    fn tag(&self) -> &'static str {
        "dispatch"
    }

    fn description(&self) -> &'static str {
        "Runs a request type: {% dispatch r = 'module/request_type', data: hash %}."
    }
}

const USAGE: &str = "{% dispatch r = 'modules/stripe/create_customer', data: hash %}";

impl ParseTag for DispatchTag {
    fn parse(&self, mut arguments: TagTokenIter<'_>, options: &Language) -> Result<Box<dyn Renderable>> {
        let result = parse_assignment(&mut arguments, USAGE)?;
        let request_type = arguments.expect_next(&format!("request type expected; usage: {USAGE}"))?;
        let request_type = parse_value(request_type, options)?;
        let mut args = TagArgs::parse(&mut arguments, options)?;
        args.allow_only("dispatch", &["data"])?;
        args.at_most_positional("dispatch", 0, USAGE)?;
        let data = args.take_named("data");
        Ok(Box::new(Dispatch {
            result,
            request_type,
            data,
        }))
    }

    fn reflection(&self) -> &dyn TagReflection {
        self
    }
}

#[derive(Debug)]
struct Dispatch {
    result: KString,
    request_type: ArgValue,
    data: Option<ArgValue>,
}

impl Renderable for Dispatch {
    fn render_to(&self, _writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let request_type = name_text("dispatch", "the request type", &self.request_type.evaluate(runtime)?)?;
        let data = match &self.data {
            Some(data) => liquid_to_json(&data.evaluate(runtime)?),
            None => serde_json::Value::Null,
        };
        let data = if data.is_null() {
            serde_json::Value::Object(serde_json::Map::new())
        } else {
            data
        };
        let host = require_host("dispatch")?;
        let outcome = host.dispatch(&request_type, data).map_err(|err| {
            tag_error("dispatch", format!("{request_type} failed: {err}")).context("result", self.result.to_string())
        })?;
        runtime.set_global(self.result.clone(), json_to_liquid(&outcome));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::liquid::test_support::{render_err, render_with_host};
    use liquid_core::object;

    #[test]
    fn dispatches_with_data_and_assigns_the_outcome() {
        let (out, calls) = render_with_host(
            "{% dispatch r = 'modules/stripe/create_customer', data: d %}{{ r.record.type }}|{{ r.record.data.email }}|{{ r.errors.size }}",
            object!({"d": {"email": "zoë@example.com", "metadata": {"a": [1]}}}),
        );
        assert_eq!(out.unwrap(), "modules/stripe/create_customer|zoë@example.com|0");
        assert_eq!(
            calls,
            vec![
                r#"dispatch modules/stripe/create_customer {"email":"zoë@example.com","metadata":{"a":[1]}}"#
                    .to_string()
            ]
        );
    }

    #[test]
    fn missing_or_nil_data_sends_an_empty_object() {
        let (_, calls) = render_with_host(
            "{% dispatch r = 'a/b' %}{% dispatch r = 'a/b', data: nothing %}",
            object!({}),
        );
        assert_eq!(
            calls,
            vec!["dispatch a/b {}".to_string(), "dispatch a/b {}".to_string()]
        );
    }

    #[test]
    fn data_may_be_built_with_filters() {
        let (_, calls) = render_with_host(
            "{% dispatch r = rt, data: '{\"k\": 1}' | to_hash %}",
            object!({"rt": "x/y"}),
        );
        assert_eq!(calls, vec![r#"dispatch x/y {"k":1}"#.to_string()]);
    }

    #[test]
    fn host_failure_and_missing_host() {
        let (out, _) = render_with_host("{% dispatch r = 'x/fail' %}", object!({}));
        assert!(out.unwrap_err().contains("x/fail failed"));
        assert!(render_err("{% dispatch r = 'x/y' %}", object!({})).contains("no render host"));
        let (out, calls) = render_with_host("{% dispatch r = rt_name %}", object!({"rt_name": ""}));
        assert!(out.unwrap_err().contains("request type"));
        assert!(calls.is_empty());
    }

    #[test]
    fn usage_errors() {
        for bad in [
            "{% dispatch %}",
            "{% dispatch r %}",
            "{% dispatch r 'x' %}",
            "{% dispatch r = %}",
            "{% dispatch r = 'x', body: d %}",
            "{% dispatch r = 'x', d %}",
        ] {
            assert!(!render_err(bad, object!({})).is_empty(), "{bad}");
        }
    }
}
