//! The `context` object templates see: params, headers, location, flash,
//! visitor, CSRF token — platformOS's `context`, without server sessions.

use actix_web::HttpRequest;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::config::Settings;

pub const VISITOR_COOKIE: &str = "pf_visitor";
pub const FLASH_COOKIE: &str = "pf_flash";

/// Flash messages carried to the next page in a signed cookie.
/// Both keys are always present (null when unset): Liquid here is strict
/// about unknown keys, and `{% if context.flash.notice %}` must just work.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Flash {
    pub notice: Option<String>,
    pub alert: Option<String>,
}

/// Headers a template may read; cookies and credentials are never exposed.
const VISIBLE_HEADERS: [&str; 6] = [
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
    pub headers: Map<String, Value>,
    pub csrf_token: String,
    /// Cookies get `Secure`: the site is served over https.
    pub secure_cookies: bool,
    /// The operator is signed in on this browser.
    pub operator: bool,
}

impl RequestInfo {
    pub fn from_request(req: &HttpRequest, settings: &Settings) -> RequestInfo {
        let (visitor_id, new_visitor) = match req.cookie(VISITOR_COOKIE) {
            Some(c) if valid_visitor_id(c.value()) => (c.value().to_string(), false),
            _ => (crate::forms::csrf::new_visitor_id(), true),
        };
        let flash_cookie = req.cookie(FLASH_COOKIE);
        let had_flash = flash_cookie.is_some();
        let flash = flash_cookie
            .and_then(|c| {
                crate::forms::signing::open::<Flash>(
                    &settings.derived_key("flash"),
                    c.value(),
                    chrono::Utc::now().timestamp(),
                )
                .ok()
            })
            .unwrap_or_default();
        let mut headers = Map::new();
        for name in VISIBLE_HEADERS {
            if let Some(value) = req.headers().get(name).and_then(|v| v.to_str().ok()) {
                headers.insert(name.replace('-', "_"), Value::String(value.to_string()));
            }
        }
        let csrf_token = crate::forms::csrf::token_for(settings, &visitor_id);
        RequestInfo {
            visitor_id,
            new_visitor,
            flash,
            had_flash,
            path: req.path().to_string(),
            query: req.query_string().to_string(),
            host: req.connection_info().host().to_string(),
            headers,
            csrf_token,
            secure_cookies: settings.serves_https(),
            operator: crate::operator::is_signed_in(
                settings,
                req.cookie(crate::operator::SESSION_COOKIE).as_ref().map(|c| c.value()),
                chrono::Utc::now().timestamp(),
            ),
        }
    }

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
            },
            "flash": self.flash,
            "visitor": { "id": self.visitor_id },
            "operator": { "signed_in": self.operator },
            "csrf_token": self.csrf_token,
            "page": page,
            "exports": {},
            "stripe": {
                "publishable_key": settings.stripe.publishable_key,
                "js_url": settings.stripe.js_url,
            },
        })
    }
}

fn valid_visitor_id(value: &str) -> bool {
    value.len() == 32 && value.chars().all(|c| c.is_ascii_hexdigit())
}

/// Parse a query string or urlencoded body into params. Repeated keys and
/// `name[]` become arrays; `a[b]` becomes nested objects.
pub fn parse_params(encoded: &str) -> Map<String, Value> {
    let mut params = Map::new();
    for (key, value) in url::form_urlencoded::parse(encoded.as_bytes()) {
        insert_param(&mut params, &key, Value::String(value.into_owned()));
    }
    params
}

fn insert_param(params: &mut Map<String, Value>, key: &str, value: Value) {
    // Split `a[b][c]` into ["a", "b", "c"]; `a[]` pushes onto an array.
    let (head, rest) = match key.find('[') {
        Some(i) if key.ends_with(']') => (&key[..i], &key[i..]),
        _ => (key, ""),
    };
    if rest.is_empty() {
        match params.get_mut(head) {
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let previous = existing.take();
                *existing = Value::Array(vec![previous, value]);
            }
            None => {
                params.insert(head.to_string(), value);
            }
        }
        return;
    }
    let inner = &rest[1..rest.len() - 1];
    let (first, remainder) = match inner.find("][") {
        Some(i) => (&inner[..i], format!("[{}]", &inner[i + 2..])),
        None => (inner, String::new()),
    };
    if first.is_empty() {
        let entry = params
            .entry(head.to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(items) = entry {
            items.push(value);
        }
        return;
    }
    let entry = params
        .entry(head.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    if let Value::Object(child) = entry {
        insert_param(child, &format!("{first}{remainder}"), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_nest_and_repeat() {
        let p = parse_params("a=1&form%5Bamount%5D=599&form[name]=J%C3%BCrgen&tags[]=x&tags[]=y&a=2&q=a+b");
        assert_eq!(p["form"]["amount"], "599");
        assert_eq!(p["form"]["name"], "Jürgen");
        assert_eq!(p["tags"], json!(["x", "y"]));
        assert_eq!(p["a"], json!(["1", "2"]));
        assert_eq!(p["q"], "a b");
        assert!(parse_params("").is_empty());
    }

    #[test]
    fn deep_nesting() {
        let p = parse_params("a[b][c]=1&a[b][d]=2");
        assert_eq!(p["a"]["b"]["c"], "1");
        assert_eq!(p["a"]["b"]["d"], "2");
    }
}
