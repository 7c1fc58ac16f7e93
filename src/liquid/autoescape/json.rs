//! JSON escaping of outputs inside `{% parse_json %}` bodies.
//!
//! A parse_json body is a JSON document written by hand, and values printed
//! into it come from request params, records and webhooks. Without escaping,
//! `{ "customer": "{{ context.params.customer }}" }` lets
//! `?customer=x","form_id":"injected` add keys. Each output gets a filter
//! chosen by where it stands in the literal JSON text around it:
//! - inside a JSON string: `pf_json_string` (the value's text, escaped as
//!   the inside of a JSON string);
//! - elsewhere: `pf_json_value` (numbers, booleans and nil as JSON literals,
//!   text that is exactly a JSON number, `true`, `false` or `null` as is,
//!   any other text as a JSON string, arrays and hashes as JSON).
//!
//! Left alone: outputs whose last filter is `json` (already a JSON value),
//! `raw` (the author's explicit choice) or one of the two filters above; and
//! a body that is one output and nothing else but whitespace, the idiom for
//! parsing JSON text (`{% parse_json h %}{{ text }}{% endparse_json %}`),
//! where the value is the whole document and has nothing to break out of.
//!
//! The string state follows the literal text in source order; tags are
//! opaque. That matches every branch of a well-formed template, whose
//! branches each keep their quotes balanced.

use super::grammar::{Element, ExpressionShape};
use super::{comment_end, plain_tag, raw_end};

/// Filters after which an output inside JSON needs nothing more.
const TRUSTED_LAST_FILTERS: &[&str] = &["json", "raw", "pf_json_string", "pf_json_value"];

/// Append the body `elements` (between `{% parse_json %}` and its end tag)
/// to `out`, adding a JSON escaping filter to each output.
pub(super) fn rewrite_body(elements: &[(usize, usize, Element)], source: &str, out: &mut Vec<u8>) {
    let bytes = source.as_bytes();
    if is_single_output(elements, source) {
        if let (Some(first), Some(last)) = (elements.first(), elements.last()) {
            out.extend_from_slice(&bytes[first.0..last.1]);
        }
        return;
    }
    let mut text = JsonText::default();
    let mut i = 0;
    while i < elements.len() {
        let (start, end, element) = &elements[i];
        match element {
            Element::Text => {
                text.scan(&bytes[*start..*end]);
                out.extend_from_slice(&bytes[*start..*end]);
                i += 1;
            }
            Element::Tag(_) if plain_tag(element, source) == Some(("raw", false)) => {
                // Raw text is literal JSON text too.
                match raw_end(elements, i, source) {
                    Some(close) => {
                        text.scan(&bytes[*end..elements[close].0]);
                        out.extend_from_slice(&bytes[*start..elements[close].1]);
                        i = close + 1;
                    }
                    None => {
                        out.extend_from_slice(&bytes[*start..]);
                        i = elements.len();
                    }
                }
            }
            Element::Tag(_) if plain_tag(element, source) == Some(("comment", false)) => {
                // Nothing inside a comment renders.
                match comment_end(elements, i, source) {
                    Some(close) => {
                        out.extend_from_slice(&bytes[*start..elements[close].1]);
                        i = close + 1;
                    }
                    None => {
                        out.extend_from_slice(&bytes[*start..*end]);
                        i += 1;
                    }
                }
            }
            Element::Expression(shape) => {
                // Members are read leniently here too (a missing one is nil).
                match super::lenient::dig(&source[shape.value.0..shape.value.1]) {
                    Some(rewritten) => {
                        out.extend_from_slice(&bytes[*start..shape.value.0]);
                        out.extend_from_slice(rewritten.as_bytes());
                        out.extend_from_slice(&bytes[shape.value.1..shape.chain_end]);
                    }
                    None => out.extend_from_slice(&bytes[*start..shape.chain_end]),
                }
                if !is_trusted(shape, source) {
                    out.extend_from_slice(if text.in_string {
                        b" | pf_json_string"
                    } else {
                        b" | pf_json_value"
                    });
                }
                out.extend_from_slice(&bytes[shape.chain_end..*end]);
                i += 1;
            }
            _ => {
                out.extend_from_slice(&bytes[*start..*end]);
                i += 1;
            }
        }
    }
}

fn is_trusted(shape: &ExpressionShape, source: &str) -> bool {
    shape
        .filters
        .last()
        .is_some_and(|(start, end)| TRUSTED_LAST_FILTERS.contains(&&source[*start..*end]))
}

/// One output with only whitespace text around it.
fn is_single_output(elements: &[(usize, usize, Element)], source: &str) -> bool {
    let mut outputs = 0;
    for (start, end, element) in elements {
        match element {
            Element::Expression(_) => outputs += 1,
            Element::Text if source[*start..*end].trim().is_empty() => {}
            // What the lenient rewrite reads for the output's arguments.
            Element::Tag(shape)
                if &source[shape.name.0..shape.name.1] == "assign"
                    && source[shape.name.1..*end].trim_start().starts_with("pf_lenient_") => {}
            _ => return false,
        }
    }
    outputs == 1
}

/// Where the literal JSON text has got to: inside a string or not.
#[derive(Default)]
struct JsonText {
    in_string: bool,
    after_backslash: bool,
}

impl JsonText {
    fn scan(&mut self, text: &[u8]) {
        for &byte in text {
            if !self.in_string {
                self.in_string = byte == b'"';
            } else if self.after_backslash {
                self.after_backslash = false;
            } else if byte == b'\\' {
                self.after_backslash = true;
            } else if byte == b'"' {
                self.in_string = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::liquid::autoescape::{autoescape_outputs, escape_json_outputs};
    use crate::liquid::parser_builder;
    use liquid_core::object;

    fn parsed(source: &str, globals: liquid::Object) -> serde_json::Value {
        let template = parser_builder()
            .build()
            .unwrap()
            .parse(&escape_json_outputs(&format!(
                "{{% parse_json v %}}{source}{{% endparse_json %}}{{{{ v | json }}}}"
            )))
            .unwrap();
        serde_json::from_str(&template.render(&globals).unwrap()).unwrap()
    }

    #[test]
    fn outputs_get_the_filter_of_their_place() {
        assert_eq!(
            escape_json_outputs(
                r#"{% parse_json d %}{ "a": "{{ x }}", "b": {{ y }}, "c": {{ z | json }} }{% endparse_json %}{{ x }}"#
            ),
            r#"{% parse_json d %}{ "a": "{{ x | pf_json_string }}", "b": {{ y | pf_json_value }}, "c": {{ z | json }} }{% endparse_json %}{{ x }}"#
        );
        // HTML templates: JSON escaping inside, HTML escaping outside.
        assert_eq!(
            autoescape_outputs(r#"{% parse_json d %}{ "a": "{{ x }}" }{% endparse_json %}{{ x }}"#),
            r#"{% parse_json d %}{ "a": "{{ x | pf_json_string }}" }{% endparse_json %}{{ x | pf_escape }}"#
        );
    }

    #[test]
    fn a_value_cannot_break_out_of_its_string() {
        let value = parsed(
            r#"{ "customer": "{{ c }}", "form_id": "checkout" }"#,
            object!({"c": "cus_x\",\"form_id\":\"injected"}),
        );
        assert_eq!(value["form_id"], "checkout");
        assert_eq!(value["customer"], "cus_x\",\"form_id\":\"injected");
        // A lone quote or backslash no longer makes invalid JSON.
        let value = parsed(r#"{ "c": "{{ c }}" }"#, object!({"c": "x\"\\"}));
        assert_eq!(value["c"], "x\"\\");
    }

    #[test]
    fn a_value_outside_strings_stays_one_value() {
        let value = parsed(
            r#"{ "amount": {{ a }}, "n": {{ n }}, "f": {{ f }}, "t": {{ t }}, "nil": {{ nothing }}, "list": {{ l }} }"#,
            object!({"a": "599", "n": 7, "f": false, "t": "1, \"admin\": true", "l": [1, "x"], "nothing": nil}),
        );
        assert_eq!(value["amount"], 599);
        assert_eq!(value["n"], 7);
        assert_eq!(value["f"], false);
        assert_eq!(value["t"], "1, \"admin\": true");
        assert!(value.get("admin").is_none());
        assert!(value["nil"].is_null());
        assert_eq!(value["list"], serde_json::json!([1, "x"]));
    }

    #[test]
    fn escaped_quotes_in_the_text_keep_the_string_open() {
        assert_eq!(
            escape_json_outputs(r#"{% parse_json d %}{ "a": "say \"{{ x }}\"", "b": {{ y }} }{% endparse_json %}"#),
            r#"{% parse_json d %}{ "a": "say \"{{ x | pf_json_string }}\"", "b": {{ y | pf_json_value }} }{% endparse_json %}"#
        );
    }

    #[test]
    fn json_text_idiom_and_trusted_outputs_are_left_alone() {
        for source in [
            "{% parse_json d %}{{ text }}{% endparse_json %}",
            "{% parse_json d %}\n  {{- text -}}\n{% endparse_json %}",
            r#"{% parse_json d %}{ "a": {{ x | json }}, "b": {{ y | raw }} }{% endparse_json %}"#,
            r#"{% parse_json d %}{ "a": {% raw %}"{{ x }}"{% endraw %} }{% endparse_json %}"#,
        ] {
            assert_eq!(escape_json_outputs(source), source);
        }
        let value = parsed("{{ text }}", object!({"text": "{\"a\": [1, 2]}"}));
        assert_eq!(value["a"], serde_json::json!([1, 2]));
    }

    #[test]
    fn tags_inside_the_body_are_kept() {
        let value = parsed(
            r#"{ {% for i in items %}"k{{ i }}": "{{ i }}"{% unless forloop.last %},{% endunless %}{% endfor %} }"#,
            object!({"items": ["a\"", "b"]}),
        );
        assert_eq!(value["ka\""], "a\"");
        assert_eq!(value["kb"], "b");
    }
}
