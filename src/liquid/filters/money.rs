//! Money filters: `pricify_cents` (minor units), `pricify` (major units)
//! and `minor_units` (what a visitor typed, e.g. an amount range filter).
//!
//! Amounts are integers in the currency's minor unit; the major-unit input of
//! `pricify` is read as decimal text, never through float arithmetic.

use liquid_core::Expression;
use liquid_core::Runtime;
use liquid_core::{Display_filter, Filter, FilterParameters, FilterReflection, FromFilterParameters, ParseFilter};
use liquid_core::{Result, Value, ValueView};

use super::filter_error;
use crate::liquid::value::{scalar_kind, ScalarKind};

/// A currency as far as formatting needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Currency {
    /// ISO 4217 code, upper case.
    pub code: String,
    /// Digits of the minor unit (0 for JPY, 2 for USD, 3 for KWD).
    pub decimals: u32,
    /// Prefix symbol, when the currency has a well-known one.
    pub symbol: Option<&'static str>,
}

/// Money text that cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MoneyError {
    #[error("{0:?} is not a 3-letter currency code")]
    NotACurrency(String),
    #[error("{0:?} is not a decimal amount")]
    NotAnAmount(String),
    #[error("amount {0:?} is too large")]
    TooLarge(String),
}

impl Currency {
    /// Reads a currency code (any case, e.g. Stripe's `usd`).
    pub fn from_code(code: &str) -> std::result::Result<Currency, MoneyError> {
        let code = code.trim().to_ascii_uppercase();
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(MoneyError::NotACurrency(code));
        }
        // One exponent table for the whole runtime (`crate::money`).
        let decimals = crate::money::Currency::parse(&code)
            .map_err(|_| MoneyError::NotACurrency(code.clone()))?
            .exponent;
        let symbol = match code.as_str() {
            "USD" => Some("$"),
            "EUR" => Some("€"),
            "GBP" => Some("£"),
            "JPY" => Some("¥"),
            _ => None,
        };
        Ok(Currency { code, decimals, symbol })
    }

    /// `$1,234.56`, `-$5.99`, `¥599`, or `5.99 CHF` for currencies without a
    /// symbol here.
    pub fn format_minor(&self, amount: i64) -> String {
        let sign = if amount < 0 { "-" } else { "" };
        let magnitude = amount.unsigned_abs();
        let scale = 10u64.pow(self.decimals);
        let mut number = group_thousands(magnitude / scale);
        if self.decimals > 0 {
            let fraction = magnitude % scale;
            number.push_str(&format!(".{fraction:0width$}", width = self.decimals as usize));
        }
        match self.symbol {
            Some(symbol) => format!("{sign}{symbol}{number}"),
            None => format!("{sign}{number} {}", self.code),
        }
    }

    /// Decimal text in major units (`"5.99"`, `"-0.5"`, `"12"`) to minor
    /// units, exactly. Extra fraction digits round half away from zero.
    pub fn parse_major(&self, text: &str) -> std::result::Result<i64, MoneyError> {
        let trimmed = text.trim();
        let (negative, unsigned) = match trimmed.as_bytes().first() {
            Some(b'-') => (true, &trimmed[1..]),
            Some(b'+') => (false, &trimmed[1..]),
            _ => (false, trimmed),
        };
        let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty()) || !all_digits(whole) || !all_digits(fraction) {
            return Err(MoneyError::NotAnAmount(text.to_string()));
        }
        let too_big = || MoneyError::TooLarge(text.to_string());
        let decimals = self.decimals as usize;
        let mut minor: i64 = 0;
        let kept_fraction = fraction.get(..decimals).unwrap_or(fraction);
        let digits = whole
            .bytes()
            .chain(kept_fraction.bytes())
            .chain(std::iter::repeat_n(b'0', decimals - kept_fraction.len()));
        for digit in digits {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(digit - b'0')))
                .ok_or_else(too_big)?;
        }
        let first_dropped = fraction.as_bytes().get(decimals).copied().unwrap_or(b'0');
        if first_dropped >= b'5' {
            minor = minor.checked_add(1).ok_or_else(too_big)?;
        }
        Ok(if negative { -minor } else { minor })
    }
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[derive(Debug, FilterParameters)]
struct PricifyArgs {
    #[parameter(description = "ISO currency code, default USD.", arg_type = "any")]
    currency: Option<Expression>,
}

fn currency_arg(filter: &str, arg: Option<&dyn ValueView>) -> Result<Currency> {
    let code = match arg {
        Some(value) if !value.is_nil() => value.to_kstr().trim().to_string(),
        _ => String::new(),
    };
    let code = if code.is_empty() { "USD" } else { code.as_str() };
    Currency::from_code(code).map_err(|e| filter_error(filter, e.to_string()))
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "pricify_cents",
    description = "Formats an amount in minor units: 599 | pricify_cents: 'USD' gives $5.99; nil stays nil.",
    parameters(PricifyArgs),
    parsed(PricifyCentsFilter)
)]
pub struct PricifyCents;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "pricify_cents"]
struct PricifyCentsFilter {
    #[parameters]
    args: PricifyArgs,
}

impl Filter for PricifyCentsFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let currency = currency_arg("pricify_cents", args.currency.as_ref().map(|v| v as &dyn ValueView))?;
        let Some(scalar) = input.as_scalar() else {
            if input.is_nil() {
                return Ok(Value::Nil);
            }
            return Err(filter_error(
                "pricify_cents",
                format!("expected an amount in minor units, got {}", input.type_name()),
            ));
        };
        let amount = match scalar_kind(&scalar) {
            ScalarKind::Integer => scalar.to_integer(),
            ScalarKind::Str => scalar.to_kstr().trim().parse::<i64>().ok(),
            _ => None,
        };
        match amount {
            Some(amount) => Ok(Value::scalar(currency.format_minor(amount))),
            None => Err(filter_error(
                "pricify_cents",
                format!(
                    "expected a whole amount in minor units, got {:?}",
                    scalar.to_kstr().as_str()
                ),
            )),
        }
    }
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "pricify",
    description = "Formats an amount in major units: 5.99 | pricify: 'EUR' gives €5.99; nil stays nil.",
    parameters(PricifyArgs),
    parsed(PricifyFilter)
)]
pub struct Pricify;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "pricify"]
struct PricifyFilter {
    #[parameters]
    args: PricifyArgs,
}

impl Filter for PricifyFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        let currency = currency_arg("pricify", args.currency.as_ref().map(|v| v as &dyn ValueView))?;
        let Some(scalar) = input.as_scalar() else {
            if input.is_nil() {
                return Ok(Value::Nil);
            }
            return Err(filter_error(
                "pricify",
                format!("expected an amount, got {}", input.type_name()),
            ));
        };
        // A float is read through its shortest decimal text (5.99 -> "5.99"),
        // which is exactly what the template author wrote.
        let text = match scalar_kind(&scalar) {
            ScalarKind::Integer | ScalarKind::Str => scalar.to_kstr().to_string(),
            ScalarKind::Float => match scalar.to_float() {
                Some(f) if f.is_finite() => format!("{f}"),
                _ => String::new(),
            },
            _ => String::new(),
        };
        currency
            .parse_major(&text)
            .map(|minor| Value::scalar(currency.format_minor(minor)))
            .map_err(|e| filter_error("pricify", e.to_string()))
    }
}

#[derive(Clone, ParseFilter, FilterReflection)]
#[filter(
    name = "minor_units",
    description = "A decimal amount in the currency's minor units, exactly: '12.35' | minor_units: 'USD' gives 1235; anything that is not an exact amount (12.345 USD, text, blank) gives nil.",
    parameters(PricifyArgs),
    parsed(MinorUnitsFilter)
)]
pub struct MinorUnits;

#[derive(Debug, FromFilterParameters, Display_filter)]
#[name = "minor_units"]
struct MinorUnitsFilter {
    #[parameters]
    args: PricifyArgs,
}

impl Filter for MinorUnitsFilter {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let args = self.args.evaluate(runtime)?;
        // Lenient, for what visitors type: an unknown currency is nil too.
        let code = match args.currency.as_ref() {
            Some(value) if !value.is_nil() => value.to_kstr().trim().to_string(),
            _ => "USD".to_string(),
        };
        let Ok(currency) = crate::money::Currency::parse(&code) else {
            return Ok(Value::Nil);
        };
        let Some(scalar) = input.as_scalar() else {
            return Ok(Value::Nil);
        };
        let text = match scalar_kind(&scalar) {
            ScalarKind::Integer | ScalarKind::Str => scalar.to_kstr().trim().to_string(),
            ScalarKind::Float => match scalar.to_float() {
                Some(f) if f.is_finite() => format!("{f}"),
                _ => String::new(),
            },
            _ => String::new(),
        };
        Ok(currency.minor_units(&text).map_or(Value::Nil, Value::scalar))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liquid_core::call_filter;

    #[test]
    fn minor_units_are_exact_or_nil() {
        let minor = |input: Value, currency: &str| {
            call_filter!(MinorUnits, input, Value::scalar(currency.to_string())).unwrap()
        };
        assert_eq!(minor(Value::scalar("12.35"), "usd"), Value::scalar(1235));
        assert_eq!(minor(Value::scalar("500"), "JPY"), Value::scalar(500));
        assert_eq!(minor(Value::scalar(7), "usd"), Value::scalar(700));
        assert_eq!(minor(Value::scalar("12.345"), "usd"), Value::Nil);
        assert_eq!(minor(Value::scalar(""), "usd"), Value::Nil);
        assert_eq!(minor(Value::scalar("ten"), "usd"), Value::Nil);
        assert_eq!(minor(Value::scalar("-1"), "usd"), Value::Nil);
        assert_eq!(minor(Value::scalar("5"), "nope"), Value::Nil);
        assert_eq!(minor(Value::Nil, "usd"), Value::Nil);
    }

    fn cents(amount: impl Into<Value>, currency: &str) -> String {
        let value: Value = amount.into();
        call_filter!(PricifyCents, value, currency)
            .unwrap()
            .to_kstr()
            .to_string()
    }

    #[test]
    fn pricify_cents_usd() {
        assert_eq!(call_filter!(PricifyCents, 599i64).unwrap(), Value::scalar("$5.99"));
        assert_eq!(cents(Value::scalar(123456i64), "USD"), "$1,234.56");
        assert_eq!(cents(Value::scalar(-599i64), "USD"), "-$5.99");
        assert_eq!(cents(Value::scalar(0i64), "usd"), "$0.00");
        assert_eq!(cents(Value::scalar(5i64), "USD"), "$0.05");
        assert_eq!(cents(Value::scalar(100000000i64), "USD"), "$1,000,000.00");
        assert_eq!(cents(Value::scalar(" 599 "), "USD"), "$5.99");
    }

    #[test]
    fn pricify_cents_other_currencies() {
        assert_eq!(cents(Value::scalar(599i64), "JPY"), "¥599");
        assert_eq!(cents(Value::scalar(1234567i64), "jpy"), "¥1,234,567");
        assert_eq!(cents(Value::scalar(599i64), "EUR"), "€5.99");
        assert_eq!(cents(Value::scalar(599i64), "GBP"), "£5.99");
        assert_eq!(cents(Value::scalar(599i64), "CHF"), "5.99 CHF");
        assert_eq!(cents(Value::scalar(-123456i64), "CHF"), "-1,234.56 CHF");
        assert_eq!(cents(Value::scalar(599i64), "KRW"), "599 KRW");
        assert_eq!(cents(Value::scalar(5124i64), "KWD"), "5.124 KWD");
    }

    #[test]
    fn pricify_cents_extremes() {
        assert_eq!(cents(Value::scalar(i64::MIN), "USD"), "-$92,233,720,368,547,758.08");
        assert_eq!(cents(Value::scalar(i64::MAX), "JPY"), "¥9,223,372,036,854,775,807");
    }

    #[test]
    fn pricify_cents_nil_and_errors() {
        assert_eq!(call_filter!(PricifyCents, Value::Nil).unwrap(), Value::Nil);
        assert_eq!(
            call_filter!(PricifyCents, 599i64, Value::Nil).unwrap(),
            Value::scalar("$5.99")
        );
        assert!(call_filter!(PricifyCents, 5.99f64).is_err());
        assert!(call_filter!(PricifyCents, "5.99").is_err());
        assert!(call_filter!(PricifyCents, "").is_err());
        assert!(call_filter!(PricifyCents, "ünï").is_err());
        assert!(call_filter!(PricifyCents, liquid_core::value!({"a": 1})).is_err());
        assert!(call_filter!(PricifyCents, 599i64, "dollars").is_err());
        assert!(call_filter!(PricifyCents, 599i64, "€").is_err());
    }

    #[test]
    fn pricify_major_units_exactly() {
        let major = |v: Value, c: &str| call_filter!(Pricify, v, c).unwrap().to_kstr().to_string();
        assert_eq!(major(Value::scalar(5.99f64), "USD"), "$5.99");
        assert_eq!(major(Value::scalar("5.99"), "USD"), "$5.99");
        assert_eq!(major(Value::scalar(0.1f64), "USD"), "$0.10");
        assert_eq!(major(Value::scalar(1234.5f64), "EUR"), "€1,234.50");
        assert_eq!(major(Value::scalar(12i64), "USD"), "$12.00");
        assert_eq!(major(Value::scalar("-0.5"), "GBP"), "-£0.50");
        assert_eq!(major(Value::scalar("599"), "JPY"), "¥599");
        assert_eq!(major(Value::scalar("1.005"), "USD"), "$1.01");
        assert_eq!(major(Value::scalar("1.004"), "USD"), "$1.00");
        assert_eq!(major(Value::scalar("-1.005"), "USD"), "-$1.01");
        assert_eq!(major(Value::scalar("599.5"), "JPY"), "¥600");
        assert_eq!(major(Value::scalar(".5"), "USD"), "$0.50");
        assert_eq!(major(Value::scalar("5.124"), "KWD"), "5.124 KWD");
    }

    #[test]
    fn pricify_nil_and_errors() {
        assert_eq!(call_filter!(Pricify, Value::Nil).unwrap(), Value::Nil);
        for bad in ["", "abc", "1,234.56", "1e3", "5.9.9", ".", "-", "¥5"] {
            assert!(call_filter!(Pricify, bad).is_err(), "{bad}");
        }
        assert!(call_filter!(Pricify, "99999999999999999999").is_err());
        assert!(call_filter!(Pricify, f64::INFINITY).is_err());
        assert!(call_filter!(Pricify, true).is_err());
    }
}
