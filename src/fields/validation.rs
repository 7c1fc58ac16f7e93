//! Field validation rules of form configurations (platformOS/Rails style).
//!
//! Numbers are compared as exact decimals (scaled integers), never floats,
//! because these values are usually money.

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;
use validator::ValidateEmail;

use crate::error::FieldError;

/// The `validation:` block of one field, as written in YAML.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub presence: Option<bool>,
    pub absence: Option<bool>,
    pub length: Option<LengthRule>,
    pub numericality: Option<NumericalitySpec>,
    pub format: Option<FormatSpec>,
    pub inclusion: Option<InclusionSpec>,
    pub email: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LengthRule {
    pub minimum: Option<usize>,
    pub maximum: Option<usize>,
    pub is: Option<usize>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum NumericalitySpec {
    Enabled(bool),
    Rules(NumericalityRule),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumericalityRule {
    pub greater_than: Option<serde_yaml::Number>,
    pub greater_than_or_equal_to: Option<serde_yaml::Number>,
    pub less_than: Option<serde_yaml::Number>,
    pub less_than_or_equal_to: Option<serde_yaml::Number>,
    pub equal_to: Option<serde_yaml::Number>,
    #[serde(default)]
    pub only_integer: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FormatSpec {
    Pattern(String),
    With { with: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum InclusionSpec {
    List(Vec<serde_yaml::Value>),
    In {
        #[serde(rename = "in")]
        allowed: Vec<serde_yaml::Value>,
    },
}

/// Compiled rules of one field, ready to check values.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    presence: bool,
    absence: bool,
    length: Option<LengthRule>,
    numericality: Option<CompiledNumericality>,
    format: Option<Regex>,
    inclusion: Option<Vec<String>>,
    email: bool,
}

#[derive(Debug, Clone, Default)]
struct CompiledNumericality {
    greater_than: Option<Decimal>,
    greater_than_or_equal_to: Option<Decimal>,
    less_than: Option<Decimal>,
    less_than_or_equal_to: Option<Decimal>,
    equal_to: Option<Decimal>,
    only_integer: bool,
}

/// A validation rule that cannot be compiled, reported at the field's line.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("numericality bound {0} is not a number")]
    Bound(String),
    #[error("format is not a valid regular expression: {0}")]
    Format(#[from] regex::Error),
}

impl Rules {
    /// The `inclusion` list, if the field has one.
    pub fn inclusion(&self) -> Option<&[String]> {
        self.inclusion.as_deref()
    }

    /// Compile a spec.
    pub fn compile(spec: &RuleSpec) -> Result<Rules, RuleError> {
        let numericality = match &spec.numericality {
            None | Some(NumericalitySpec::Enabled(false)) => None,
            Some(NumericalitySpec::Enabled(true)) => Some(CompiledNumericality::default()),
            Some(NumericalitySpec::Rules(rule)) => {
                let bound = |n: &Option<serde_yaml::Number>| -> Result<Option<Decimal>, RuleError> {
                    n.as_ref()
                        .map(|n| Decimal::parse(&n.to_string()).ok_or_else(|| RuleError::Bound(n.to_string())))
                        .transpose()
                };
                Some(CompiledNumericality {
                    greater_than: bound(&rule.greater_than)?,
                    greater_than_or_equal_to: bound(&rule.greater_than_or_equal_to)?,
                    less_than: bound(&rule.less_than)?,
                    less_than_or_equal_to: bound(&rule.less_than_or_equal_to)?,
                    equal_to: bound(&rule.equal_to)?,
                    only_integer: rule.only_integer,
                })
            }
        };
        let format = match &spec.format {
            None => None,
            Some(FormatSpec::Pattern(p)) | Some(FormatSpec::With { with: p }) => Some(Regex::new(p)?),
        };
        let inclusion = spec.inclusion.as_ref().map(|inc| {
            let list = match inc {
                InclusionSpec::List(l) | InclusionSpec::In { allowed: l } => l,
            };
            list.iter().map(yaml_scalar_text).collect()
        });
        Ok(Rules {
            presence: spec.presence.unwrap_or(false),
            absence: spec.absence.unwrap_or(false),
            length: spec.length.clone(),
            numericality,
            format,
            inclusion,
            email: spec.email.unwrap_or(false),
        })
    }

    /// Check one value; returns every message that applies.
    pub fn check(&self, field: &str, value: Option<&Value>) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let text = value.and_then(value_text);
        let blank = text.as_deref().is_none_or(|t| t.trim().is_empty())
            && !matches!(value, Some(Value::Array(a)) if !a.is_empty())
            && !matches!(value, Some(Value::Object(o)) if !o.is_empty());
        let mut push = |message: String| errors.push(FieldError::new(field, message));
        if self.presence && blank {
            push("can't be blank".into());
        }
        if self.absence && !blank {
            push("must be blank".into());
        }
        // The remaining rules only judge values that are present; presence
        // already reported the missing ones.
        let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
            return errors;
        };
        if let Some(length) = &self.length {
            let count = text.chars().count();
            if let Some(is) = length.is {
                if count != is {
                    push(format!("is the wrong length (should be {is} characters)"));
                }
            }
            if let Some(min) = length.minimum {
                if count < min {
                    push(format!("is too short (minimum is {min} characters)"));
                }
            }
            if let Some(max) = length.maximum {
                if count > max {
                    push(format!("is too long (maximum is {max} characters)"));
                }
            }
        }
        if let Some(num) = &self.numericality {
            match Decimal::parse(text.trim()) {
                None => push("is not a number".into()),
                Some(n) => {
                    if num.only_integer && !n.is_integer() {
                        push("must be an integer".into());
                    }
                    let checks: [Bound<'_>; 5] = [
                        (&num.greater_than, |a, b| a > b, "must be greater than"),
                        (
                            &num.greater_than_or_equal_to,
                            |a, b| a >= b,
                            "must be greater than or equal to",
                        ),
                        (&num.less_than, |a, b| a < b, "must be less than"),
                        (
                            &num.less_than_or_equal_to,
                            |a, b| a <= b,
                            "must be less than or equal to",
                        ),
                        (&num.equal_to, |a, b| a == b, "must be equal to"),
                    ];
                    for (bound, ok, message) in checks {
                        if let Some(bound) = bound {
                            if !ok(&n, bound) {
                                push(format!("{message} {bound}"));
                            }
                        }
                    }
                }
            }
        }
        if let Some(re) = &self.format {
            if !re.is_match(&text) {
                push("is invalid".into());
            }
        }
        if let Some(allowed) = &self.inclusion {
            if !allowed.contains(&text) {
                push("is not included in the list".into());
            }
        }
        if self.email && !text.validate_email() {
            push("is not a valid email".into());
        }
        errors
    }
}

/// A numericality bound, its comparison and its message.
type Bound<'a> = (&'a Option<Decimal>, fn(&Decimal, &Decimal) -> bool, &'static str);

fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

fn yaml_scalar_text(value: &serde_yaml::Value) -> String {
    match value {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Number(n) => n.to_string(),
        serde_yaml::Value::Bool(b) => b.to_string(),
        serde_yaml::Value::Null => String::new(),
        other => serde_yaml::to_string(other).unwrap_or_default().trim().to_string(),
    }
}

/// An exact decimal: value = units / 10^9. Enough range for money and
/// validation bounds, and no rounding surprises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Decimal(i128);

const SCALE_DIGITS: usize = 9;
const SCALE: i128 = 1_000_000_000;

impl Decimal {
    pub fn parse(text: &str) -> Option<Decimal> {
        let text = text.trim();
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (int_part, frac_part) = match digits.split_once('.') {
            Some((i, f)) => (i, f),
            None => (digits, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        if !int_part.chars().all(|c| c.is_ascii_digit())
            || !frac_part.chars().all(|c| c.is_ascii_digit())
            || frac_part.len() > SCALE_DIGITS
            || int_part.len() > 20
        {
            return None;
        }
        let int_value: i128 = if int_part.is_empty() { 0 } else { int_part.parse().ok()? };
        let mut frac = frac_part.to_string();
        while frac.len() < SCALE_DIGITS {
            frac.push('0');
        }
        let frac_value: i128 = frac.parse().ok()?;
        let units = int_value.checked_mul(SCALE)?.checked_add(frac_value)?;
        Some(Decimal(if negative { -units } else { units }))
    }

    pub fn is_integer(&self) -> bool {
        self.0 % SCALE == 0
    }
}

impl std::fmt::Display for Decimal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let int = abs / SCALE as u128;
        let frac = abs % SCALE as u128;
        if frac == 0 {
            write!(f, "{sign}{int}")
        } else {
            let frac = format!("{frac:09}");
            write!(f, "{sign}{int}.{}", frac.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(yaml: &str) -> Rules {
        Rules::compile(&serde_yaml::from_str::<RuleSpec>(yaml).unwrap()).unwrap()
    }

    fn messages(rules: &Rules, value: Value) -> Vec<String> {
        rules.check("f", Some(&value)).into_iter().map(|e| e.message).collect()
    }

    #[test]
    fn presence_and_absence() {
        let r = rules("presence: true");
        assert_eq!(messages(&r, json!("")), vec!["can't be blank"]);
        assert_eq!(messages(&r, json!("  ")), vec!["can't be blank"]);
        assert_eq!(r.check("f", None).len(), 1);
        assert!(messages(&r, json!("x")).is_empty());
        assert!(messages(&r, json!(0)).is_empty());
        let a = rules("absence: true");
        assert_eq!(messages(&a, json!("x")), vec!["must be blank"]);
        assert!(messages(&a, json!(null)).is_empty());
    }

    #[test]
    fn numericality_uses_exact_decimals() {
        let r = rules("numericality: { greater_than: 0, less_than: 1000000, only_integer: true }");
        assert!(messages(&r, json!(599)).is_empty());
        assert!(messages(&r, json!("599")).is_empty());
        assert_eq!(messages(&r, json!(0)), vec!["must be greater than 0"]);
        assert_eq!(messages(&r, json!("-1")), vec!["must be greater than 0"]);
        assert_eq!(messages(&r, json!("5.99")), vec!["must be an integer"]);
        assert_eq!(messages(&r, json!("abc")), vec!["is not a number"]);
        assert_eq!(messages(&r, json!("1e3")), vec!["is not a number"]);
        let f = rules("numericality: { greater_than_or_equal_to: 0.1 }");
        assert!(messages(&f, json!("0.1")).is_empty());
        assert_eq!(
            messages(&f, json!("0.09")),
            vec!["must be greater than or equal to 0.1"]
        );
        let t = rules("numericality: true");
        assert!(messages(&t, json!("12.5")).is_empty());
    }

    #[test]
    fn length_format_inclusion_email() {
        let r = rules("length: { minimum: 2, maximum: 4 }");
        assert_eq!(messages(&r, json!("a")), vec!["is too short (minimum is 2 characters)"]);
        assert!(messages(&r, json!("ñañ")).is_empty(), "counts characters, not bytes");
        assert_eq!(
            messages(&r, json!("abcde")),
            vec!["is too long (maximum is 4 characters)"]
        );
        let f = rules("format: { with: '^[A-Z]{3}$' }");
        assert!(messages(&f, json!("USD")).is_empty());
        assert_eq!(messages(&f, json!("usd")), vec!["is invalid"]);
        let i = rules("inclusion: { in: [usd, eur] }");
        assert!(messages(&i, json!("usd")).is_empty());
        assert_eq!(messages(&i, json!("jpy")), vec!["is not included in the list"]);
        let e = rules("email: true");
        assert!(messages(&e, json!("a@example.com")).is_empty());
        assert_eq!(messages(&e, json!("not-an-email")), vec!["is not a valid email"]);
    }

    #[test]
    fn bad_regex_is_a_compile_error() {
        let spec: RuleSpec = serde_yaml::from_str("format: '('").unwrap();
        assert!(Rules::compile(&spec)
            .unwrap_err()
            .to_string()
            .contains("regular expression"));
    }

    #[test]
    fn unknown_rule_is_rejected() {
        assert!(serde_yaml::from_str::<RuleSpec>("presense: true").is_err());
    }

    #[test]
    fn decimal_parsing_and_display() {
        assert_eq!(Decimal::parse("5.99").unwrap().to_string(), "5.99");
        assert_eq!(Decimal::parse("-0.5").unwrap().to_string(), "-0.5");
        assert_eq!(Decimal::parse("10").unwrap().to_string(), "10");
        assert!(Decimal::parse("").is_none());
        assert!(Decimal::parse(".").is_none());
        assert!(Decimal::parse("1.2.3").is_none());
        assert!(Decimal::parse("0.0000000001").is_none());
        assert!(Decimal::parse("5.99").unwrap() > Decimal::parse("5.9").unwrap());
    }
}
