//! `{% hash_assign h['key'] = value %}` (platformOS): sets one key of a
//! hash variable. Every form of a variable path works: `h.key`,
//! `h["a"]["b"]`, `h[var]`, and array positions (`h['items'][0]['x']`).
//!
//! Decisions where platformOS is silent: a missing or nil variable becomes
//! a new hash, and missing or nil intermediate keys become new hashes (so
//! `h['a']['b'] = 1` on an empty `h` gives `{"a": {"b": 1}}`); an
//! intermediate that is text or a number is an error, as is an array
//! position outside the array. The value may carry filters.

use std::io::Write;

use liquid_core::model::{KString, ScalarCow};
use liquid_core::runtime::Variable;
use liquid_core::{Language, Object, ParseTag, Renderable, TagReflection, TagTokenIter};
use liquid_core::{Result, Runtime, Value, ValueView};

use super::args::{parse_value, tag_error, ArgValue};

/// Keys in one path (`h['a']['b']` has two); more is refused at parse time.
const MAX_KEYS: usize = 32;

#[derive(Copy, Clone, Debug, Default)]
pub struct HashAssignTag;

impl TagReflection for HashAssignTag {
    fn tag(&self) -> &'static str {
        "hash_assign"
    }

    fn description(&self) -> &'static str {
        "Sets a key of a hash variable: {% hash_assign h['key'] = value %}."
    }
}

const USAGE: &str = "{% hash_assign hash['key'] = value %}";

impl ParseTag for HashAssignTag {
    fn parse(&self, mut arguments: TagTokenIter<'_>, options: &Language) -> Result<Box<dyn Renderable>> {
        let target = arguments
            .expect_next(&format!("hash key expected; usage: {USAGE}"))?
            .expect_variable()
            .into_result_custom_msg(&format!("hash key expected; usage: {USAGE}"))?;
        let source = target.to_string();
        let keys = source_key_count(&source);
        if keys == 0 {
            return Err(arguments.raise_error(&format!(
                "{source} names no key (use assign for a whole variable); usage: {USAGE}"
            )));
        }
        if keys > MAX_KEYS {
            return Err(arguments.raise_error(&format!("more than {MAX_KEYS} keys in {source}")));
        }
        arguments
            .expect_next(&format!("\"=\" expected; usage: {USAGE}"))?
            .expect_str("=")
            .into_result_custom_msg(&format!("\"=\" expected; usage: {USAGE}"))?;
        let value = parse_value(
            arguments.expect_next(&format!("value expected; usage: {USAGE}"))?,
            options,
        )?;
        arguments.expect_nothing()?;
        Ok(Box::new(HashAssign { target, source, value }))
    }

    fn reflection(&self) -> &dyn TagReflection {
        self
    }
}

/// How many keys a variable path written as `source` has: its display form
/// is `name[...][...]`, one bracket pair per key.
fn source_key_count(source: &str) -> usize {
    let mut depth = 0usize;
    let mut count = 0usize;
    let mut quote = None;
    for c in source.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[') => {
                if depth == 0 {
                    count += 1;
                }
                depth += 1;
            }
            (None, ']') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    count
}

#[derive(Debug)]
struct HashAssign {
    target: Variable,
    source: String,
    value: ArgValue,
}

/// A child of `container` to descend into: an existing hash or array, or a
/// new hash where there is nothing.
fn child(container: &Value, key: &ScalarCow<'_>, path: &str) -> Result<Value> {
    let found = match container {
        Value::Object(object) => object.get(key.to_kstr().as_str()).cloned(),
        Value::Array(items) => Some(items[array_position(items.len(), key, path)?].clone()),
        _ => None,
    };
    match found {
        None | Some(Value::Nil) => Ok(Value::Object(Object::new())),
        Some(value @ (Value::Object(_) | Value::Array(_))) => Ok(value),
        Some(other) => Err(tag_error(
            "hash_assign",
            format!("{path}: {} is {}, not a hash", key.to_kstr(), other.type_name()),
        )),
    }
}

fn array_position(len: usize, key: &ScalarCow<'_>, path: &str) -> Result<usize> {
    key.to_integer()
        .and_then(|i| usize::try_from(i).ok())
        .filter(|&i| i < len)
        .ok_or_else(|| {
            tag_error(
                "hash_assign",
                format!("{path}: {} is not a position in an array of {len}", key.to_kstr()),
            )
        })
}

fn set(container: &mut Value, key: &ScalarCow<'_>, value: Value, path: &str) -> Result<()> {
    match container {
        Value::Object(object) => {
            object.insert(KString::from(key.to_kstr().into_owned()), value);
            Ok(())
        }
        Value::Array(items) => {
            let at = array_position(items.len(), key, path)?;
            items[at] = value;
            Ok(())
        }
        other => Err(tag_error(
            "hash_assign",
            format!("{path}: cannot set a key of {}", other.type_name()),
        )),
    }
}

impl Renderable for HashAssign {
    fn render_to(&self, _writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let path = self.target.evaluate(runtime)?;
        let (root, keys) = path
            .as_slice()
            .split_first()
            .ok_or_else(|| tag_error("hash_assign", "empty path"))?;
        let Some((last, between)) = keys.split_last() else {
            return Err(tag_error("hash_assign", format!("{} names no key", self.source)));
        };
        let root_name = KString::from(root.to_kstr().into_owned());
        let current = runtime
            .try_get(std::slice::from_ref(root))
            .map(|v| v.to_value())
            .unwrap_or(Value::Nil);
        let start = match current {
            Value::Nil => Value::Object(Object::new()),
            value @ (Value::Object(_) | Value::Array(_)) => value,
            other => {
                return Err(tag_error(
                    "hash_assign",
                    format!("{} is {}, not a hash", root_name, other.type_name()),
                ))
            }
        };
        let value = self.value.evaluate(runtime)?;
        // Walk down without recursion: the containers on the way, outermost
        // first; then set the key and put each container back in its parent.
        let mut containers = vec![start];
        for key in between {
            let next = match containers.last() {
                Some(container) => child(container, key, &self.source)?,
                None => Value::Object(Object::new()),
            };
            containers.push(next);
        }
        let mut inner = containers.pop().unwrap_or_else(|| Value::Object(Object::new()));
        set(&mut inner, last, value, &self.source)?;
        for key in between.iter().rev() {
            let Some(mut parent) = containers.pop() else { break };
            set(&mut parent, key, inner, &self.source)?;
            inner = parent;
        }
        runtime.set_global(root_name, inner);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::liquid::test_support::{render, render_err};
    use liquid_core::object;

    #[test]
    fn every_path_form() {
        let out = render(
            "{% assign h = '{\"a\": 1}' | to_hash %}{% hash_assign h['b'] = 2 %}{% hash_assign h[\"c\"] = 'x' | upcase %}\
             {% hash_assign h[k] = 4 %}{% hash_assign h.e = h.a | plus: 4 %}{{ h | json }}",
            object!({"k": "d"}),
        );
        assert_eq!(out, r#"{"a":1,"b":2,"c":"X","d":4,"e":5}"#);
    }

    #[test]
    fn creates_the_hashes_it_needs() {
        let out = render(
            "{% hash_assign fresh['a'][\"b\"]['c'] = 'é' %}{% hash_assign fresh['a']['z'] = 1 %}{{ fresh | json }}",
            object!({}),
        );
        assert_eq!(out, r#"{"a":{"b":{"c":"é"},"z":1}}"#);
    }

    #[test]
    fn array_positions_and_outer_values_unchanged_elsewhere() {
        let out = render(
            "{% assign copy = d %}{% hash_assign d['items'][1]['qty'] = 3 %}{{ d | json }}|{{ copy.items[1].qty }}",
            object!({"d": {"items": [{"qty": 1}, {"qty": 2}]}}),
        );
        assert_eq!(out, r#"{"items":[{"qty":1},{"qty":3}]}|2"#);
    }

    #[test]
    fn errors() {
        assert!(render_err("{% hash_assign h = 1 %}", object!({})).contains("names no key"));
        assert!(render_err("{% hash_assign h['a'] 1 %}", object!({})).contains("\"=\" expected"));
        assert!(render_err("{% hash_assign 'h' = 1 %}", object!({})).contains("hash key expected"));
        assert!(render_err("{% hash_assign h['a'] = %}", object!({})).contains("value expected"));
        assert!(render_err("{% hash_assign s['a'] = 1 %}", object!({"s": "text"})).contains("not a hash"));
        assert!(render_err("{% hash_assign h['a']['b'] = 1 %}", object!({"h": {"a": 5}})).contains("not a hash"));
        assert!(render_err("{% hash_assign h['l'][9] = 1 %}", object!({"h": {"l": [1]}})).contains("not a position"));
        let deep = format!("{{% hash_assign h{} = 1 %}}", "['k']".repeat(40));
        assert!(render_err(&deep, object!({})).contains("more than 32 keys"));
    }
}
