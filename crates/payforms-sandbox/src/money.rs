//! Currencies, Stripe's minimum charge amounts, and the sandbox's fee rule.
//! Amounts are integers in the currency's minor unit.

use super::api_error::ApiError;
use super::params::Params;

/// Currencies Stripe settles card payments in (the common ones).
const CURRENCIES: &[&str] = &[
    "usd", "aed", "ars", "aud", "bgn", "brl", "cad", "chf", "clp", "cny", "cop", "czk", "dkk", "egp", "eur", "gbp",
    "hkd", "huf", "idr", "ils", "inr", "isk", "jpy", "krw", "mad", "mxn", "myr", "ngn", "nok", "nzd", "pen", "php",
    "pkr", "pln", "ron", "rsd", "sar", "sek", "sgd", "thb", "try", "twd", "uah", "vnd", "zar",
];

/// Currencies without a minor unit (amount 500 JPY means ¥500).
const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
];

/// Stripe's documented minimum charge per currency (minor units).
const MINIMUMS: &[(&str, i64)] = &[
    ("usd", 50),
    ("aed", 200),
    ("aud", 50),
    ("bgn", 100),
    ("brl", 50),
    ("cad", 50),
    ("chf", 50),
    ("czk", 1500),
    ("dkk", 250),
    ("eur", 50),
    ("gbp", 30),
    ("hkd", 400),
    ("huf", 17500),
    ("inr", 50),
    ("jpy", 50),
    ("mxn", 1000),
    ("myr", 200),
    ("nok", 300),
    ("nzd", 50),
    ("pln", 200),
    ("ron", 200),
    ("sek", 300),
    ("sgd", 50),
    ("thb", 1000),
];

/// The largest amount Stripe accepts for one payment.
pub const MAX_AMOUNT: i64 = 99_999_999;

/// Read and validate `currency` (lowercased, as Stripe stores it).
pub fn currency(params: &Params, key: &str) -> Result<Option<String>, ApiError> {
    let Some(raw) = params.str(key)? else {
        return Ok(None);
    };
    let lower = raw.to_ascii_lowercase();
    if CURRENCIES.contains(&lower.as_str()) {
        Ok(Some(lower))
    } else {
        Err(ApiError::invalid_param(
            &params.full_name(key),
            format!(
                "Invalid currency: {raw}. Stripe currently supports these currencies: {}",
                CURRENCIES.join(", ")
            ),
        ))
    }
}

pub fn required_currency(params: &Params, key: &str) -> Result<String, ApiError> {
    currency(params, key)?.ok_or_else(|| ApiError::missing_param(&params.full_name(key)))
}

pub fn is_zero_decimal(currency: &str) -> bool {
    ZERO_DECIMAL.contains(&currency)
}

/// An amount for display, e.g. `$10.00` / `¥500` style without symbols:
/// `10.00 usd`, `500 jpy`.
pub fn display(amount: i64, currency: &str) -> String {
    if is_zero_decimal(currency) {
        format!("{amount} {currency}")
    } else {
        let sign = if amount < 0 { "-" } else { "" };
        let abs = amount.unsigned_abs();
        format!("{sign}{}.{:02} {currency}", abs / 100, abs % 100)
    }
}

/// Check a payment amount against Stripe's minimum and maximum.
pub fn check_charge_amount(amount: i64, currency: &str, param: &str) -> Result<(), ApiError> {
    let minimum = MINIMUMS
        .iter()
        .find(|(c, _)| *c == currency)
        .map(|(_, m)| *m)
        .unwrap_or(1);
    if amount < minimum {
        return Err(
            ApiError::invalid(format!("Amount must be at least {}", display(minimum, currency)))
                .with_code("amount_too_small")
                .with_param(param),
        );
    }
    if amount > MAX_AMOUNT {
        return Err(
            ApiError::invalid(format!("Amount must be no more than {}", display(MAX_AMOUNT, currency)))
                .with_code("amount_too_large")
                .with_param(param),
        );
    }
    Ok(())
}

/// The sandbox's processing fee: 2.9% + 30 minor units (no fixed part for
/// zero-decimal currencies), rounded half up. A simplification of Stripe's
/// pricing, documented so balance tests can compute it.
pub fn processing_fee(amount: i64, currency: &str) -> i64 {
    let percent = (amount * 29 + 500) / 1000;
    let fixed = if is_zero_decimal(currency) { 0 } else { 30 };
    if amount <= 0 {
        0
    } else {
        (percent + fixed).min(amount)
    }
}

#[cfg(test)]
mod tests {
    use super::super::form;
    use super::*;

    fn params(q: &str) -> Params {
        Params::new(form::decode(q).unwrap())
    }

    #[test]
    fn currencies_are_validated_and_lowercased() {
        assert_eq!(
            currency(&params("currency=USD"), "currency").unwrap().as_deref(),
            Some("usd")
        );
        assert!(currency(&params("currency=xxx"), "currency").is_err());
        assert_eq!(currency(&params(""), "currency").unwrap(), None);
        assert_eq!(
            required_currency(&params(""), "currency").unwrap_err().code.as_deref(),
            Some("parameter_missing")
        );
    }

    #[test]
    fn minimum_and_maximum_amounts() {
        assert!(check_charge_amount(50, "usd", "amount").is_ok());
        let small = check_charge_amount(49, "usd", "amount").unwrap_err();
        assert_eq!(small.code.as_deref(), Some("amount_too_small"));
        assert_eq!(small.message, "Amount must be at least 0.50 usd");
        assert!(check_charge_amount(30, "gbp", "amount").is_ok());
        assert!(check_charge_amount(49, "jpy", "amount").is_err());
        assert!(check_charge_amount(1, "pen", "amount").is_ok());
        assert_eq!(
            check_charge_amount(MAX_AMOUNT + 1, "usd", "amount")
                .unwrap_err()
                .code
                .as_deref(),
            Some("amount_too_large")
        );
    }

    #[test]
    fn fees() {
        assert_eq!(processing_fee(1000, "usd"), 59);
        assert_eq!(processing_fee(2000, "usd"), 88);
        assert_eq!(processing_fee(1000, "jpy"), 29);
        assert_eq!(processing_fee(0, "usd"), 0);
        assert_eq!(processing_fee(10, "usd"), 10);
    }

    #[test]
    fn display_amounts() {
        assert_eq!(display(1050, "eur"), "10.50 eur");
        assert_eq!(display(500, "jpy"), "500 jpy");
        assert_eq!(display(-5, "usd"), "-0.05 usd");
    }
}
