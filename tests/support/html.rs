//! Just enough HTML reading to post a rendered form back (hidden signed
//! fields, CSRF token, idempotency key) without a parser dependency.

use regex::Regex;

/// The `<form ... id="ID" ...> ... </form>` element, if present.
pub fn form_html<'a>(html: &'a str, id: &str) -> Option<&'a str> {
    let open = Regex::new(&format!(
        r#"<form\b[^>]*\bid\s*=\s*["']{}["'][^>]*>"#,
        regex::escape(id)
    ))
    .expect("form regex");
    let start = open.find(html)?.start();
    let end = html[start..].find("</form>").map(|i| start + i + "</form>".len())?;
    Some(&html[start..end])
}

/// (name, value) of every `<input name=...>` in `html`, in document order,
/// values unescaped; checkboxes/radios only when `checked`. Inputs without
/// a value give "".
pub fn input_values(html: &str) -> Vec<(String, String)> {
    let tag = Regex::new(r"(?is)<input\b([^>]*)>").expect("input regex");
    let attr = Regex::new(r#"(?is)([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?"#)
        .expect("attribute regex");
    let mut out = Vec::new();
    for input in tag.captures_iter(html) {
        let (mut name, mut value, mut kind, mut checked) = (None, String::new(), String::new(), false);
        for a in attr.captures_iter(&input[1]) {
            let key = a[1].to_ascii_lowercase();
            let val = a.get(2).or(a.get(3)).or(a.get(4)).map(|m| html_unescape(m.as_str()));
            match key.as_str() {
                "name" => name = val,
                "value" => value = val.unwrap_or_default(),
                "type" => kind = val.unwrap_or_default().to_ascii_lowercase(),
                "checked" => checked = true,
                _ => {}
            }
        }
        let skip = (kind == "checkbox" || kind == "radio") && !checked;
        if let (Some(name), false) = (name, skip) {
            out.push((name, value));
        }
    }
    out
}

/// Decodes the entities templates produce: named basics and numeric ones.
pub fn html_unescape(text: &str) -> String {
    let entity = Regex::new(r"&(#[0-9]+|#[xX][0-9a-fA-F]+|amp|lt|gt|quot|apos);").expect("entity regex");
    entity
        .replace_all(text, |c: &regex::Captures| {
            let body = &c[1];
            let decoded = match body {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ if body.starts_with("#x") || body.starts_with("#X") => {
                    u32::from_str_radix(&body[2..], 16).ok().and_then(char::from_u32)
                }
                _ => body[1..].parse::<u32>().ok().and_then(char::from_u32),
            };
            decoded.map(String::from).unwrap_or_else(|| c[0].to_string())
        })
        .into_owned()
}
