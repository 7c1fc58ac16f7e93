//! `{% function result = 'path/to/partial', arg: 1 %}` and
//! `{% return value %}`, as in platformOS: the partial renders in an
//! isolated scope (only its arguments and `context`, like
//! [`render`](super::render)), its output is discarded, and `result` gets
//! the value its `{% return %}` gave (nil when it returned nothing).
//! `return` stops the partial at once. Functions nest (a function calling a
//! function), within the partial nesting limit ([`super::nesting`]).
//!
//! `return` unwinds like an error carrying no message the page ever sees:
//! the value waits in a per-thread slot of the innermost call, and the
//! function tag takes it from there.

use std::cell::RefCell;
use std::io::Write;

use liquid_core::error::ResultLiquidExt;
use liquid_core::model::KString;
use liquid_core::{Language, ParseTag, Renderable, TagReflection, TagTokenIter};
use liquid_core::{Result, Runtime, Value};

use super::args::{parse_assignment, parse_value, tag_error, ArgValue};
use super::include::PartialCall;
use super::isolated::IsolatedFrame;
use super::nesting;

thread_local! {
    /// One slot per function call being rendered, innermost last.
    static RETURNS: RefCell<Vec<Option<Value>>> = const { RefCell::new(Vec::new()) };
}

/// The return slot of one call; removed when the call ends (even on error).
struct CallSlot {
    depth: usize,
}

impl CallSlot {
    fn open() -> CallSlot {
        RETURNS.with(|slots| {
            let mut slots = slots.borrow_mut();
            slots.push(None);
            CallSlot { depth: slots.len() }
        })
    }

    fn take(&self) -> Option<Value> {
        RETURNS.with(|slots| slots.borrow_mut().get_mut(self.depth - 1).and_then(Option::take))
    }
}

impl Drop for CallSlot {
    fn drop(&mut self) {
        RETURNS.with(|slots| slots.borrow_mut().truncate(self.depth - 1));
    }
}

#[derive(Copy, Clone, Debug, Default)]
pub struct FunctionTag;

impl TagReflection for FunctionTag {
    fn tag(&self) -> &'static str {
        "function"
    }

    fn description(&self) -> &'static str {
        "Calls a partial for its {% return %} value: {% function r = 'name', a: 1 %}."
    }
}

const USAGE: &str = "{% function result = 'partial/name', arg: value %}";

impl ParseTag for FunctionTag {
    fn parse(&self, mut arguments: TagTokenIter<'_>, options: &Language) -> Result<Box<dyn Renderable>> {
        let result = parse_assignment(&mut arguments, USAGE)?;
        let call = PartialCall::parse("function", USAGE, &mut arguments, options)?;
        if call.binding.is_some() {
            return Err(tag_error(
                "function",
                format!("with/for are not arguments of a function; usage: {USAGE}"),
            ));
        }
        Ok(Box::new(Function { result, call }))
    }

    fn reflection(&self) -> &dyn TagReflection {
        self
    }
}

#[derive(Debug)]
struct Function {
    result: KString,
    call: PartialCall,
}

impl Renderable for Function {
    fn render_to(&self, _writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let trace = || format!("{{% function {} = {} %}}", self.result, self.call.source);
        let name = self.call.name("function", runtime)?;
        let vars = super::args::named_to_object(&self.call.vars, runtime)?;
        let value = {
            let _level = nesting::enter("function", &name)?;
            let slot = CallSlot::open();
            let scope = IsolatedFrame::new(runtime, vars);
            let partial = scope.partials().get(&name).trace_with(|| trace().into())?;
            let rendered = partial.render_to(&mut std::io::sink(), &scope);
            match (slot.take(), rendered) {
                (Some(value), _) => value,
                (None, Ok(())) => Value::Nil,
                (None, Err(err)) => {
                    return Err(err)
                        .trace_with(|| trace().into())
                        .context_key("partial")
                        .value_with(|| name.clone().into())
                }
            }
        };
        runtime.set_global(self.result.clone(), value);
        Ok(())
    }
}

#[derive(Copy, Clone, Debug, Default)]
pub struct ReturnTag;

impl TagReflection for ReturnTag {
    fn tag(&self) -> &'static str {
        "return"
    }

    fn description(&self) -> &'static str {
        "Ends a function partial with a value: {% return value %}."
    }
}

impl ParseTag for ReturnTag {
    fn parse(&self, mut arguments: TagTokenIter<'_>, options: &Language) -> Result<Box<dyn Renderable>> {
        let value = match arguments.next() {
            Some(token) => Some(parse_value(token, options)?),
            None => None,
        };
        arguments.expect_nothing()?;
        Ok(Box::new(Return { value }))
    }

    fn reflection(&self) -> &dyn TagReflection {
        self
    }
}

#[derive(Debug)]
struct Return {
    value: Option<ArgValue>,
}

impl Renderable for Return {
    fn render_to(&self, _writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let value = match &self.value {
            Some(value) => value.evaluate(runtime)?,
            None => Value::Nil,
        };
        let stored = RETURNS.with(|slots| match slots.borrow_mut().last_mut() {
            Some(slot) => {
                *slot = Some(value);
                true
            }
            None => false,
        });
        if stored {
            // Unwinds to the function tag, which takes the value.
            Err(tag_error("return", "returned"))
        } else {
            Err(tag_error(
                "return",
                "{% return %} is only allowed in a partial called by {% function %}",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::liquid::test_support::{render_with_partials, try_render};
    use liquid_core::object;

    #[test]
    fn assigns_the_returned_value_and_discards_output() {
        let out = render_with_partials(
            "a{% function r = 'lib/sum', a: 2, b: x %}b{{ r.total }}|{{ r.note }}|{% if tmp %}leaked{% endif %}",
            &[(
                "lib/sum",
                "noise{% assign tmp = a | plus: b %}{% parse_json res %}{\"total\": {{ tmp }}, \"note\": \"ü\"}{% endparse_json %}{% return res %}",
            )],
            object!({"x": 3}),
        );
        assert_eq!(out, "ab5|ü|");
    }

    #[test]
    fn return_stops_the_partial_even_inside_loops_and_blocks() {
        let out = render_with_partials(
            "{% function r = 'first_big', items: list %}{{ r }}|{{ context.exports.f.seen }}",
            &[(
                "first_big",
                "{% for i in items %}{% if i > 2 %}{% assign seen = i %}{% export seen, namespace: 'f' %}{% return i %}{% endif %}{% endfor %}{% return 'none' %}",
            )],
            object!({"list": [1, 3, 5]}),
        );
        assert_eq!(out, "3|3");
    }

    #[test]
    fn no_return_gives_nil_and_outer_variables_are_invisible() {
        let out = render_with_partials(
            "{% assign r = 'old' %}{% function r = 'p' %}{% if r == nil %}nil{% endif %}",
            &[("p", "{% if r or outer %}seen{% endif %}")],
            object!({"outer": 1}),
        );
        assert_eq!(out, "nil");
    }

    #[test]
    fn functions_nest_and_quoted_result_names() {
        let out = render_with_partials(
            "{% function \"r\" = 'outer', n: 2 %}{{ r }}",
            &[
                ("outer", "{% function inner = 'double', n: n %}{% function again = 'double', n: inner %}{% return again | plus: 1 %}"),
                ("double", "{% return n | times: 2 %}"),
            ],
            object!({}),
        );
        assert_eq!(out, "9");
    }

    #[test]
    fn errors() {
        let err = try_render("{% return 1 %}", &[], &object!({})).unwrap_err();
        assert!(err.contains("only allowed in a partial called by"), "{err}");
        let err = try_render(
            "{% function r = 'p' %}",
            &[("p", "{{ 1 | divided_by: 0 }}")],
            &object!({}),
        )
        .unwrap_err();
        assert!(err.contains("function r = 'p'"), "{err}");
        let err = try_render(
            "{% function r = 'p' %}",
            &[("p", "{% function r = 'p' %}")],
            &object!({}),
        )
        .unwrap_err();
        assert!(err.contains("levels deep"), "{err}");
        let err = try_render("{% function = 'p' %}", &[], &object!({})).unwrap_err();
        assert!(err.contains("result variable"), "{err}");
        let err = try_render("{% function r = 'p' with x %}", &[], &object!({})).unwrap_err();
        assert!(err.contains("not arguments"), "{err}");
        let err = try_render("{% return 1 2 %}", &[], &object!({})).unwrap_err();
        assert!(!err.is_empty());
    }
}
