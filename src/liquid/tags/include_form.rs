//! `{% include_form 'modules/stripe/create_payment', data: d, config: c %}`:
//! the host renders the named form configuration; its HTML is written as is.

use std::io::Write;

use liquid_core::error::ResultLiquidReplaceExt;
use liquid_core::{Language, ParseTag, Renderable, TagReflection, TagTokenIter};
use liquid_core::{Result, Runtime};

use super::args::{name_text, named_to_json, require_host, tag_error, ArgValue, TagArgs};

#[derive(Copy, Clone, Debug, Default)]
pub struct IncludeFormTag;

impl TagReflection for IncludeFormTag {
    fn tag(&self) -> &'static str {
        "include_form"
    }

    fn description(&self) -> &'static str {
        "Renders a form configuration: {% include_form 'name', data: d, config: c %}."
    }
}

const USAGE: &str = "{% include_form 'form/name', data: hash, config: hash %}";

impl ParseTag for IncludeFormTag {
    fn parse(&self, mut arguments: TagTokenIter<'_>, options: &Language) -> Result<Box<dyn Renderable>> {
        let mut args = TagArgs::parse(&mut arguments, options)?;
        args.at_most_positional("include_form", 1, USAGE)?;
        let Some((_, name)) = args.positional.pop() else {
            return Err(arguments.raise_error(&format!("form name expected; usage: {USAGE}")));
        };
        Ok(Box::new(IncludeForm { name, args: args.named }))
    }

    fn reflection(&self) -> &dyn TagReflection {
        self
    }
}

#[derive(Debug)]
struct IncludeForm {
    name: ArgValue,
    args: Vec<(String, ArgValue)>,
}

impl Renderable for IncludeForm {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let name = name_text("include_form", "the form name", &self.name.evaluate(runtime)?)?;
        let args = named_to_json(&self.args, runtime)?;
        let host = require_host("include_form")?;
        let html = host
            .include_form(&name, args)
            .map_err(|err| tag_error("include_form", format!("form {name} failed: {err}")))?;
        writer.write_all(html.as_bytes()).replace("failed to render")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::liquid::test_support::{render_err, render_with_host};
    use liquid_core::object;

    #[test]
    fn writes_the_host_html_with_all_arguments() {
        let (out, calls) = render_with_host(
            "<main>{% include_form 'modules/stripe/create_payment', data: d, config: c, extra: 'é' %}</main>",
            object!({"d": {"amount": 599}, "c": {"currency": "usd"}}),
        );
        // Arguments in source order; keys inside hashes sorted.
        let expected_args = r#"{"data":{"amount":599},"config":{"currency":"usd"},"extra":"é"}"#;
        assert_eq!(
            out.unwrap(),
            format!("<main><div data-form=\"modules/stripe/create_payment\">{expected_args}</div></main>")
        );
        assert_eq!(
            calls,
            vec![format!("include_form modules/stripe/create_payment {expected_args}")]
        );
    }

    #[test]
    fn name_from_a_variable_and_no_arguments() {
        let (out, calls) = render_with_host("{% include_form f %}", object!({"f": "x/y"}));
        assert_eq!(out.unwrap(), "<div data-form=\"x/y\">{}</div>");
        assert_eq!(calls.len(), 1);
    }

    #[test]
    fn failures() {
        let (out, _) = render_with_host("{% include_form 'x/fail' %}", object!({}));
        assert!(out.unwrap_err().contains("form x/fail failed"));
        let (out, calls) = render_with_host("{% include_form missing %}", object!({}));
        assert!(out.unwrap_err().contains("form name"));
        assert!(calls.is_empty());
        assert!(render_err("{% include_form 'x' %}", object!({})).contains("no render host"));
        assert!(render_err("{% include_form %}", object!({})).contains("form name expected"));
        assert!(render_err("{% include_form 'a', 'b' %}", object!({})).contains("unexpected"));
    }
}
