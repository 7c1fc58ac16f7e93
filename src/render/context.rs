//! The `context` object templates see: params, headers, location, flash,
//! visitor, CSRF token — platformOS's `context`, without server sessions.

use serde_json::{json, Map, Value};

use crate::config::Settings;
use crate::forms::feedback::Flash;

pub const VISITOR_COOKIE: &str = "pf_visitor";
pub const FLASH_COOKIE: &str = "pf_flash";

/// Headers a template may read; cookies and credentials are never exposed.
pub const VISIBLE_HEADERS: [&str; 6] = [
    "host",
    "user-agent",
    "accept",
    "accept-language",
    "referer",
    "content-type",
];

/// What one request knows about its visitor and URL.
pub struct RequestInfo {
    pub visitor_id: String,
    /// True when the visitor cookie must be set on the response.
    pub new_visitor: bool,
    pub flash: Flash,
    pub had_flash: bool,
    pub path: String,
    pub query: String,
    pub host: String,
    /// `scheme://host` of this site: PAYFORMS_PUBLIC_URL when set, else as
    /// the request came (for absolute URLs such as Checkout's success_url).
    pub origin: String,
    pub headers: Map<String, Value>,
    pub csrf_token: String,
    /// Cookies get `Secure`: the site is served over https.
    pub secure_cookies: bool,
    /// The operator is signed in on this browser.
    pub operator: bool,
    /// The page may dispatch request types, write records and run GraphQL
    /// mutations: set only for a non-GET request whose CSRF token and
    /// origin were checked.
    pub may_write: bool,
}

impl RequestInfo {
    /// The `context` object.
    pub fn context(&self, params: Map<String, Value>, settings: &Settings, page: Value) -> Value {
        let search = if self.query.is_empty() {
            String::new()
        } else {
            format!("?{}", self.query)
        };
        json!({
            "params": params,
            "headers": self.headers,
            "location": {
                "href": format!("{}{}", self.path, search),
                "pathname": self.path,
                "search": search,
                "host": self.host,
                "origin": self.origin,
            },
            "flash": self.flash,
            "visitor": { "id": self.visitor_id },
            "operator": { "signed_in": self.operator },
            "csrf_token": self.csrf_token,
            "page": page,
            "exports": {},
            "stripe": {
                "publishable_key": settings.stripe_publishable_key(),
                "environment": settings.environment.as_str(),
                "livemode": settings.environment.livemode(),
                "js_url": settings.stripe.js_url,
            },
        })
    }
}

pub fn valid_visitor_id(value: &str) -> bool {
    value.len() == 32 && value.chars().all(|c| c.is_ascii_hexdigit())
}

/// How deep `a[b][c]…` may nest: forms nest two or three levels; anything
/// far deeper is an attack on the parser or on whatever walks the result.
pub const MAX_PARAM_DEPTH: usize = 8;
/// How many `name=value` pairs one query string or body may carry.
pub const MAX_PARAM_COUNT: usize = 1_000;
/// How long one parameter name may be, in bytes.
pub const MAX_PARAM_NAME_BYTES: usize = 256;

/// Why a query string or urlencoded body was refused (a 400 for the sender).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    #[error("too many parameters: at most {MAX_PARAM_COUNT} are accepted")]
    TooMany,
    #[error("parameter name `{0}…` is longer than {MAX_PARAM_NAME_BYTES} bytes")]
    NameTooLong(String),
    #[error("parameter `{0}` nests deeper than {MAX_PARAM_DEPTH} levels")]
    TooDeep(String),
}

/// Parse a query string or urlencoded body into params. Repeated keys and
/// `name[]` become arrays; `a[b]` becomes nested objects. Bounded in count,
/// name length and depth, and iterative, so no input can exhaust the stack.
pub fn parse_params(encoded: &str) -> Result<Map<String, Value>, ParamsError> {
    let mut params = Map::new();
    for (count, (key, value)) in url::form_urlencoded::parse(encoded.as_bytes()).enumerate() {
        if count >= MAX_PARAM_COUNT {
            return Err(ParamsError::TooMany);
        }
        if key.len() > MAX_PARAM_NAME_BYTES {
            return Err(ParamsError::NameTooLong(shorten(&key)));
        }
        let (head, segments) = split_param_name(&key);
        if segments.len() > MAX_PARAM_DEPTH {
            return Err(ParamsError::TooDeep(shorten(&key)));
        }
        insert_param(&mut params, head, &segments, Value::String(value.into_owned()));
    }
    Ok(params)
}

/// The first 40 characters of a hostile name, for an error message.
fn shorten(name: &str) -> String {
    name.chars().take(40).collect()
}

/// `a[b][c]` → ("a", ["b", "c"]); `a[]` → ("a", [""]); a name that does not
/// end in `]` is taken whole.
fn split_param_name(key: &str) -> (&str, Vec<&str>) {
    match key.find('[') {
        Some(i) if key.ends_with(']') && i + 1 < key.len() => {
            let inner = &key[i + 1..key.len() - 1];
            (&key[..i], inner.split("][").collect())
        }
        _ => (key, Vec::new()),
    }
}

fn insert_param(params: &mut Map<String, Value>, head: &str, segments: &[&str], value: Value) {
    let mut map = params;
    let mut name = head;
    for segment in segments {
        if segment.is_empty() {
            // `name[]` (at any level) appends to the array at `name`.
            let entry = map.entry(name.to_string()).or_insert_with(|| Value::Array(Vec::new()));
            match entry {
                Value::Array(items) => items.push(value),
                other => {
                    let previous = other.take();
                    *other = Value::Array(vec![previous, value]);
                }
            }
            return;
        }
        let entry = map.entry(name.to_string()).or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Some(child) = entry.as_object_mut() else {
            return;
        };
        map = child;
        name = segment;
    }
    match map.get_mut(name) {
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let previous = existing.take();
            *existing = Value::Array(vec![previous, value]);
        }
        None => {
            map.insert(name.to_string(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_nest_and_repeat() {
        let p = parse_params("a=1&form%5Bamount%5D=599&form[name]=J%C3%BCrgen&tags[]=x&tags[]=y&a=2&q=a+b").unwrap();
        assert_eq!(p["form"]["amount"], "599");
        assert_eq!(p["form"]["name"], "Jürgen");
        assert_eq!(p["tags"], json!(["x", "y"]));
        assert_eq!(p["a"], json!(["1", "2"]));
        assert_eq!(p["q"], "a b");
        assert!(parse_params("").unwrap().is_empty());
    }

    #[test]
    fn deep_nesting() {
        let p = parse_params("a[b][c]=1&a[b][d]=2").unwrap();
        assert_eq!(p["a"]["b"]["c"], "1");
        assert_eq!(p["a"]["b"]["d"], "2");
    }

    #[test]
    fn nesting_count_and_name_length_are_bounded() {
        let deep = format!("a{}=1", "[b]".repeat(6_000));
        assert!(matches!(parse_params(&deep), Err(ParamsError::NameTooLong(_))));
        let nine = format!("a{}=1", "[b]".repeat(MAX_PARAM_DEPTH + 1));
        assert!(matches!(parse_params(&nine), Err(ParamsError::TooDeep(_))));
        let eight = format!("a{}=1", "[b]".repeat(MAX_PARAM_DEPTH));
        assert!(parse_params(&eight).is_ok());
        let many = vec!["x=1"; MAX_PARAM_COUNT + 1].join("&");
        assert_eq!(parse_params(&many), Err(ParamsError::TooMany));
        assert!(parse_params(&vec!["x=1"; MAX_PARAM_COUNT].join("&")).is_ok());
    }

    #[test]
    fn mixed_shapes_do_not_panic() {
        let p = parse_params("a=1&a[b]=2&a[]=3&c[]=1&c[d]=2&e[=1&f]=2&[g]=3&h[][i]=4").unwrap();
        assert_eq!(p["e["], "1");
        assert_eq!(p["f]"], "2");
        assert_eq!(p["h"], json!(["4"]));
    }

    /// The deepest nesting of objects and arrays in `value`, walked
    /// without recursion.
    fn depth(value: &Value) -> usize {
        let mut deepest = 0;
        let mut pending = vec![(value, 0usize)];
        while let Some((value, level)) = pending.pop() {
            deepest = deepest.max(level);
            match value {
                Value::Object(map) => pending.extend(map.values().map(|v| (v, level + 1))),
                Value::Array(items) => pending.extend(items.iter().map(|v| (v, level + 1))),
                _ => {}
            }
        }
        deepest
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Any query string, bracket-heavy ones included: no panic, and
        /// what is accepted nests no deeper than the limit.
        #[test]
        fn any_query_string_parses_within_bounds(encoded in r"([a-c\[\]=&%0-9]|\[\]|%5B|%5D){0,400}") {
            if let Ok(params) = parse_params(&encoded) {
                // One level for the name, one per segment, one for an array.
                proptest::prop_assert!(depth(&Value::Object(params)) <= MAX_PARAM_DEPTH + 2);
            }
        }

        #[test]
        fn any_bytes_parse_without_panic(encoded in ".{0,300}") {
            let _ = parse_params(&encoded);
        }
    }
}
