//! `{% include 'modules/stripe/card_fields', amount: 599, label: x %}`
//! (platformOS/Shopify style; the comma after the name is optional).
//!
//! Replaces liquid-lib's `include`, which rejects the comma after the name
//! and fails on an argument whose variable is undefined.
//!
//! Scoping: the named arguments live in a scope pushed for the partial only,
//! so they shadow outer variables of the same name inside the partial and
//! are gone afterwards. Everything else is shared with the caller, as in
//! Liquid's `include`: the partial sees the caller's variables, and its
//! `assign`/`capture` write the caller's globals (visible after the include).

use std::io::Write;

use liquid_core::error::ResultLiquidExt;
use liquid_core::runtime::StackFrame;
use liquid_core::{Language, ParseTag, Renderable, TagReflection, TagTokenIter};
use liquid_core::{Result, Runtime};

use super::args::{name_text, named_to_object, ArgValue, TagArgs};

#[derive(Copy, Clone, Debug, Default)]
pub struct IncludeTag;

impl TagReflection for IncludeTag {
    fn tag(&self) -> &'static str {
        "include"
    }

    fn description(&self) -> &'static str {
        "Renders a partial with named variables: {% include 'name', a: 1, b: x %}."
    }
}

const USAGE: &str = "{% include 'partial/name', var: value %}";

impl ParseTag for IncludeTag {
    fn parse(&self, mut arguments: TagTokenIter<'_>, options: &Language) -> Result<Box<dyn Renderable>> {
        let mut args = TagArgs::parse(&mut arguments, options)?;
        args.at_most_positional("include", 1, USAGE)?;
        let Some((source, name)) = args.positional.pop() else {
            return Err(arguments.raise_error(&format!("partial name expected; usage: {USAGE}")));
        };
        Ok(Box::new(Include {
            source,
            name,
            vars: args.named,
        }))
    }

    fn reflection(&self) -> &dyn TagReflection {
        self
    }
}

#[derive(Debug)]
struct Include {
    /// The name as written, for traces.
    source: String,
    name: ArgValue,
    vars: Vec<(String, ArgValue)>,
}

impl Renderable for Include {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let trace = || format!("{{% include {} %}}", self.source);
        let name = name_text("include", "the partial name", &self.name.evaluate(runtime)?)?;
        let vars = named_to_object(&self.vars, runtime)?;
        let scope = StackFrame::new(runtime, &vars);
        let partial = scope.partials().get(&name).trace_with(|| trace().into())?;
        partial
            .render_to(writer, &scope)
            .trace_with(|| trace().into())
            .context_key("partial")
            .value_with(|| name.clone().into())
    }
}

#[cfg(test)]
mod tests {
    use crate::liquid::test_support::{render, render_with_partials, try_render};
    use liquid_core::object;

    const CARD: (&str, &str) = (
        "modules/stripe/card_fields",
        "[{{ label }}:{{ amount | pricify_cents }}]",
    );

    #[test]
    fn named_variables_are_visible_in_the_partial() {
        let out = render_with_partials(
            "{% include 'modules/stripe/card_fields', amount: 599, label: x %}",
            &[CARD],
            object!({"x": "Pay ✓"}),
        );
        assert_eq!(out, "[Pay ✓:$5.99]");
    }

    #[test]
    fn comma_after_name_is_optional_and_trailing_comma_allowed() {
        let out = render_with_partials(
            "{% include 'modules/stripe/card_fields' amount: 100, label: 'a', %}",
            &[CARD],
            object!({}),
        );
        assert_eq!(out, "[a:$1.00]");
    }

    #[test]
    fn undefined_argument_is_nil_and_arguments_do_not_leak() {
        let out = render_with_partials(
            "{% assign label = 'outer' %}{% include 'p', label: nothing_here %}|{{ label }}",
            &[("p", "{% if label == nil %}nil{% endif %}")],
            object!({}),
        );
        assert_eq!(out, "nil|outer");
    }

    #[test]
    fn partial_sees_caller_variables_and_its_assigns_are_shared() {
        let out = render_with_partials(
            "{% include 'p', a: 1 %}{{ made }}",
            &[("p", "{{ outer }}{{ a }}{% assign made = 'yes' %}")],
            object!({"outer": "o"}),
        );
        assert_eq!(out, "o1yes");
    }

    #[test]
    fn nested_includes_with_hashes() {
        let out = render_with_partials(
            "{% include 'outer', data: d %}",
            &[
                ("outer", "<{% include 'inner', item: data.items[0] %}>"),
                ("inner", "{{ item.name }}={{ item.qty }}"),
            ],
            object!({"d": {"items": [{"name": "é", "qty": 2}]}}),
        );
        assert_eq!(out, "<é=2>");
    }

    #[test]
    fn partial_name_from_a_variable() {
        let out = render_with_partials("{% include n %}", &[("x/y", "hi")], object!({"n": "x/y"}));
        assert_eq!(out, "hi");
    }

    #[test]
    fn errors() {
        let err = try_render("{% include 'nope' %}", &[CARD], &object!({})).unwrap_err();
        assert!(err.contains("nope"), "{err}");
        let err = crate::liquid::test_support::render_err("{% include %}", object!({}));
        assert!(err.contains("partial name expected"), "{err}");
        let err = crate::liquid::test_support::render_err("{% include 'a', 'b' %}", object!({}));
        assert!(err.contains("unexpected"), "{err}");
        assert_eq!(
            render("{% comment %}{% include 'x' %}{% endcomment %}", object!({})),
            ""
        );
    }
}
