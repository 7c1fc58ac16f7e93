//! `{% capture name %}...{% endcapture %}`: renders the body and assigns the
//! text to `name`. Replaces liquid-lib's `capture` so the name may also be
//! quoted, as platformOS modules write it (`{%- capture "signature" -%}`).
//!
//! platformOS also tolerates a filter after the name in the header; no app
//! or module we load writes one, so it is refused rather than guessed at.

use std::io::Write;

use liquid_core::error::ResultLiquidExt;
use liquid_core::model::KString;
use liquid_core::{BlockReflection, Language, ParseBlock, Renderable, TagBlock, TagTokenIter};
use liquid_core::{Result, Runtime, Template, Value};

use super::args::variable_name;

#[derive(Copy, Clone, Debug, Default)]
pub struct CaptureBlock;

impl BlockReflection for CaptureBlock {
    fn start_tag(&self) -> &str {
        "capture"
    }

    fn end_tag(&self) -> &str {
        "endcapture"
    }

    fn description(&self) -> &str {
        "Renders the body and assigns the text: {% capture name %} or {% capture \"name\" %}."
    }
}

const USAGE: &str = "{% capture name %}text{% endcapture %}";

impl ParseBlock for CaptureBlock {
    fn parse(
        &self,
        mut arguments: TagTokenIter<'_>,
        mut tokens: TagBlock<'_, '_>,
        options: &Language,
    ) -> Result<Box<dyn Renderable>> {
        let variable = variable_name(arguments.expect_next("variable name expected")?, "variable name", USAGE)?;
        arguments.expect_nothing()?;
        let body = Template::new(
            tokens
                .parse_all(options)
                .trace_with(|| format!("{{% capture {variable} %}}").into())?,
        );
        tokens.assert_empty();
        Ok(Box::new(Capture { variable, body }))
    }

    fn reflection(&self) -> &dyn BlockReflection {
        self
    }
}

#[derive(Debug)]
struct Capture {
    variable: KString,
    body: Template,
}

impl Renderable for Capture {
    fn render_to(&self, _writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let mut captured = Vec::new();
        self.body
            .render_to(&mut captured, runtime)
            .trace_with(|| format!("{{% capture {} %}}", self.variable).into())?;
        // Every renderer writes UTF-8; a lossy read cannot fail.
        let text = String::from_utf8_lossy(&captured).into_owned();
        runtime.set_global(self.variable.clone(), Value::scalar(text));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::liquid::test_support::{render, render_err};
    use liquid_core::object;

    #[test]
    fn bare_and_quoted_names() {
        let out = render(
            "{% capture x %}a{{ v }}{% endcapture %}{%- capture \"signature\" -%} s={{ v }} {%- endcapture -%}{% capture 'p' %}[{{ x }}]{% endcapture %}{{ x }}|{{ signature }}|{{ p }}",
            object!({"v": "é"}),
        );
        assert_eq!(out, "aé|s=é|[aé]");
    }

    #[test]
    fn capture_inside_a_loop_reassigns() {
        let out = render(
            "{% assign all = '' %}{% for i in (1..3) %}{% capture 'pair' %}k{{ i }}{% endcapture %}{% assign all = all | append: pair %}{% endfor %}{{ all }}",
            object!({}),
        );
        assert_eq!(out, "k1k2k3");
    }

    #[test]
    fn header_errors() {
        assert!(render_err("{% capture %}x{% endcapture %}", object!({})).contains("variable name expected"));
        assert!(render_err("{% capture 'a b' %}x{% endcapture %}", object!({})).contains("variable name expected"));
        assert!(!render_err("{% capture x | strip %}x{% endcapture %}", object!({})).is_empty());
        assert!(!render_err("{% capture x %}x", object!({})).is_empty());
    }
}
