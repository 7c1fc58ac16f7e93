//! `gateways/GATEWAY.yml`: what a gateway accepts for the whole app — its
//! currencies, payment methods and how payments are captured when a form
//! does not say. A module ships one; the app's file at the same name wins.
//!
//! ```yaml
//! currencies: [usd, eur, gbp]      # ISO 4217, lower case
//! payment_methods: [card, sepa_debit]
//! capture: automatic               # or manual
//! ```

use std::path::Path;

use serde::Deserialize;

use crate::error::LoadProblem;

/// Where a gateway's defaults live, relative to the app or a module.
pub const GATEWAYS_DIR: &str = "gateways";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Capture {
    /// Captured when confirmed.
    #[default]
    Automatic,
    /// Authorized only; captured later by a capture request type.
    Manual,
}

impl Capture {
    pub fn as_str(self) -> &'static str {
        match self {
            Capture::Automatic => "automatic",
            Capture::Manual => "manual",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GatewayDefaults {
    /// Accepted currencies, lower case; empty accepts any.
    pub currencies: Vec<String>,
    pub payment_methods: Vec<String>,
    pub capture: Capture,
    /// The file they came from (for messages).
    pub file: String,
}

impl GatewayDefaults {
    /// True when `currency` may be charged (any case).
    pub fn accepts_currency(&self, currency: &str) -> bool {
        self.currencies.is_empty() || self.currencies.iter().any(|c| c.eq_ignore_ascii_case(currency.trim()))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    currencies: Vec<String>,
    #[serde(default)]
    payment_methods: Vec<String>,
    capture: Option<String>,
}

const MAX_ENTRIES: usize = 200;

/// Parse one defaults file; problems carry the file and line.
pub fn parse(rel: &Path, text: &str) -> Result<GatewayDefaults, LoadProblem> {
    let problem = |line: usize, message: String| LoadProblem::new(rel, line, message);
    let file: File = serde_yaml::from_str(text).map_err(|e| {
        let line = e.location().map_or(1, |l| l.line());
        problem(line, format!("invalid gateway defaults: {e}"))
    })?;
    if file.currencies.len() > MAX_ENTRIES || file.payment_methods.len() > MAX_ENTRIES {
        return Err(problem(
            1,
            format!("at most {MAX_ENTRIES} currencies and payment methods"),
        ));
    }
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).map_or(1, |n| n + 1);
    let mut currencies = Vec::new();
    for currency in &file.currencies {
        let code = currency.trim().to_ascii_lowercase();
        if code.len() != 3 || !code.chars().all(|c| c.is_ascii_lowercase()) {
            return Err(problem(
                line_of(currency),
                format!("`{currency}` is not a currency code (three letters, ISO 4217)"),
            ));
        }
        currencies.push(code);
    }
    for method in &file.payment_methods {
        let well_formed = !method.is_empty()
            && method.len() <= 64
            && method
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !well_formed {
            return Err(problem(
                line_of(method),
                format!("`{method}` is not a payment method type (e.g. card, sepa_debit)"),
            ));
        }
    }
    let capture = match file.capture.as_deref().map(str::trim) {
        None | Some("automatic") => Capture::Automatic,
        Some("manual") => Capture::Manual,
        Some(other) => {
            return Err(problem(
                line_of("capture"),
                format!("capture is `{other}`; it must be automatic or manual"),
            ))
        }
    };
    Ok(GatewayDefaults {
        currencies,
        payment_methods: file.payment_methods,
        capture,
        file: rel.display().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_parsed_and_checked() {
        let path = Path::new("gateways/stripe.yml");
        let parsed = parse(
            path,
            "currencies: [USD, eur]\npayment_methods: [card]\ncapture: manual\n",
        )
        .unwrap();
        assert_eq!(parsed.currencies, ["usd", "eur"]);
        assert_eq!(parsed.capture, Capture::Manual);
        assert!(parsed.accepts_currency("EUR"));
        assert!(!parsed.accepts_currency("jpy"));
        assert!(
            GatewayDefaults::default().accepts_currency("jpy"),
            "no list accepts any"
        );
        let bad = parse(path, "currencies: [usd]\ncapture: later\n").unwrap_err();
        assert_eq!(bad.line, 2);
        assert!(bad.to_string().contains("automatic or manual"), "{bad}");
        let bad = parse(path, "currencies:\n  - usd\n  - dollars\n").unwrap_err();
        assert_eq!(bad.line, 3);
        assert!(parse(path, "currency: [usd]\n").is_err(), "unknown keys are refused");
    }

    #[test]
    fn hostile_files_are_refused_without_a_panic() {
        let path = Path::new("gateways/stripe.yml");
        let deep = format!("currencies: {}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse(path, &deep).is_err());
        let many = format!("currencies: [{}]", vec!["usd"; 201].join(", "));
        assert!(parse(path, &many).is_err());
        assert!(parse(path, "payment_methods: [\"card; rm -rf\"]").is_err());
        assert!(parse(path, "currencies: usd").is_err(), "a list, not a string");
        assert!(parse(path, "\u{0}").is_err());
    }
}
