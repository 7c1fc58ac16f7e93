//! Markup platformOS's Liquid (Ruby Liquid in lax mode) takes and
//! liquid-rust refuses, rewritten at load to what it means there:
//!
//! - `{% assign = total = 5 %}`: lax `assign` finds `name = value`
//!   anywhere in its markup, so a stray `=` before the name is ignored;
//! - `{% form html-class: @request_type %}`: a Ruby instance variable
//!   name is read as the variable of that name.
//!
//! Only the tag's own text changes; newlines are kept, so line numbers stay.

/// The rewritten text of one whole tag (`{%- … -%}`), or None when it is
/// fine as it is.
pub(super) fn tag(text: &str, name: &str) -> Option<String> {
    match name {
        "assign" => stray_equals(text),
        "form" if text.contains('@') => Some(instance_variables(text)),
        _ => None,
    }
}

/// Longest tag looked at for lax markup.
const MAX_TAG_BYTES: usize = 4096;

/// For `rest` starting at a `{%` the grammar could not read: the length of
/// the tag (through `%}`) and its rewrite, when a lax rule applies.
pub(super) fn invalid_tag(rest: &str) -> Option<(usize, String)> {
    // Only the tags a rule is about are looked into (cheap: the name).
    if !matches!(tag_name(&rest[..floor_char_boundary(rest, 64)]), "assign" | "form") {
        return None;
    }
    let window = &rest[..floor_char_boundary(rest, MAX_TAG_BYTES)];
    let length = window.find("%}")? + 2;
    let text = &rest[..length];
    tag(text, tag_name(text)).map(|rewritten| (length, rewritten))
}

fn floor_char_boundary(text: &str, at: usize) -> usize {
    if at >= text.len() {
        return text.len();
    }
    (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0)
}

/// The name of the tag `text` is (`{%- form … %}` → `form`), or "" when
/// it is not a tag.
pub(super) fn tag_name(text: &str) -> &str {
    let Some(inside) = text.strip_prefix("{%") else {
        return "";
    };
    let inside = inside.strip_prefix('-').unwrap_or(inside).trim_start();
    let end = inside
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inside.len());
    &inside[..end]
}

/// `{% assign = x = 1 %}` → `{% assign x = 1 %}` (only when a name and a
/// second `=` follow).
fn stray_equals(text: &str) -> Option<String> {
    let at = text.find("assign")? + "assign".len();
    let rest = &text[at..];
    let after = rest.trim_start().strip_prefix('=')?;
    if after.starts_with('=') {
        return None; // `==`: not this typo
    }
    let name_end = after
        .trim_start()
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '.'))?;
    let name = &after.trim_start()[..name_end];
    if name.is_empty() || !after.trim_start()[name_end..].trim_start().starts_with('=') {
        return None;
    }
    let leading = rest.len() - rest.trim_start().len();
    Some(format!("{}{}{}", &text[..at], &rest[..leading], after))
}

/// `@name` outside quotes → ` name` (same length).
fn instance_variables(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    let mut previous = ' ';
    for c in text.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '@' && (previous.is_whitespace() || previous == ':' || previous == ',') => {
                out.push(' ');
                previous = ' ';
                continue;
            }
            None => {}
        }
        out.push(c);
        previous = c;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stray_equals_before_the_name_is_dropped() {
        assert_eq!(
            tag("{% assign = base = 'a,b' %}", "assign").as_deref(),
            Some("{% assign  base = 'a,b' %}")
        );
        assert_eq!(
            tag("{%- assign\n= x = 1 -%}", "assign").as_deref(),
            Some("{%- assign\n x = 1 -%}")
        );
        for fine in [
            "{% assign x = 1 %}",
            "{% assign == 1 %}",
            "{% assign = %}",
            "{% assign = x %}",
        ] {
            assert_eq!(tag(fine, "assign"), None, "{fine}");
        }
    }

    #[test]
    fn hostile_markup_never_panics_and_looks_within_its_window() {
        let many = "{% form @é".repeat(50_000);
        for at in 0..2_000 {
            assert!(invalid_tag(&many[at * 11..]).is_none(), "no `%}}` within the window");
        }
        let far = format!("{{% form @x {} %}}", " ".repeat(MAX_TAG_BYTES));
        assert!(
            invalid_tag(&far).is_none(),
            "a tag longer than the window is left to the parser"
        );
        assert!(invalid_tag("{% if @x %}").is_none());
        assert!(invalid_tag("{% formé @x").is_none());
        assert_eq!(
            invalid_tag("{% form @x %}tail"),
            Some((13, "{% form  x %}".to_string()))
        );
    }

    #[test]
    fn instance_variables_in_form_arguments_are_variables() {
        assert_eq!(
            tag("{% form html-class: @request_type, id: '@x' %}", "form").as_deref(),
            Some("{% form html-class:  request_type, id: '@x' %}")
        );
        assert_eq!(tag("{% form id: 'a' %}", "form"), None);
        assert_eq!(tag("{% if @x %}", "if"), None, "only where platformOS modules write it");
    }
}
