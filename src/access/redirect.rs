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

/// `location` (trimmed) when it is an absolute http(s) URL on one of
/// `origins` (the gateway's hosted pages), with no control character and no
/// backslash.
pub fn gateway_page<'a>(location: &'a str, origins: &[String]) -> Option<&'a str> {
    let location = location.trim();
    if location.chars().any(|c| c.is_control() || c == '\\') {
        return None;
    }
    let url = url::Url::parse(location).ok()?;
    let origin = url.origin().ascii_serialization();
    (matches!(url.scheme(), "http" | "https") && origins.contains(&origin)).then_some(location)
}

#[cfg(test)]
mod tests {
    use super::{gateway_page, local_path};

    #[test]
    fn gateway_pages_only_on_their_origins() {
        let origins = vec!["https://checkout.stripe.com".to_string()];
        let page = "https://checkout.stripe.com/c/pay/cs_test_1";
        assert_eq!(gateway_page(page, &origins), Some(page));
        for hostile in [
            "https://checkout.stripe.com.evil.example/c/pay",
            "https://evil.example/?https://checkout.stripe.com",
            "javascript://checkout.stripe.com/%0aalert(1)",
            "https://checkout.stripe.com/\\evil",
            "https://checkout.stripe.com/\nx",
            "/local",
        ] {
            assert_eq!(gateway_page(hostile, &origins), None, "{hostile:?}");
        }
    }

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
