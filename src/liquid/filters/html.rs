//! Output-safety filters: `pf_escape` (added to every `{{ }}` of HTML
//! templates by [`autoescape_outputs`](crate::liquid::autoescape_outputs)),
//! `html_safe` / `raw` (identity; they only mark an output as trusted for the
//! rewrite) and `escape_javascript`.

use liquid_core::Runtime;
use liquid_core::{Display_filter, Filter, FilterReflection, ParseFilter};
use liquid_core::{Result, Value, ValueView};

/// Escapes `& < > " '` for HTML text and attribute values.
pub use payforms_html::escape as escape_html;

/// Escapes text for a JavaScript string literal in either quote style
/// (Rails' `escape_javascript`, plus U+2028/U+2029 which end a JS line).
pub fn escape_javascript(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '`' => out.push_str("\\`"),
            '$' => out.push_str("\\$"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            '<' if chars.peek() == Some(&'/') => out.push_str("<\\"),
            other => out.push(other),
        }
    }
    out
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "pf_escape",
    description = "HTML-escapes the rendered value (& < > \" '); added by the autoescape rewrite.",
    parsed(PfEscapeFilter)
)]
pub struct PfEscape;

#[derive(Debug, Default, Display_filter)]
#[name = "pf_escape"]
struct PfEscapeFilter;

impl Filter for PfEscapeFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        // Escape exactly what `{{ value }}` would have printed.
        Ok(Value::scalar(escape_html(&input.render().to_string())))
    }
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "html_safe",
    description = "Marks an output as trusted HTML: the autoescape rewrite leaves it unescaped.",
    parsed(HtmlSafeFilter)
)]
pub struct HtmlSafe;

#[derive(Debug, Default, Display_filter)]
#[name = "html_safe"]
struct HtmlSafeFilter;

impl Filter for HtmlSafeFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        Ok(input.to_value())
    }
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "raw",
    description = "Same as html_safe: the output is not escaped.",
    parsed(RawFilter)
)]
pub struct Raw;

#[derive(Debug, Default, Display_filter)]
#[name = "raw"]
struct RawFilter;

impl Filter for RawFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        Ok(input.to_value())
    }
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "escape_javascript",
    description = "Escapes text for a JavaScript string literal (\\ ' \" ` $ newlines </).",
    parsed(EscapeJavascriptFilter)
)]
pub struct EscapeJavascript;

#[derive(Debug, Default, Display_filter)]
#[name = "escape_javascript"]
struct EscapeJavascriptFilter;

impl Filter for EscapeJavascriptFilter {
    fn evaluate(&self, input: &dyn ValueView, _runtime: &dyn Runtime) -> Result<Value> {
        Ok(Value::scalar(escape_javascript(&input.render().to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liquid_core::{call_filter, value};

    #[test]
    fn pf_escape_escapes_the_five_characters() {
        assert_eq!(
            call_filter!(PfEscape, "<a href=\"x\" title='y'>&amp;</a>").unwrap(),
            value!("&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;")
        );
    }

    #[test]
    fn pf_escape_of_nil_numbers_unicode_and_arrays() {
        assert_eq!(call_filter!(PfEscape, Value::Nil).unwrap(), value!(""));
        assert_eq!(call_filter!(PfEscape, 5.5f64).unwrap(), value!("5.5"));
        assert_eq!(call_filter!(PfEscape, "Zoë <✓>").unwrap(), value!("Zoë &lt;✓&gt;"));
        assert_eq!(
            call_filter!(PfEscape, value!(["<b>", ["&"]])).unwrap(),
            value!("&lt;b&gt;&amp;")
        );
    }

    #[test]
    fn html_safe_and_raw_are_identity() {
        let nested = value!({"a": ["<b>"]});
        assert_eq!(call_filter!(HtmlSafe, nested.clone()).unwrap(), nested);
        assert_eq!(call_filter!(Raw, "<b>").unwrap(), value!("<b>"));
        assert_eq!(call_filter!(HtmlSafe, Value::Nil).unwrap(), Value::Nil);
    }

    #[test]
    fn escape_javascript_escapes_string_breakers() {
        assert_eq!(
            call_filter!(EscapeJavascript, "it's \"q\" \\ `t` ${x}").unwrap(),
            value!("it\\'s \\\"q\\\" \\\\ \\`t\\` \\${x}")
        );
        assert_eq!(
            call_filter!(EscapeJavascript, "a\r\nb\nc\rd").unwrap(),
            value!("a\\nb\\nc\\nd")
        );
        assert_eq!(
            call_filter!(EscapeJavascript, "</script><b>").unwrap(),
            value!("<\\/script><b>")
        );
        assert_eq!(
            call_filter!(EscapeJavascript, "é\u{2028}✓\u{2029}").unwrap(),
            value!("é\\u2028✓\\u2029")
        );
    }

    #[test]
    fn escape_javascript_of_nil_and_empty() {
        assert_eq!(call_filter!(EscapeJavascript, Value::Nil).unwrap(), value!(""));
        assert_eq!(call_filter!(EscapeJavascript, "").unwrap(), value!(""));
    }
}
