//! `{% render 'path/to/partial', a: 1 %}`: the partial renders in an
//! isolated scope, as in platformOS: it sees only its arguments (and
//! `context`), never the caller's variables, and its `assign`s stay inside.
//! `with value` / `for items` (optionally `as name`) bind like
//! [`include`](super::include). Replaces liquid-lib's `render` (which needs
//! `as` and fails on undefined arguments). Nesting is limited
//! ([`super::nesting`]).

use std::io::Write;

use liquid_core::{Language, ParseTag, Renderable, TagReflection, TagTokenIter};
use liquid_core::{Result, Runtime};

use super::include::PartialCall;
use super::isolated::IsolatedFrame;
use super::nesting;

#[derive(Copy, Clone, Debug, Default)]
pub struct RenderTag;

impl TagReflection for RenderTag {
    fn tag(&self) -> &'static str {
        "render"
    }

    fn description(&self) -> &'static str {
        "Renders a partial that sees only its arguments: {% render 'name', a: 1 %}."
    }
}

const USAGE: &str = "{% render 'partial/name', var: value %} (or with value / for items)";

impl ParseTag for RenderTag {
    fn parse(&self, mut arguments: TagTokenIter<'_>, options: &Language) -> Result<Box<dyn Renderable>> {
        Ok(Box::new(Render(PartialCall::parse(
            "render",
            USAGE,
            &mut arguments,
            options,
        )?)))
    }

    fn reflection(&self) -> &dyn TagReflection {
        self
    }
}

#[derive(Debug)]
struct Render(PartialCall);

impl Renderable for Render {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let call = &self.0;
        let name = call.name("render", runtime)?;
        for vars in call.scopes(&name, runtime)? {
            let _level = nesting::enter("render", &name)?;
            call.render_in("render", &name, &IsolatedFrame::new(runtime, vars), writer)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::liquid::test_support::{render_with_partials, try_render};
    use liquid_core::object;

    #[test]
    fn the_partial_sees_only_its_arguments() {
        let out = render_with_partials(
            "{% assign secret = 's' %}{% render 'card', amount: 5, missing: nope %}|{{ inner | default: 'gone' }}|{{ amount }}",
            &[(
                "card",
                "[{{ amount }}{% if secret %}{{ secret }}{% endif %}{% if missing == nil %}-nil{% endif %}]{% assign inner = 'i' %}{{ inner }}",
            )],
            object!({"amount": "outer", "inner": nil}),
        );
        assert_eq!(out, "[5-nil]i|gone|outer");
        let out = render_with_partials(
            "{% assign secret = 's' %}{% render 'p' %}",
            &[("p", "[{{ secret }}]")],
            object!({}),
        );
        assert_eq!(out, "[]");
        let err = try_render(
            "{% render 'p' %}",
            &[("p", "{{ secret.key }}")],
            &object!({"secret": {"key": 1}}),
        )
        .unwrap_err();
        assert!(err.contains("Unknown variable") && err.contains("secret"), "{err}");
    }

    #[test]
    fn context_is_shared_and_export_reaches_the_page() {
        let out = render_with_partials(
            "{% render 'p' %}{{ context.exports.ns.v }}",
            &[(
                "p",
                "{{ context.path }}{% assign v = 'ü' %}{% export v, namespace: 'ns' %}",
            )],
            object!({"context": {"path": "/pay"}}),
        );
        assert_eq!(out, "/payü");
    }

    #[test]
    fn with_and_for_bind_the_partial_name() {
        let out = render_with_partials(
            "{% render 'shop/product' with p, item: nil, tail: '' %}|{% render 'shop/product' for list, tail: '.', item: nil %}|{% render 'shop/product' with p as item, product: nil, tail: '' %}",
            &[(
                "shop/product",
                "{% if product %}{{ product.name }}{% endif %}{% if item %}{{ item.name }}{% endif %}{{ tail }}",
            )],
            object!({"p": {"name": "A"}, "list": [{"name": "B"}, {"name": "C"}]}),
        );
        assert_eq!(out, "A|B.C.|A");
        let out = render_with_partials(
            "{% render 'shop/product' for list %}",
            &[(
                "shop/product",
                "{{ forloop.index }}{{ product.name }}{% unless forloop.last %},{% endunless %}",
            )],
            object!({"list": [{"name": "B"}, {"name": "C"}]}),
        );
        assert_eq!(out, "1B,2C");
    }

    #[test]
    fn errors_and_recursion() {
        let err = try_render("{% render 'nope' %}", &[], &object!({})).unwrap_err();
        assert!(err.contains("nope"), "{err}");
        let err = try_render("{% render 'r' %}", &[("r", "{% render 'r' %}")], &object!({})).unwrap_err();
        assert!(err.contains("levels deep"), "{err}");
        let err = try_render("{% render %}", &[], &object!({})).unwrap_err();
        assert!(err.contains("partial name expected"), "{err}");
    }
}
