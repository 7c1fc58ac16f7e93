//! The hidden inputs a form's own template renders (`<input type="hidden"
//! name="form[currency]" value="USD">`), read back from its HTML.
//!
//! platformOS forms pass values this way (the seed guide's payment form
//! writes `payer_id`, `currency` and `total_amount` as hidden inputs).
//! payforms signs such values into the form's state: the server rendered
//! them, so they are the form's data, and a visitor who changes one is
//! refused like for any signed value.

use serde_json::{Map, Value};

/// At most this many inputs are read from one form's HTML.
const MAX_INPUTS: usize = 200;
/// A longer tag is not read (no attribute of a form input needs more).
const MAX_TAG_BYTES: usize = 8 * 1024;

/// `form[NAME]` hidden inputs of `html` whose NAME is in `names`, by NAME
/// (the first one wins), values unescaped.
pub fn signed_values(html: &str, names: &[&str]) -> Map<String, Value> {
    let mut values = Map::new();
    let mut rest = html;
    let mut seen = 0;
    while let Some(start) = find_ascii_ci(rest, "<input") {
        seen += 1;
        if seen > MAX_INPUTS {
            break;
        }
        let after = &rest[start + "<input".len()..];
        let Some(end) = after.find('>') else {
            break;
        };
        let tag = &after[..end];
        rest = &after[end..];
        if tag.len() > MAX_TAG_BYTES {
            continue;
        }
        let attributes = attributes(tag);
        let get = |key: &str| {
            attributes
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        };
        if !get("type").is_some_and(|t| t.eq_ignore_ascii_case("hidden")) {
            continue;
        }
        let Some(field) = get("name")
            .and_then(|n| n.strip_prefix("form["))
            .and_then(|n| n.strip_suffix(']'))
        else {
            continue;
        };
        // platformOS's spelling of the same field.
        let field = field.strip_prefix("properties_attributes][").unwrap_or(field);
        if !names.contains(&field) || values.contains_key(field) {
            continue;
        }
        let value = get("value").cloned().unwrap_or_default();
        values.insert(field.to_string(), Value::String(value));
    }
    values
}

fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

/// The attributes of one tag's inside (`type="hidden" name='x' value=y`),
/// values unescaped. Linear; malformed text ends the list.
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let bytes = tag.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        let name_start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'=' && bytes[i] != b'/' {
            i += 1;
        }
        if name_start == i {
            break;
        }
        let name = tag[name_start..i].to_string();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] != b'=' {
            out.push((name, String::new()));
            continue;
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let value = match bytes.get(i) {
            Some(&quote) if quote == b'"' || quote == b'\'' => {
                let start = i + 1;
                let Some(len) = tag[start..].find(quote as char) else {
                    break;
                };
                i = start + len + 1;
                &tag[start..start + len]
            }
            Some(_) => {
                let start = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                &tag[start..i]
            }
            None => "",
        };
        out.push((name, unescape(value)));
    }
    out
}

/// The entities payforms' escaping writes, and the common numeric ones.
fn unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hidden_form_fields_only() {
        let html = r#"<INPUT name="form[currency]" type="hidden" value="USD">
            <input type='hidden' name='form[total_amount]' value='5.99' />
            <input type="text" name="form[note]" value="typed">
            <input type="hidden" name="form[other]" value="not a field">
            <input type="hidden" name="authenticity_token" value="t">
            <input type="hidden" name="form[payer_id]" value="a &amp; b &quot;c&quot;">
            <input type="hidden" name="form[currency]" value="EUR">
            <input type="hidden" name="form[properties_attributes][description]" value="platformOS">"#;
        let values = signed_values(html, &["currency", "total_amount", "note", "payer_id", "description"]);
        assert_eq!(values["currency"], "USD", "the first one wins");
        assert_eq!(values["total_amount"], "5.99");
        assert_eq!(values["payer_id"], "a & b \"c\"");
        assert!(!values.contains_key("note"), "a visible input is the visitor's");
        assert!(!values.contains_key("other"), "only the form's fields");
        assert_eq!(values["description"], "platformOS");
        assert_eq!(values.len(), 4);
    }

    #[test]
    fn hostile_html_is_bounded_and_never_panics() {
        for html in [
            "<input",
            "<input type=\"hidden\" name=\"form[a]\" value=\"unterminated",
            "<input type=hidden name=form[a] value=bare>",
            "<input ==== >",
            "<inputé type=\"hidden\">",
            "<input type=\"hidden\" name=\"form[a]\" value>",
        ] {
            let _ = signed_values(html, &["a"]);
        }
        assert_eq!(
            signed_values("<input type=hidden name=form[a] value=bare>", &["a"])["a"],
            "bare"
        );
        let many = "<input type=\"hidden\" name=\"form[x]\" value=\"1\">".repeat(10_000);
        assert_eq!(signed_values(&many, &["x"]).len(), 1);
        let late = format!(
            "{}<input type=\"hidden\" name=\"form[y]\" value=\"1\">",
            "<input>".repeat(300)
        );
        assert!(
            signed_values(&late, &["y"]).is_empty(),
            "only the first inputs are read"
        );
    }
}
