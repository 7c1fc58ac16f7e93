//! Load-time autoescape for HTML templates.
//!
//! [`autoescape_outputs`] rewrites every `{{ expr }}` to
//! `{{ expr | pf_escape }}` so request params, record properties and webhook
//! data cannot inject markup. Left alone:
//! - outputs whose last filter is `html_safe` or `raw` (trusted HTML) or
//!   `bar_chart` (SVG it builds itself, every label escaped), or
//!   already `pf_escape`, `escape` or `escape_once` (so the rewrite is
//!   idempotent and never double-escapes);
//! - `{{ content_for_layout }}` (the already escaped page inside a layout);
//! - everything inside `{% raw %}...{% endraw %}` and
//!   `{% comment %}...{% endcomment %}`;
//! - outputs inside `{% parse_json %}...{% endparse_json %}`, whose body is
//!   JSON, not HTML: they get JSON escaping for their place instead
//!   ([`json`]), in every template, HTML or not;
//! - `{% %}` tags (but their member reads are made lenient first, see
//!   [`lenient_tags`]), text, and anything liquid-rust would reject anyway.
//!
//! Only ` | pf_escape` is inserted, never a newline, so line numbers of
//! parse and render errors stay those of the source file. Before that,
//! `{% liquid %}` blocks and `{% echo %}` are expanded into ordinary tags and
//! outputs ([`crate::liquid::liquid_tag`], which keeps lines too).
//!
//! Element boundaries come from [`grammar`], a port of liquid-rust's own
//! pest rules, so the rewrite sees exactly the outputs the parser will
//! render. Comments are skipped only when their extent is unambiguous: if a
//! comment holds a `comment`, `endcomment` or `raw` tag with arguments (where
//! liquid-rust's error recovery inside comments could end the comment
//! elsewhere), its content is rewritten like ordinary text, which is harmless
//! because nothing inside a comment renders.
//!
//! Captured HTML is escaped when printed: `{% capture x %}<b>{% endcapture %}`
//! then `{{ x }}` prints `&lt;b&gt;`; write `{{ x | html_safe }}`. Tags that
//! write HTML themselves (`form`, `include_form`, `include`) are not
//! affected.

mod grammar;
mod json;
mod lax;
mod lenient;
mod lenient_tags;

use grammar::{elements, Element, ExpressionShape, TagShape};

/// Filters after which an output needs no escaping.
const TRUSTED_LAST_FILTERS: &[&str] = &["html_safe", "raw", "bar_chart", "pf_escape", "escape", "escape_once"];

/// Rewrites a template source so every output is HTML-escaped (see the
/// module documentation for what is left alone) and every output inside a
/// `{% parse_json %}` body is JSON-escaped for its place (see [`json`]).
pub fn autoescape_outputs(source: &str) -> String {
    rewrite(source, true)
}

/// For templates that render data, not HTML (notifications, mappers,
/// processors): outputs inside `{% parse_json %}` bodies get JSON escaping,
/// and every other output reads members leniently ([`lenient`]).
pub fn escape_json_outputs(source: &str) -> String {
    rewrite(source, false)
}

fn rewrite(source: &str, html: bool) -> String {
    // `{% liquid %}` and `{% echo %}` first, so their outputs are escaped
    // like any other.
    let expanded = crate::liquid::liquid_tag::expand_liquid_tags(source);
    // Then tag arguments read members leniently, as outputs do below.
    let lenient = lenient_tags::rewrite(expanded.as_ref());
    let source = lenient.as_ref();
    let elements = elements(source);
    let bytes = source.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(source.len() + source.len() / 8);
    let tag_is = |shape: &TagShape, name: &str| &source[shape.name.0..shape.name.1] == name;
    let mut i = 0;
    while i < elements.len() {
        let (start, end, element) = &elements[i];
        match element {
            Element::Tag(shape) if tag_is(shape, "raw") && !shape.has_arguments => {
                // Verbatim through the closing tag (or to the end: unclosed,
                // which liquid-rust rejects).
                let close = raw_end(&elements, i, source);
                let last = close.unwrap_or(elements.len() - 1);
                out.extend_from_slice(&bytes[*start..elements[last].1]);
                i = last + 1;
            }
            Element::Tag(shape) if tag_is(shape, "comment") && !shape.has_arguments => {
                match comment_end(&elements, i, source) {
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
            Element::Tag(shape) if tag_is(shape, "parse_json") => {
                // The body renders JSON, not HTML: its outputs get JSON
                // escaping for their place instead of HTML escaping.
                match block_end(&elements, i, source, "endparse_json") {
                    Some(close) => {
                        out.extend_from_slice(&bytes[*start..*end]);
                        json::rewrite_body(&elements[i + 1..close], source, &mut out);
                        out.extend_from_slice(&bytes[elements[close].0..elements[close].1]);
                        i = close + 1;
                    }
                    None => {
                        out.extend_from_slice(&bytes[*start..*end]);
                        i += 1;
                    }
                }
            }
            Element::Expression(shape) => {
                // Every output reads members leniently, as platformOS does
                // (`{{ payment.payer.email }}` with no payer prints
                // nothing); an HTML output is also escaped.
                let escape = html && needs_escape(shape, source);
                match lenient::dig(&source[shape.value.0..shape.value.1]) {
                    Some(rewritten) => {
                        out.extend_from_slice(&bytes[*start..shape.value.0]);
                        out.extend_from_slice(rewritten.as_bytes());
                        out.extend_from_slice(&bytes[shape.value.1..shape.chain_end]);
                    }
                    None => out.extend_from_slice(&bytes[*start..shape.chain_end]),
                }
                if escape {
                    out.extend_from_slice(b" | pf_escape");
                }
                out.extend_from_slice(&bytes[shape.chain_end..*end]);
                i += 1;
            }
            Element::Tag(_) => {
                let text = &source[*start..*end];
                match lax::tag(text, lax::tag_name(text)) {
                    Some(rewritten) => out.extend_from_slice(rewritten.as_bytes()),
                    None => out.extend_from_slice(text.as_bytes()),
                }
                i += 1;
            }
            Element::Text if source[*start..].starts_with("{%") => {
                // Markup only platformOS's lax parser takes (`@name`): the
                // grammar reads it as text, one character at a time.
                match lax::invalid_tag(&source[*start..]) {
                    Some((length, rewritten)) => {
                        out.extend_from_slice(rewritten.as_bytes());
                        let span_end = start + length;
                        let mut covered_to = span_end;
                        while i < elements.len() && elements[i].0 < span_end {
                            covered_to = covered_to.max(elements[i].1);
                            i += 1;
                        }
                        // Text after the tag in the last element it reached.
                        out.extend_from_slice(&bytes[span_end..covered_to]);
                    }
                    None => {
                        out.extend_from_slice(&bytes[*start..*end]);
                        i += 1;
                    }
                }
            }
            _ => {
                out.extend_from_slice(&bytes[*start..*end]);
                i += 1;
            }
        }
    }
    // Insertions are ASCII at ASCII boundaries, so this is valid UTF-8.
    String::from_utf8(out).unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned())
}

fn needs_escape(shape: &ExpressionShape, source: &str) -> bool {
    match shape.filters.last() {
        Some((start, end)) => !TRUSTED_LAST_FILTERS.contains(&&source[*start..*end]),
        None => &source[shape.value.0..shape.value.1] != "content_for_layout",
    }
}

fn plain_tag<'a>(element: &Element, source: &'a str) -> Option<(&'a str, bool)> {
    match element {
        Element::Tag(shape) => Some((&source[shape.name.0..shape.name.1], shape.has_arguments)),
        _ => None,
    }
}

/// Index of the first `{% <closing> %}` tag after `open`.
fn block_end(elements: &[(usize, usize, Element)], open: usize, source: &str, closing: &str) -> Option<usize> {
    (open + 1..elements.len()).find(|&j| plain_tag(&elements[j].2, source) == Some((closing, false)))
}

/// Index of the `{% endraw %}` closing the raw block opened at `open`:
/// the first `endraw` tag without arguments (no nesting), as liquid-rust's
/// `escape_liquid(false)`.
fn raw_end(elements: &[(usize, usize, Element)], open: usize, source: &str) -> Option<usize> {
    (open + 1..elements.len()).find(|&j| plain_tag(&elements[j].2, source) == Some(("endraw", false)))
}

/// Index of the `{% endcomment %}` closing the comment opened at `open`,
/// following nested comments and raw blocks; `None` when unclosed or when
/// the comment holds a `comment`/`endcomment`/`raw` tag with arguments.
fn comment_end(elements: &[(usize, usize, Element)], open: usize, source: &str) -> Option<usize> {
    let mut depth = 1;
    let mut j = open + 1;
    while j < elements.len() {
        match plain_tag(&elements[j].2, source) {
            Some(("raw", false)) => j = raw_end(elements, j, source)?,
            Some(("comment", false)) => depth += 1,
            Some(("endcomment", false)) => {
                depth -= 1;
                if depth == 0 {
                    return Some(j);
                }
            }
            Some(("raw" | "comment" | "endcomment", true)) => return None,
            _ => {}
        }
        j += 1;
    }
    None
}

#[cfg(test)]
mod tests;
