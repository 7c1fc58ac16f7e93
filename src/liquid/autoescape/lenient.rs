//! Data templates read members leniently: `a.b["c"][d]` in an output is
//! rewritten to `nil | pf_dig: "a", "b", "c", d`, so a missing member is nil
//! instead of a render error (the root variable itself must still exist,
//! so a misspelt name is still caught).

/// The rewritten value, or None when `value` is not a variable with at
/// least one index (literals, plain names, anything unusual).
pub(super) fn dig(value: &str) -> Option<String> {
    if value.contains('\n') {
        return None;
    }
    let bytes = value.as_bytes();
    let is_ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
    let first = *bytes.first()?;
    if !(first.is_ascii_alphabetic() || first == b'_') {
        return None;
    }
    let mut i = 0;
    while i < bytes.len() && is_ident(bytes[i]) {
        i += 1;
    }
    let root = &value[..i];
    if matches!(root, "true" | "false" | "nil" | "empty" | "blank") {
        return None;
    }
    let mut indexes: Vec<String> = Vec::new();
    while i < bytes.len() {
        match bytes[i] {
            b'.' => {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len() && is_ident(bytes[end]) {
                    end += 1;
                }
                if end == start {
                    return None;
                }
                indexes.push(format!("\"{}\"", &value[start..end]));
                i = end;
            }
            b'[' => {
                let close = matching_bracket(bytes, i)?;
                let inner = value[i + 1..close].trim();
                if inner.is_empty() {
                    return None;
                }
                indexes.push(inner.to_string());
                i = close + 1;
            }
            _ => return None,
        }
    }
    // pf_dig takes the name and at most 31 indexes; a longer read stays
    // as written (strict), rather than failing to load.
    if indexes.is_empty() || indexes.len() >= crate::liquid::filters::lenient::MAX_INDEXES {
        return None;
    }
    // The root goes by name: pf_dig looks the member up whole.
    Some(format!("nil | pf_dig: \"{root}\", {}", indexes.join(", ")))
}

/// Index of the `]` closing the `[` at `open`, skipping quoted text.
fn matching_bracket(bytes: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    for (i, &c) in bytes.iter().enumerate().skip(open) {
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(c),
            (None, b'[') => depth += 1,
            (None, b']') => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::dig;

    #[test]
    fn indexed_variables_become_digs_and_the_rest_stays() {
        assert_eq!(
            dig("pi.customer.id").as_deref(),
            Some(r#"nil | pf_dig: "pi", "customer", "id""#)
        );
        assert_eq!(
            dig(r#"a["b c"][d].e"#).as_deref(),
            Some(r#"nil | pf_dig: "a", "b c", d, "e""#)
        );
        assert_eq!(dig("a[b[0]]").as_deref(), Some("nil | pf_dig: \"a\", b[0]"));
        assert_eq!(dig("data"), None);
        assert_eq!(dig("'text'"), None);
        assert_eq!(dig("12"), None);
        assert_eq!(dig("(1..3)"), None);
        assert_eq!(dig("a."), None);
        assert_eq!(dig("a[']']").as_deref(), Some("nil | pf_dig: \"a\", ']'"));
        assert_eq!(dig("a[b"), None);
        assert!(
            dig(&format!("a{}", ".b".repeat(32))).is_none(),
            "too long for pf_dig: left strict"
        );
        assert!(dig(&format!("a{}", ".b".repeat(31))).is_some());
    }
}
