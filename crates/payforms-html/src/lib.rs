//! HTML escaping, once for every place that writes HTML text or attribute
//! values: template output, the built-in pages, the sandbox's hosted pages.

/// `text` safe inside HTML text and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    escape_into(&mut out, text);
    out
}

/// [`escape`] appended to `out`: runs with nothing to escape (most text,
/// every token and id) are copied whole.
pub fn escape_into(out: &mut String, text: &str) {
    let mut safe_from = 0;
    for (at, byte) in text.bytes().enumerate() {
        let entity = match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        // These bytes are ASCII, so `at` is on a character boundary.
        out.push_str(&text[safe_from..at]);
        out.push_str(entity);
        safe_from = at + 1;
    }
    out.push_str(&text[safe_from..]);
}

#[cfg(test)]
mod tests {
    #[test]
    fn markup_and_quotes_are_escaped() {
        assert_eq!(
            super::escape(r#"<a href="x" onclick='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(super::escape("plain ñ"), "plain ñ");
        assert_eq!(super::escape("ñ<ü>€\"'&"), "ñ&lt;ü&gt;€&quot;&#39;&amp;");
        assert_eq!(super::escape(""), "");
        let mut out = String::from("a");
        super::escape_into(&mut out, "b&c");
        assert_eq!(out, "ab&amp;c");
    }
}
