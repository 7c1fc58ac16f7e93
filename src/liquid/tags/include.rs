//! `{% include 'modules/stripe/card_fields', amount: 599, label: x %}`
//! (platformOS/Shopify style; the comma after the name is optional).
//!
//! Replaces liquid-lib's `include`, which rejects the comma after the name
//! and fails on an argument whose variable is undefined.
//!
//! Binding forms, as in platformOS:
//! - `{% include 'form/inputs/text' with "Country", value: x %}` binds the
//!   value to the variable named after the partial's last path segment
//!   (`text`), or to `as name` when given;
//! - `{% include 'row' for items %}` renders the partial once per item with
//!   the item bound the same way (no `forloop`, as in platformOS); a value
//!   that is not an array renders once.
//!
//! Scoping: the named arguments live in a scope pushed for the partial only,
//! so they shadow outer variables of the same name inside the partial and
//! are gone afterwards. Everything else is shared with the caller, as in
//! Liquid's `include`: the partial sees the caller's variables, and its
//! `assign`/`capture` write the caller's globals (visible after the include).
//! Nesting is limited ([`super::nesting`]).

use std::io::Write;

use liquid_core::error::ResultLiquidExt;
use liquid_core::model::KString;
use liquid_core::parser::TagToken;
use liquid_core::runtime::StackFrame;
use liquid_core::{Language, Object, ParseTag, Renderable, TagReflection, TagTokenIter};
use liquid_core::{Result, Runtime, Value};

use super::args::{name_text, named_to_object, parse_value, ArgValue, TagArgs};
use super::nesting;

#[derive(Copy, Clone, Debug, Default)]
pub struct IncludeTag;

impl TagReflection for IncludeTag {
    fn tag(&self) -> &'static str {
        "include"
    }

    fn description(&self) -> &'static str {
        "Renders a partial with named variables: {% include 'name', a: 1 %}, {% include 'name' with v %}, {% include 'name' for items %}."
    }
}

const USAGE: &str = "{% include 'partial/name', var: value %} (or with value / for items)";

/// `with value` or `for items` after a partial's name.
#[derive(Debug)]
pub(crate) struct Binding {
    each: bool,
    value: ArgValue,
    /// `as name`; otherwise the partial's last path segment.
    alias: Option<KString>,
}

/// What follows a partial's name: an optional binding, then named
/// arguments (`render` and `include` share it).
pub(crate) struct PartialCall {
    pub source: String,
    pub name: ArgValue,
    pub binding: Option<Binding>,
    pub vars: Vec<(String, ArgValue)>,
}

impl PartialCall {
    pub(crate) fn parse(tag: &str, usage: &str, arguments: &mut TagTokenIter<'_>, options: &Language) -> Result<Self> {
        let name_token = arguments.expect_next(&format!("partial name expected; usage: {usage}"))?;
        let source = name_token.as_str().to_owned();
        let name = parse_value(name_token, options)?;
        let next = arguments.next();
        let mut first_named = None;
        let (binding, pending) = match next {
            Some(token) if matches!(token.as_str(), "with" | "for") => {
                let keyword = token.as_str().to_owned();
                let value = arguments.expect_next(&format!("value expected after {keyword}; usage: {usage}"))?;
                if value.as_str() == ":" {
                    // `with: x` is an argument that happens to be named `with`.
                    let value = arguments.expect_next("value expected after \":\"")?;
                    first_named = Some((keyword, parse_value(value, options)?));
                    (None, None)
                } else {
                    let value = parse_value(value, options)?;
                    let (alias, pending) = parse_alias(arguments, usage)?;
                    let each = keyword == "for";
                    (Some(Binding { each, value, alias }), pending)
                }
            }
            other => (None, other),
        };
        let mut args = TagArgs::parse_from(pending, arguments, options)?;
        args.at_most_positional(tag, 0, usage)?;
        if let Some(named) = first_named {
            args.named.insert(0, named);
        }
        Ok(PartialCall {
            source,
            name,
            binding,
            vars: args.named,
        })
    }

    /// The partial's name, evaluated.
    pub(crate) fn name(&self, tag: &str, runtime: &dyn Runtime) -> Result<String> {
        name_text(tag, "the partial name", &self.name.evaluate(runtime)?)
    }

    /// Renders the partial `name` once in `scope` (one of [`Self::scopes`],
    /// framed by the tag), its errors traced to the tag.
    pub(crate) fn render_in(&self, tag: &str, name: &str, scope: &dyn Runtime, writer: &mut dyn Write) -> Result<()> {
        let trace = || format!("{{% {tag} {} %}}", self.source);
        let partial = scope.partials().get(name).trace_with(|| trace().into())?;
        partial
            .render_to(writer, scope)
            .trace_with(|| trace().into())
            .context_key("partial")
            .value_with(|| name.to_string().into())
    }

    /// The variables of each rendering: one object, or one per item for
    /// `for`, each with its `forloop` (as a `for` block's).
    pub(crate) fn scopes(&self, name: &str, runtime: &dyn Runtime) -> Result<Vec<Object>> {
        let vars = named_to_object(&self.vars, runtime)?;
        let Some(binding) = &self.binding else {
            return Ok(vec![vars]);
        };
        let variable = binding
            .alias
            .clone()
            .unwrap_or_else(|| KString::from(name.rsplit('/').next().unwrap_or(name).to_owned()));
        let value = binding.value.evaluate(runtime)?;
        let (items, each) = match value {
            Value::Array(items) if binding.each => (items, true),
            other => (vec![other], false),
        };
        let length = items.len();
        Ok(items
            .into_iter()
            .enumerate()
            .map(|(index, item)| {
                let mut scope = vars.clone();
                scope.insert(variable.clone(), item);
                if each {
                    scope.insert("forloop".into(), forloop(index, length));
                }
                scope
            })
            .collect())
    }
}

/// `forloop` for item `index` of `length`, with the members a `for`
/// block's has.
fn forloop(index: usize, length: usize) -> Value {
    let number = |n: usize| Value::scalar(i64::try_from(n).unwrap_or(i64::MAX));
    let mut forloop = Object::new();
    forloop.insert("length".into(), number(length));
    forloop.insert("index".into(), number(index + 1));
    forloop.insert("index0".into(), number(index));
    forloop.insert("rindex".into(), number(length - index));
    forloop.insert("rindex0".into(), number(length - index - 1));
    forloop.insert("first".into(), Value::scalar(index == 0));
    forloop.insert("last".into(), Value::scalar(index + 1 == length));
    Value::Object(forloop)
}

/// An optional `as name` after a binding's value; returns the token after it.
fn parse_alias<'a>(arguments: &mut TagTokenIter<'a>, usage: &str) -> Result<(Option<KString>, Option<TagToken<'a>>)> {
    match arguments.next() {
        Some(token) if token.as_str() == "as" => {
            let alias: KString = arguments
                .expect_next(&format!("variable name expected after as; usage: {usage}"))?
                .expect_identifier()
                .into_result_custom_msg(&format!("variable name expected after as; usage: {usage}"))?
                .to_owned()
                .into();
            Ok((Some(alias), arguments.next()))
        }
        other => Ok((None, other)),
    }
}

impl ParseTag for IncludeTag {
    fn parse(&self, mut arguments: TagTokenIter<'_>, options: &Language) -> Result<Box<dyn Renderable>> {
        Ok(Box::new(Include(PartialCall::parse(
            "include",
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
struct Include(PartialCall);

impl std::fmt::Debug for PartialCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PartialCall({})", self.source)
    }
}

impl Renderable for Include {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let call = &self.0;
        let name = call.name("include", runtime)?;
        for vars in call.scopes(&name, runtime)? {
            let _level = nesting::enter("include", &name)?;
            call.render_in("include", &name, &StackFrame::new(runtime, &vars), writer)?;
        }
        Ok(())
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
        let err = crate::liquid::test_support::render_err("{% include 'a' with %}", object!({}));
        assert!(err.contains("value expected after with"), "{err}");
        let err = crate::liquid::test_support::render_err("{% include 'a' with x as %}", object!({}));
        assert!(err.contains("variable name expected after as"), "{err}");
        assert_eq!(
            render("{% comment %}{% include 'x' %}{% endcomment %}", object!({})),
            ""
        );
    }

    const TEXT: (&str, &str) = (
        "modules/stripe/form/inputs/text",
        "<{{ text }}={{ value }}{% if required %}*{% endif %}>",
    );

    #[test]
    fn with_binds_the_last_path_segment() {
        let out = render_with_partials(
            "{% include 'modules/stripe/form/inputs/text' with 'City', value: nil %}|{{ text }}",
            &[TEXT],
            object!({"text": "outer"}),
        );
        assert_eq!(out, "<City=>|outer");
    }

    #[test]
    fn with_from_a_variable_name_and_named_arguments_as_stripe_writes_it() {
        let out = render_with_partials(
            "{% include text_field with \"Country\", value: r.country, required: true %}{% include text_field with 'Zip' value: r.zip %}",
            &[TEXT],
            object!({"text_field": "modules/stripe/form/inputs/text", "r": {"country": "PL", "zip": "00-950"}}),
        );
        assert_eq!(out, "<Country=PL*><Zip=00-950>");
    }

    #[test]
    fn for_renders_once_per_item_and_as_renames() {
        let out = render_with_partials(
            "{% include 'rows/row' for items, sep: ';' %}|{% include 'rows/item' for items as row, sep: ',' %}|{% include 'rows/row' for one, sep: '' %}|{% include 'rows/row' for none %}",
            &[("rows/row", "{{ row.n }}{{ sep }}"), ("rows/item", "{{ row.n }}{{ sep }}")],
            object!({"items": [{"n": 1}, {"n": "é"}], "one": {"n": 7}, "none": []}),
        );
        assert_eq!(out, "1;é;|1,é,|7|");
    }

    #[test]
    fn for_gives_each_item_a_forloop() {
        let out = render_with_partials(
            "{% include 'rows/row' for items %}|{% include 'rows/row' with items %}",
            &[(
                "rows/row",
                "{% if forloop %}{{ forloop.index }}/{{ forloop.length }}{% if forloop.first %}^{% endif %}\
                 {% if forloop.last %}${% endif %}{{ forloop.rindex0 }} {% else %}no loop{% endif %}",
            )],
            object!({"items": [1, 2, 3]}),
        );
        assert_eq!(out, "1/3^2 2/31 3/3$0 |no loop");
    }

    #[test]
    fn arguments_named_with_or_for_are_arguments() {
        let out = render_with_partials(
            "{% include 'p' with: 1, for: 2 %}|{% include 'p', with: 3, for: 4 %}",
            &[("p", "{{ with }}{{ for }}")],
            object!({}),
        );
        assert_eq!(out, "12|34");
    }

    #[test]
    fn a_partial_including_itself_stops_with_an_error() {
        let err = try_render(
            "{% include 'loop' %}",
            &[("loop", "x{% include 'loop' %}")],
            &object!({}),
        )
        .unwrap_err();
        assert!(err.contains("levels deep") && err.contains("loop"), "{err}");
        let err = try_render(
            "{% include 'a' %}",
            &[("a", "{% include 'b' for items %}"), ("b", "{% include 'a' %}")],
            &object!({"items": [1, 2]}),
        )
        .unwrap_err();
        assert!(err.contains("levels deep"), "{err}");
    }
}
