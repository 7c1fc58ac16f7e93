//! `{% export a, b, namespace: 'ns' %}`: copies variables into the global
//! `context.exports.ns` (creating `context` and `exports` when missing), so a
//! page can read what a partial or form body computed.

use std::io::Write;

use liquid_core::model::{KString, ScalarCow};
use liquid_core::{Language, ParseTag, Renderable, TagReflection, TagTokenIter};
use liquid_core::{Object, Result, Runtime, Value, ValueView};

use super::args::{is_variable_name, name_text, ArgValue, TagArgs};

#[derive(Copy, Clone, Debug, Default)]
pub struct ExportTag;

impl TagReflection for ExportTag {
    fn tag(&self) -> &'static str {
        "export"
    }

    fn description(&self) -> &'static str {
        "Copies variables into context.exports.<namespace>."
    }
}

const USAGE: &str = "{% export a, b, namespace: 'name' %}";

impl ParseTag for ExportTag {
    fn parse(&self, mut arguments: TagTokenIter<'_>, options: &Language) -> Result<Box<dyn Renderable>> {
        let mut args = TagArgs::parse(&mut arguments, options)?;
        args.allow_only("export", &["namespace"])?;
        let namespace = args
            .take_named("namespace")
            .ok_or_else(|| arguments.raise_error(&format!("namespace: is required; usage: {USAGE}")))?;
        if args.positional.is_empty() {
            return Err(arguments.raise_error(&format!("nothing to export; usage: {USAGE}")));
        }
        let mut names = Vec::new();
        for (source, _) in &args.positional {
            if !is_variable_name(source) {
                return Err(arguments.raise_error(&format!("{source:?} is not a variable name; usage: {USAGE}")));
            }
            names.push(KString::from(source.clone()));
        }
        Ok(Box::new(Export { names, namespace }))
    }

    fn reflection(&self) -> &dyn TagReflection {
        self
    }
}

#[derive(Debug)]
struct Export {
    names: Vec<KString>,
    namespace: ArgValue,
}

/// `parent[key]` as an object to update: a copy of the existing object, or
/// a new one when it is missing or not an object.
fn child_object(parent: &Object, key: &str) -> Object {
    match parent.get(key) {
        Some(Value::Object(object)) => object.clone(),
        _ => Object::new(),
    }
}

impl Renderable for Export {
    fn render_to(&self, _writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let namespace = name_text("export", "namespace", &self.namespace.evaluate(runtime)?)?;
        let mut context = match runtime.try_get(&[ScalarCow::new("context")]) {
            Some(value) => match value.as_object().map(|o| o.to_value()) {
                Some(Value::Object(object)) => object,
                _ => Object::new(),
            },
            None => Object::new(),
        };
        let mut exports = child_object(&context, "exports");
        let mut space = child_object(&exports, &namespace);
        for name in &self.names {
            let value = runtime
                .try_get(&[ScalarCow::new(name.as_str())])
                .map(|v| v.to_value())
                .unwrap_or(Value::Nil);
            space.insert(name.clone(), value);
        }
        exports.insert(KString::from(namespace), Value::Object(space));
        context.insert("exports".into(), Value::Object(exports));
        runtime.set_global("context".into(), Value::Object(context));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::liquid::test_support::{render, render_err};
    use liquid_core::object;

    #[test]
    fn exports_into_a_new_context() {
        let out = render(
            "{% assign a = 'x' %}{% assign b = 2 %}{% export a, b, namespace: 'ns' %}{{ context.exports.ns.a }}{{ context.exports.ns.b }}",
            object!({}),
        );
        assert_eq!(out, "x2");
    }

    #[test]
    fn keeps_the_rest_of_an_existing_context() {
        let out = render(
            "{% assign total = 599 %}{% export total, namespace: ns %}{{ context.params.id }}/{{ context.exports.old.v }}/{{ context.exports[ns].total }}",
            object!({"ns": "café", "context": {"params": {"id": "7"}, "exports": {"old": {"v": "kept"}}}}),
        );
        assert_eq!(out, "7/kept/599");
    }

    #[test]
    fn exporting_twice_merges_and_nested_values_survive() {
        let out = render(
            "{% assign h = '{\"a\":{\"b\":[1,2]}}' | to_hash %}{% export h, namespace: 'n' %}{% assign k = 'ü' %}{% export k, namespace: 'n' %}{{ context.exports.n.h.a.b[1] }}{{ context.exports.n.k }}",
            object!({}),
        );
        assert_eq!(out, "2ü");
    }

    #[test]
    fn undefined_variables_export_as_nil() {
        let out = render(
            "{% export missing, namespace: 'n' %}{% if context.exports.n.missing == nil %}nil{% endif %}",
            object!({}),
        );
        assert_eq!(out, "nil");
    }

    #[test]
    fn usage_errors() {
        assert!(render_err("{% export a %}", object!({})).contains("namespace"));
        assert!(render_err("{% export namespace: 'n' %}", object!({})).contains("nothing to export"));
        assert!(render_err("{% export 'a', namespace: 'n' %}", object!({})).contains("not a variable name"));
        assert!(render_err("{% export a, scope: 'n', namespace: 'n' %}", object!({})).contains("unknown argument"));
        assert!(render_err("{% export a, namespace: x %}", object!({})).contains("namespace"));
    }
}
