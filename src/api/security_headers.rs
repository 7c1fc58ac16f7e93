//! Headers every response carries: a Content-Security-Policy that lets a
//! page load scripts only from payforms itself and Stripe.js, no framing,
//! no MIME sniffing, and a referrer policy that keeps paths (and the ids in
//! them) on this site.

use actix_web::middleware::DefaultHeaders;
use url::Url;

use crate::config::Settings;

/// Stripe's own origins, allowed when payforms talks to real Stripe
/// (Stripe.js loads its iframes and 3-D Secure pages from these).
const STRIPE_SCRIPT_ORIGINS: &str = "https://js.stripe.com https://*.js.stripe.com";
const STRIPE_FRAME_ORIGINS: &str = "https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com";
const STRIPE_CONNECT_ORIGINS: &str = "https://api.stripe.com https://m.stripe.network https://q.stripe.com";

/// The policy for `settings`: `content_security_policy` when set, else one
/// built from where Stripe.js and the Stripe API are (Stripe itself, or a
/// Stripe-compatible test server).
pub fn content_security_policy(settings: &Settings) -> String {
    if let Some(policy) = &settings.content_security_policy {
        return policy.clone();
    }
    let js = origin_of(&settings.stripe.js_url);
    let api = origin_of(&settings.stripe.api_base);
    let real_stripe = js.as_deref() == Some("https://js.stripe.com");
    let mut script = vec!["'self'".to_string()];
    let mut frame = Vec::new();
    let mut connect = vec!["'self'".to_string()];
    if real_stripe {
        script.push(STRIPE_SCRIPT_ORIGINS.into());
        frame.push(STRIPE_FRAME_ORIGINS.into());
        connect.push(STRIPE_CONNECT_ORIGINS.into());
    } else if let Some(js) = &js {
        script.push(js.clone());
        frame.push(js.clone());
        connect.push(js.clone());
    }
    if let Some(api) = api {
        let listed = connect
            .iter()
            .any(|sources| sources.split(' ').any(|source| source == api));
        if !listed {
            connect.push(api);
        }
    }
    if frame.is_empty() {
        frame.push("'none'".into());
    }
    // A form may lead to the gateway's hosted Checkout page (the browser
    // checks form-action on the redirect too).
    let form_action = std::iter::once("'self'".to_string())
        .chain(settings.checkout_origins())
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "default-src 'self'; script-src {}; frame-src {}; connect-src {}; img-src 'self' data: https:; \
         style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; form-action {form_action}; \
         frame-ancestors 'none'",
        script.join(" "),
        frame.join(" "),
        connect.join(" "),
    )
}

/// `scheme://host[:port]` of a URL, if it is one.
fn origin_of(url: &str) -> Option<String> {
    let url = Url::parse(url).ok()?;
    match url.origin() {
        origin @ url::Origin::Tuple(..) => Some(origin.ascii_serialization()),
        url::Origin::Opaque(_) => None,
    }
}

/// The middleware adding the headers with `policy` as the CSP (a
/// handler's own value wins).
pub fn middleware(policy: &str) -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", policy.to_string()))
        .add(("X-Frame-Options", "DENY"))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "strict-origin-when-cross-origin"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Overrides, Settings};

    fn settings(env: &'static [(&'static str, &'static str)]) -> Settings {
        let dir = tempfile::tempdir().unwrap();
        Settings::load_with(dir.path(), &Overrides::default(), move |name| {
            env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        })
        .unwrap()
    }

    #[test]
    fn real_stripe_gets_stripes_origins_and_nothing_else() {
        let policy = content_security_policy(&settings(&[]));
        assert!(
            policy.contains("script-src 'self' https://js.stripe.com https://*.js.stripe.com;"),
            "{policy}"
        );
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(policy.contains("connect-src 'self' https://api.stripe.com"), "{policy}");
        assert!(!policy.contains("unsafe-eval"), "{policy}");
        assert!(!policy.contains("script-src 'self' 'unsafe-inline'"), "{policy}");
    }

    #[test]
    fn a_local_stripe_is_allowed_by_its_origin() {
        let policy = content_security_policy(&settings(&[
            ("STRIPE_JS_URL", "http://127.0.0.1:4242/js.stripe.com/v3/"),
            ("STRIPE_API_BASE", "http://127.0.0.1:4243"),
        ]));
        assert!(policy.contains("script-src 'self' http://127.0.0.1:4242;"), "{policy}");
        assert!(
            policy.contains("connect-src 'self' http://127.0.0.1:4242 http://127.0.0.1:4243;"),
            "{policy}"
        );
        assert!(!policy.contains("stripe.com"), "{policy}");
    }

    #[test]
    fn the_setting_replaces_the_policy() {
        let policy = content_security_policy(&settings(&[("PAYFORMS_CONTENT_SECURITY_POLICY", "default-src 'none'")]));
        assert_eq!(policy, "default-src 'none'");
    }
}
