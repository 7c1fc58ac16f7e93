//! Arguments of the platformOS tags: `value, value, name: value, ...`.
//!
//! Values are literals, variables or filter chains. A plain variable that is
//! not defined evaluates to nil (as in platformOS), so optional data can be
//! passed without guards; a filter chain evaluates like `{{ }}`. Note that a
//! filter with arguments swallows what follows it (`x | default: y, k: v`
//! gives `k: v` to `default`), so put such a value last or assign it first.

use liquid_core::parser::{FilterChain, TagToken};
use liquid_core::{Error, Expression, Language, Object, Result, Runtime, TagTokenIter, Value, ValueView};
use serde_json::{Map, Value as Json};

use crate::liquid::value::liquid_to_json;

/// One argument value, evaluated at render time.
#[derive(Debug)]
pub(crate) enum ArgValue {
    /// A literal or a variable: an undefined variable is nil.
    Plain(Expression),
    /// A value with filters.
    Chain(FilterChain),
}

impl ArgValue {
    pub(crate) fn evaluate(&self, runtime: &dyn Runtime) -> Result<Value> {
        match self {
            ArgValue::Plain(expression) => Ok(expression
                .try_evaluate(runtime)
                .map(|v| v.to_value())
                .unwrap_or(Value::Nil)),
            ArgValue::Chain(chain) => chain.evaluate(runtime).map(|v| v.to_value()),
        }
    }
}

/// The parsed arguments of one tag, in source order.
#[derive(Debug, Default)]
pub(crate) struct TagArgs {
    /// Values without a name, each with its source text (e.g. `amount`).
    pub positional: Vec<(String, ArgValue)>,
    /// `name: value` pairs.
    pub named: Vec<(String, ArgValue)>,
}

impl TagArgs {
    /// Reads the rest of the tag. Commas between arguments are optional.
    pub(crate) fn parse(arguments: &mut TagTokenIter<'_>, options: &Language) -> Result<TagArgs> {
        TagArgs::parse_from(None, arguments, options)
    }

    /// Reads the rest of the tag, starting with `first` when the caller
    /// already took that token off the iterator.
    pub(crate) fn parse_from<'a>(
        first: Option<TagToken<'a>>,
        arguments: &mut TagTokenIter<'a>,
        options: &Language,
    ) -> Result<TagArgs> {
        let mut args = TagArgs::default();
        let mut pending = first;
        while let Some(token) = pending.take().or_else(|| arguments.next()) {
            if token.as_str() == "," {
                continue;
            }
            match arguments.next() {
                Some(colon) if colon.as_str() == ":" => {
                    let name = token
                        .expect_identifier()
                        .into_result_custom_msg("argument name expected before \":\"")?
                        .to_owned();
                    let value = arguments.expect_next("value expected after \":\"")?;
                    let value = parse_value(value, options)?;
                    args.named.push((name, value));
                }
                next => {
                    let source = token.as_str().to_owned();
                    args.positional.push((source, parse_value(token, options)?));
                    pending = next;
                }
            }
        }
        Ok(args)
    }

    /// Fails at parse time when an argument name is not one the tag knows.
    pub(crate) fn allow_only(&self, tag: &str, names: &[&str]) -> Result<()> {
        for (name, _) in &self.named {
            if !names.contains(&name.as_str()) {
                return Err(
                    Error::with_msg(format!("unknown argument {name:?} (expected {})", names.join(", ")))
                        .context("tag", tag.to_owned()),
                );
            }
        }
        Ok(())
    }

    /// Fails at parse time when there are more than `max` positional values.
    pub(crate) fn at_most_positional(&self, tag: &str, max: usize, usage: &str) -> Result<()> {
        match self.positional.get(max) {
            Some((source, _)) => {
                Err(Error::with_msg(format!("unexpected {source:?}; usage: {usage}")).context("tag", tag.to_owned()))
            }
            None => Ok(()),
        }
    }

    /// Removes and returns the named argument `name`.
    pub(crate) fn take_named(&mut self, name: &str) -> Option<ArgValue> {
        let index = self.named.iter().position(|(n, _)| n == name)?;
        Some(self.named.remove(index).1)
    }
}

/// A variable a tag assigns to, written as platformOS accepts it: a bare
/// name (`data`) or a quoted one (`"data"`, `'data'`).
pub(crate) fn variable_name(token: TagToken<'_>, what: &str, usage: &str) -> Result<liquid_core::model::KString> {
    let text = token.as_str().to_owned();
    let text = text.as_str();
    let unquoted = match text.as_bytes() {
        [b'"', .., b'"'] | [b'\'', .., b'\''] if text.len() >= 2 => &text[1..text.len() - 1],
        _ => text,
    };
    if is_variable_name(unquoted) {
        Ok(unquoted.to_owned().into())
    } else {
        Err(token.raise_custom_error(&format!(
            "{what} expected (a name or a quoted name), got {text}; usage: {usage}"
        )))
    }
}

/// A name Liquid can read back as a variable: letters, digits, `_` and `-`,
/// not starting with a digit or `-`.
pub(crate) fn is_variable_name(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Reads `result =` at the start of an assigning tag (`dispatch`, `record`,
/// `function`) and returns the variable name (bare or quoted).
pub(crate) fn parse_assignment(arguments: &mut TagTokenIter<'_>, usage: &str) -> Result<liquid_core::model::KString> {
    let result = variable_name(
        arguments.expect_next(&format!("result variable expected; usage: {usage}"))?,
        "result variable",
        usage,
    )?;
    arguments
        .expect_next(&format!("\"=\" expected; usage: {usage}"))?
        .expect_str("=")
        .into_result_custom_msg(&format!("\"=\" expected; usage: {usage}"))?;
    Ok(result)
}

pub(crate) fn parse_value(token: liquid_core::parser::TagToken<'_>, options: &Language) -> Result<ArgValue> {
    match token.expect_value() {
        liquid_core::parser::TryMatchToken::Matches(expression) => Ok(ArgValue::Plain(expression)),
        liquid_core::parser::TryMatchToken::Fails(token) => {
            token.expect_filter_chain(options).into_result().map(ArgValue::Chain)
        }
    }
}

/// Evaluates named arguments into a JSON object (for the render host).
pub(crate) fn named_to_json(named: &[(String, ArgValue)], runtime: &dyn Runtime) -> Result<Map<String, Json>> {
    let mut map = Map::new();
    for (name, value) in named {
        map.insert(name.clone(), liquid_to_json(&value.evaluate(runtime)?));
    }
    Ok(map)
}

/// Evaluates named arguments into a Liquid object (for a partial's scope).
pub(crate) fn named_to_object(named: &[(String, ArgValue)], runtime: &dyn Runtime) -> Result<Object> {
    let mut object = Object::new();
    for (name, value) in named {
        object.insert(name.clone().into(), value.evaluate(runtime)?);
    }
    Ok(object)
}

/// A render-time failure of a tag.
pub(crate) fn tag_error(tag: &str, message: impl Into<String>) -> Error {
    Error::with_msg(message.into()).context("tag", tag.to_owned())
}

/// The render host, or an error saying the tag needs one.
pub(crate) fn require_host(tag: &str) -> Result<std::sync::Arc<dyn crate::liquid::host::RenderHost>> {
    crate::liquid::host::current_host().ok_or_else(|| {
        tag_error(
            tag,
            format!("{{% {tag} %}} needs a running payforms instance (no render host)"),
        )
    })
}

/// Renders a value as text for a tag that takes a name (partial, query,
/// request type): must be non-empty text.
pub(crate) fn name_text(tag: &str, what: &str, value: &Value) -> Result<String> {
    let text = if value.is_scalar() {
        value.to_kstr().trim().to_string()
    } else {
        String::new()
    };
    if text.is_empty() {
        return Err(tag_error(
            tag,
            format!("{what} must be non-empty text, got {}", value.source()),
        ));
    }
    Ok(text)
}
