//! Where a redirect may go: only a path on this site.
//!
//! Redirect targets come from templates that see request params and
//! records, so they are hostile input. Browsers drop tabs and newlines from
//! a `Location` and read `\` as `/`, so `/\t/evil.example` and
//! `/\evil.example` would leave the site; a CR or LF would also make an
//! invalid header. Any control character or backslash refuses the target.

/// `location` (trimmed) when it is a local path: starts with one `/`, not
/// `//`, holds no control character and no backslash.
pub fn local_path(location: &str) -> Option<&str> {
    let location = location.trim();
    let local = location.starts_with('/')
        && !location.starts_with("//")
        && !location.chars().any(|c| c.is_control() || c == '\\');
    local.then_some(location)
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_pass() {
        assert_eq!(local_path("/payments"), Some("/payments"));
        assert_eq!(local_path(" /payments?page=2 "), Some("/payments?page=2"));
        assert_eq!(local_path("/%0d%0aSet-Cookie:x"), Some("/%0d%0aSet-Cookie:x"));
        for hostile in [
            "https://evil.example",
            "//evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ok\r\nSet-Cookie: x=1",
            "/\\evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "",
            "/\u{0}",
        ] {
            assert_eq!(local_path(hostile), None, "{hostile:?}");
        }
    }
}
