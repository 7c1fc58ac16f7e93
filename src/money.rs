//! Amounts as people write them ("12.35" dollars) and as Stripe takes them
//! (1235 cents): converted exactly with the currency's exponent, never
//! through a float, and never rounded — excess precision is an error.
//!
//! Exponents follow Stripe's list: zero-decimal currencies (JPY, KRW, …),
//! three-decimal ones (BHD, JOD, KWD, OMR, TND), two for every other code.

use serde_json::Value;

/// Currencies whose smallest unit is the unit itself.
const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "isk", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof",
    "xpf",
];
/// Currencies with a thousandth as their smallest unit.
const THREE_DECIMAL: &[&str] = &["bhd", "jod", "kwd", "omr", "tnd"];

/// The largest amount Stripe accepts in minor units (99,999,999.99 USD).
pub const MAX_MINOR: i64 = 99_999_999_999;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("`{0}` is not a currency code (three letters, ISO 4217)")]
    Currency(String),
    #[error("the amount must be a decimal number such as 12.35")]
    NotANumber,
    #[error("{currency} amounts have at most {exponent} decimal places; {given} would have to be rounded")]
    ExcessPrecision {
        currency: String,
        exponent: u32,
        given: String,
    },
    #[error("the amount must not be negative")]
    Negative,
    #[error("the amount is larger than the gateway accepts")]
    TooLarge,
}

/// A checked currency code (lower case) and its exponent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Currency {
    pub code: String,
    pub exponent: u32,
}

impl Currency {
    pub fn parse(text: &str) -> Result<Currency, MoneyError> {
        let code = text.trim().to_ascii_lowercase();
        if code.len() != 3 || !code.chars().all(|c| c.is_ascii_lowercase()) {
            return Err(MoneyError::Currency(text.chars().take(16).collect()));
        }
        let exponent = if ZERO_DECIMAL.contains(&code.as_str()) {
            0
        } else if THREE_DECIMAL.contains(&code.as_str()) {
            3
        } else {
            2
        };
        Ok(Currency { code, exponent })
    }

    /// `text` ("12.35", "12", ".5") in minor units: exact, or an error.
    pub fn minor_units(&self, text: &str) -> Result<i64, MoneyError> {
        let text = text.trim();
        if text.starts_with('-') {
            return Err(MoneyError::Negative);
        }
        let digits = text.strip_prefix('+').unwrap_or(text);
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction) {
            return Err(MoneyError::NotANumber);
        }
        // Trailing zeros carry no precision: "12.350" USD is 1235.
        let fraction = fraction.trim_end_matches('0');
        if fraction.len() > self.exponent as usize {
            return Err(MoneyError::ExcessPrecision {
                currency: self.code.to_ascii_uppercase(),
                exponent: self.exponent,
                given: text.chars().take(40).collect(),
            });
        }
        let whole = whole.trim_start_matches('0');
        if whole.len() > 18 {
            return Err(MoneyError::TooLarge);
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| MoneyError::TooLarge)?
        };
        let mut fraction_units: i64 = 0;
        for (place, digit) in fraction.chars().enumerate() {
            let digit = i64::from(digit.to_digit(10).ok_or(MoneyError::NotANumber)?);
            fraction_units += digit * 10_i64.pow(self.exponent - 1 - place as u32);
        }
        let minor = whole
            .checked_mul(10_i64.pow(self.exponent))
            .and_then(|m| m.checked_add(fraction_units))
            .ok_or(MoneyError::TooLarge)?;
        if minor > MAX_MINOR {
            return Err(MoneyError::TooLarge);
        }
        Ok(minor)
    }

    /// A JSON amount (a number as written, or a string) in minor units.
    /// A number is read from its shortest decimal form, which is what the
    /// sender wrote for any amount money can have.
    pub fn minor_units_of(&self, value: &Value) -> Result<i64, MoneyError> {
        match value {
            Value::String(text) => self.minor_units(text),
            Value::Number(number) => {
                let text = number.to_string();
                // A number printed with an exponent is either far too large
                // or far smaller than any currency's unit (1e-7).
                if let Some((_, exponent)) = text.split_once(['e', 'E']) {
                    return Err(if exponent.starts_with('-') {
                        MoneyError::ExcessPrecision {
                            currency: self.code.to_ascii_uppercase(),
                            exponent: self.exponent,
                            given: text.chars().take(40).collect(),
                        }
                    } else {
                        MoneyError::TooLarge
                    });
                }
                self.minor_units(&text)
            }
            _ => Err(MoneyError::NotANumber),
        }
    }

    /// `minor` units as a decimal text: 1235 USD is "12.35", 500 JPY "500".
    pub fn decimal_text(&self, minor: i64) -> String {
        let sign = if minor < 0 { "-" } else { "" };
        let abs = minor.unsigned_abs();
        if self.exponent == 0 {
            return format!("{sign}{abs}");
        }
        let scale = 10_u64.pow(self.exponent);
        format!(
            "{sign}{}.{:0width$}",
            abs / scale,
            abs % scale,
            width = self.exponent as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minor(currency: &str, text: &str) -> Result<i64, MoneyError> {
        Currency::parse(currency)?.minor_units(text)
    }

    #[test]
    fn each_currency_converts_with_its_exponent() {
        assert_eq!(minor("usd", "12.35"), Ok(1235));
        assert_eq!(minor("USD", "12"), Ok(1200));
        assert_eq!(minor("usd", ".5"), Ok(50));
        assert_eq!(minor("usd", "12.350"), Ok(1235));
        assert_eq!(minor("jpy", "500"), Ok(500));
        assert_eq!(minor("kwd", "1.234"), Ok(1234));
        assert_eq!(minor("eur", "0.01"), Ok(1));
    }

    #[test]
    fn excess_precision_is_refused_never_rounded() {
        assert!(matches!(
            minor("usd", "12.345"),
            Err(MoneyError::ExcessPrecision { exponent: 2, .. })
        ));
        assert!(matches!(
            minor("jpy", "500.5"),
            Err(MoneyError::ExcessPrecision { exponent: 0, .. })
        ));
        assert!(matches!(
            minor("kwd", "1.2345"),
            Err(MoneyError::ExcessPrecision { exponent: 3, .. })
        ));
        let message = minor("usd", "0.001").unwrap_err().to_string();
        assert!(
            message.contains("USD") && message.contains("2 decimal places"),
            "{message}"
        );
    }

    #[test]
    fn malformed_negative_and_huge_amounts_are_refused() {
        for bad in ["", ".", "1.2.3", "12,35", "1e3", "abc", " ", "0x10", "١٢"] {
            assert_eq!(minor("usd", bad), Err(MoneyError::NotANumber), "{bad:?}");
        }
        assert_eq!(minor("usd", "-1"), Err(MoneyError::Negative));
        assert_eq!(minor("usd", "1000000000"), Err(MoneyError::TooLarge));
        assert_eq!(minor("usd", &"9".repeat(400)), Err(MoneyError::TooLarge));
        assert!(Currency::parse("dollars").is_err());
        assert!(Currency::parse("u$d").is_err());
    }

    #[test]
    fn json_numbers_are_read_as_written() {
        let usd = Currency::parse("usd").unwrap();
        assert_eq!(usd.minor_units_of(&json!(12.35)), Ok(1235));
        assert_eq!(usd.minor_units_of(&json!(0.1)), Ok(10));
        assert_eq!(usd.minor_units_of(&json!(19.99)), Ok(1999));
        assert_eq!(usd.minor_units_of(&json!("25.85")), Ok(2585));
        assert_eq!(usd.minor_units_of(&json!(7)), Ok(700));
        assert!(usd.minor_units_of(&json!(1e300)).is_err());
        assert!(usd.minor_units_of(&json!(true)).is_err());
        assert!(usd.minor_units_of(&json!(12.345)).is_err());
    }

    #[test]
    fn minor_units_print_back_as_decimals() {
        let usd = Currency::parse("usd").unwrap();
        assert_eq!(usd.decimal_text(1235), "12.35");
        assert_eq!(usd.decimal_text(5), "0.05");
        assert_eq!(Currency::parse("jpy").unwrap().decimal_text(500), "500");
        assert_eq!(Currency::parse("kwd").unwrap().decimal_text(1234), "1.234");
        for cents in [0, 1, 99, 100, 123_456] {
            assert_eq!(usd.minor_units(&usd.decimal_text(cents)), Ok(cents));
        }
    }

    proptest::proptest! {
        /// Whatever a client sends, conversion never panics, and what it
        /// accepts prints back to the same amount.
        #[test]
        fn any_text_converts_or_is_refused(text in "[0-9.+-]{0,24}", code in "(usd|jpy|kwd)") {
            let currency = Currency::parse(&code).unwrap();
            if let Ok(minor) = currency.minor_units(&text) {
                proptest::prop_assert!(minor >= 0);
                proptest::prop_assert_eq!(currency.minor_units(&currency.decimal_text(minor)), Ok(minor));
            }
        }
    }

    #[test]
    fn numbers_with_an_exponent_are_too_large_or_too_precise() {
        let usd = Currency::parse("usd").unwrap();
        let tiny: Value = serde_json::from_str("0.0000001").unwrap();
        assert!(matches!(
            usd.minor_units_of(&tiny),
            Err(MoneyError::ExcessPrecision { .. })
        ));
        let huge: Value = serde_json::from_str("1e20").unwrap();
        assert_eq!(usd.minor_units_of(&huge), Err(MoneyError::TooLarge));
    }
}
