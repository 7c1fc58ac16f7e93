//! `{% parse_json var %}{ "a": {{ x | json }} }{% endparse_json %}`: renders
//! the body, parses it as JSON and assigns the result to `var`. A body of
//! only whitespace assigns nil. The name may be quoted, as platformOS
//! modules write it: `{% parse_json "data" %}`, `{% parse_json 'data' %}`.

use std::io::Write;

use liquid_core::error::ResultLiquidExt;
use liquid_core::model::KString;
use liquid_core::{BlockReflection, Language, ParseBlock, Renderable, TagBlock, TagTokenIter};
use liquid_core::{Result, Runtime, Template, Value};

use super::args::{tag_error, variable_name};
use crate::liquid::value::json_to_liquid;

const USAGE: &str = "{% parse_json name %}JSON{% endparse_json %}";

#[derive(Copy, Clone, Debug, Default)]
pub struct ParseJsonBlock;

impl BlockReflection for ParseJsonBlock {
    fn start_tag(&self) -> &str {
        "parse_json"
    }

    fn end_tag(&self) -> &str {
        "endparse_json"
    }

    fn description(&self) -> &str {
        "Renders the body, parses it as JSON and assigns the result."
    }
}

impl ParseBlock for ParseJsonBlock {
    fn parse(
        &self,
        mut arguments: TagTokenIter<'_>,
        mut tokens: TagBlock<'_, '_>,
        options: &Language,
    ) -> Result<Box<dyn Renderable>> {
        let variable: KString =
            variable_name(arguments.expect_next("variable name expected")?, "variable name", USAGE)?;
        arguments.expect_nothing()?;
        let body = Template::new(
            tokens
                .parse_all(options)
                .trace_with(|| format!("{{% parse_json {variable} %}}").into())?,
        );
        Ok(Box::new(ParseJson { variable, body }))
    }

    fn reflection(&self) -> &dyn BlockReflection {
        self
    }
}

#[derive(Debug)]
struct ParseJson {
    variable: KString,
    body: Template,
}

impl Renderable for ParseJson {
    fn render_to(&self, _writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let trace = || format!("{{% parse_json {} %}}", self.variable);
        let mut rendered = Vec::new();
        self.body
            .render_to(&mut rendered, runtime)
            .trace_with(|| trace().into())?;
        let text = String::from_utf8_lossy(&rendered);
        let value = if text.trim().is_empty() {
            Value::Nil
        } else {
            let json: serde_json::Value = serde_json::from_str(&text).map_err(|err| {
                tag_error(
                    "parse_json",
                    format!("invalid JSON for variable {:?}: {err}", self.variable.as_str()),
                )
                .trace(trace())
            })?;
            json_to_liquid(&json)
        };
        runtime.set_global(self.variable.clone(), value);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::liquid::test_support::{render, render_err};
    use liquid_core::object;

    #[test]
    fn parses_rendered_json_into_a_variable() {
        let out = render(
            r#"{% parse_json data %}{ "amount": {{ amount | json }}, "name": {{ name | json }}, "tags": ["a"] }{% endparse_json %}{{ data.amount }}|{{ data.name }}|{{ data.tags[0] }}"#,
            object!({"amount": 599, "name": "Zoë \"Z\""}),
        );
        assert_eq!(out, "599|Zoë \"Z\"|a");
    }

    #[test]
    fn nested_objects_and_nil() {
        let out = render(
            r#"{% parse_json d %}{"a":{"b":{"c":null, "e": "✓"}}}{% endparse_json %}{{ d.a.b.e }}{% if d.a.b.c == nil %}-nil{% endif %}"#,
            object!({}),
        );
        assert_eq!(out, "✓-nil");
    }

    #[test]
    fn empty_body_assigns_nil() {
        let out = render(
            "{% parse_json d %} \n {% endparse_json %}{% if d == nil %}nil{% endif %}",
            object!({}),
        );
        assert_eq!(out, "nil");
    }

    #[test]
    fn body_output_is_not_written() {
        let out = render("a{% parse_json d %}[1, 2]{% endparse_json %}b{{ d.size }}", object!({}));
        assert_eq!(out, "ab2");
    }

    #[test]
    fn invalid_json_names_the_variable_and_the_error() {
        let err = render_err("{% parse_json payload %}{ \"a\": {% endparse_json %}", object!({}));
        assert!(err.contains("payload") && err.contains("EOF"), "{err}");
    }

    #[test]
    fn quoted_variable_names_as_platformos_writes_them() {
        let out = render(
            "{%- parse_json \"data\" -%}{\"a\": 1}{%- endparse_json -%}{% parse_json 'cfg' %}[2]{% endparse_json %}{{ data.a }}{{ cfg[0] }}",
            object!({}),
        );
        assert_eq!(out, "12");
        let err = render_err("{% parse_json 'a b' %}{}{% endparse_json %}", object!({}));
        assert!(err.contains("variable name expected"), "{err}");
        let err = render_err("{% parse_json '' %}{}{% endparse_json %}", object!({}));
        assert!(err.contains("variable name expected"), "{err}");
    }

    #[test]
    fn missing_variable_name_is_a_parse_error() {
        let err = render_err("{% parse_json %}{}{% endparse_json %}", object!({}));
        assert!(err.contains("variable name expected"), "{err}");
        let err = render_err("{% parse_json a b %}{}{% endparse_json %}", object!({}));
        assert!(!err.is_empty());
    }
}
