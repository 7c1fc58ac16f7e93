//! `{% form html-class: 'x' %}BODY{% endform %}`: renders BODY, then the host
//! wraps it in the `<form>` element (CSRF token, signed state, idempotency
//! key) of the form being rendered. The host's HTML is written as is.

use std::io::Write;

use liquid_core::error::{ResultLiquidExt, ResultLiquidReplaceExt};
use liquid_core::{BlockReflection, Language, ParseBlock, Renderable, TagBlock, TagTokenIter};
use liquid_core::{Result, Runtime, Template};

use super::args::{named_to_json, require_host, tag_error, ArgValue, TagArgs};

#[derive(Copy, Clone, Debug, Default)]
pub struct FormBlock;

impl BlockReflection for FormBlock {
    fn start_tag(&self) -> &str {
        "form"
    }

    fn end_tag(&self) -> &str {
        "endform"
    }

    fn description(&self) -> &str {
        "Wraps the rendered body in the current form's <form> element."
    }
}

impl ParseBlock for FormBlock {
    fn parse(
        &self,
        mut arguments: TagTokenIter<'_>,
        mut tokens: TagBlock<'_, '_>,
        options: &Language,
    ) -> Result<Box<dyn Renderable>> {
        let args = TagArgs::parse(&mut arguments, options)?;
        args.at_most_positional("form", 0, "{% form html-class: 'x' %}...{% endform %}")?;
        let body = Template::new(tokens.parse_all(options).trace("{% form %}")?);
        Ok(Box::new(Form { args: args.named, body }))
    }

    fn reflection(&self) -> &dyn BlockReflection {
        self
    }
}

#[derive(Debug)]
struct Form {
    args: Vec<(String, ArgValue)>,
    body: Template,
}

impl Renderable for Form {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let mut body = Vec::new();
        self.body.render_to(&mut body, runtime).trace("{% form %}")?;
        let body = String::from_utf8_lossy(&body);
        let args = named_to_json(&self.args, runtime)?;
        let host = require_host("form")?;
        let html = host
            .form_block(&body, args)
            .map_err(|err| tag_error("form", format!("form failed: {err}")))?;
        writer.write_all(html.as_bytes()).replace("failed to render")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::liquid::test_support::{render_err, render_with_host};
    use liquid_core::object;

    #[test]
    fn wraps_the_rendered_body() {
        let (out, calls) = render_with_host(
            "<p>{% form html-class: 'pay', id: x %}<input value=\"{{ v }}\">{% endform %}</p>",
            object!({"x": 7, "v": "ü"}),
        );
        assert_eq!(
            out.unwrap(),
            r#"<p><form {"html-class":"pay","id":7}><input value="ü"></form></p>"#
        );
        assert_eq!(calls, vec![r#"form_block {"html-class":"pay","id":7}"#.to_string()]);
    }

    #[test]
    fn empty_body_without_arguments() {
        let (out, _) = render_with_host("{% form %}{% endform %}", object!({}));
        assert_eq!(out.unwrap(), "<form {}></form>");
    }

    #[test]
    fn nested_tags_in_the_body_run_before_wrapping() {
        let (out, _) = render_with_host(
            "{% form %}{% for i in (1..2) %}{{ i }}{% endfor %}{% assign z = 'set' %}{% endform %}{{ z }}",
            object!({}),
        );
        assert_eq!(out.unwrap(), "<form {}>12</form>set");
    }

    #[test]
    fn failures() {
        let (out, _) = render_with_host("{% form %}fail{% endform %}", object!({}));
        assert!(out.unwrap_err().contains("form failed"));
        assert!(render_err("{% form %}x{% endform %}", object!({})).contains("no render host"));
        assert!(render_err("{% form 'x' %}{% endform %}", object!({})).contains("unexpected"));
        assert!(!render_err("{% form %}x", object!({})).is_empty());
    }
}
