//! Stripe's documented test cards, the magic `pm_card_*` / `tok_*` ids, card
//! number validation (Luhn, expiry, CVC) and the card JSON Stripe returns.
//! Only the last four digits and a fingerprint are kept, never the number.

use serde_json::{json, Value};

use super::api_error::ApiError;
use super::ids;
use super::params::Params;

/// How a declined card is declined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decline {
    Generic,
    InsufficientFunds,
    LostCard,
    StolenCard,
    ExpiredCard,
    IncorrectCvc,
    ProcessingError,
    /// A valid number that is not one of Stripe's test cards.
    TestModeLiveCard,
    /// A 3-D Secure card used off-session without prior set-up.
    AuthenticationRequired,
}

impl Decline {
    /// The 402 card error Stripe answers for this decline.
    pub fn error(self) -> ApiError {
        let (code, decline_code, message, param) = match self {
            Decline::Generic => ("card_declined", "generic_decline", "Your card was declined.", None),
            Decline::InsufficientFunds => (
                "card_declined",
                "insufficient_funds",
                "Your card has insufficient funds.",
                None,
            ),
            Decline::LostCard => ("card_declined", "lost_card", "Your card was declined.", None),
            Decline::StolenCard => ("card_declined", "stolen_card", "Your card was declined.", None),
            Decline::ExpiredCard => (
                "expired_card",
                "expired_card",
                "Your card has expired.",
                Some("exp_month"),
            ),
            Decline::IncorrectCvc => (
                "incorrect_cvc",
                "incorrect_cvc",
                "Your card's security code is incorrect.",
                Some("cvc"),
            ),
            Decline::ProcessingError => (
                "processing_error",
                "processing_error",
                "An error occurred while processing your card. Try again in a little bit.",
                None,
            ),
            Decline::TestModeLiveCard => (
                "card_declined",
                "test_mode_live_card",
                "Your card was declined. Your request was in test mode, but used a non test (live) card. For a list of valid test cards, visit: https://stripe.com/docs/testing.",
                None,
            ),
            Decline::AuthenticationRequired => (
                "authentication_required",
                "authentication_required",
                "Your card was declined. This transaction requires authentication.",
                None,
            ),
        };
        let error = ApiError::card(code, message).with_decline_code(decline_code);
        match param {
            Some(p) => error.with_param(p),
            None => error,
        }
    }

    /// The `decline_code` alone (for a charge's `outcome.reason`).
    pub fn decline_code(self) -> String {
        self.error().decline_code.unwrap_or_default()
    }
}

/// What happens when the card is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Succeed,
    /// Declined when attached to a customer and when charged.
    Decline(Decline),
    /// Attaches fine; declined when charged (4000000000000341).
    DeclineOnCharge(Decline),
    /// Needs 3-D Secure. `after` is the result once authenticated;
    /// `setup_lifts_it`: once set up for off-session use, no more challenges.
    Authenticate {
        after: Option<Decline>,
        setup_lifts_it: bool,
    },
}

/// The card behind a `pm_`, `card_` or `tok_`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub brand: Brand,
    pub funding: &'static str,
    pub country: &'static str,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
    pub fingerprint: String,
    pub cvc_provided: bool,
    pub behaviour: Behaviour,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Brand {
    Visa,
    Mastercard,
    Amex,
    Discover,
    Diners,
    Jcb,
    UnionPay,
    Unknown,
}

impl Brand {
    fn from_number(number: &str) -> Brand {
        let prefix = |n: usize| number.get(..n).and_then(|p| p.parse::<u32>().ok()).unwrap_or(0);
        match () {
            _ if number.starts_with('4') => Brand::Visa,
            _ if (51..=55).contains(&prefix(2)) || (2221..=2720).contains(&prefix(4)) => Brand::Mastercard,
            _ if prefix(2) == 34 || prefix(2) == 37 => Brand::Amex,
            _ if prefix(4) == 6011 || prefix(2) == 65 || (644..=649).contains(&prefix(3)) => Brand::Discover,
            _ if prefix(2) == 36 || prefix(2) == 38 || (300..=305).contains(&prefix(3)) => Brand::Diners,
            _ if prefix(2) == 35 => Brand::Jcb,
            _ if prefix(2) == 62 => Brand::UnionPay,
            _ => Brand::Unknown,
        }
    }

    /// As on a PaymentMethod (`visa`, `amex`).
    pub fn code(self) -> &'static str {
        match self {
            Brand::Visa => "visa",
            Brand::Mastercard => "mastercard",
            Brand::Amex => "amex",
            Brand::Discover => "discover",
            Brand::Diners => "diners",
            Brand::Jcb => "jcb",
            Brand::UnionPay => "unionpay",
            Brand::Unknown => "unknown",
        }
    }

    /// As on a card source or token (`Visa`, `American Express`).
    pub fn label(self) -> &'static str {
        match self {
            Brand::Visa => "Visa",
            Brand::Mastercard => "MasterCard",
            Brand::Amex => "American Express",
            Brand::Discover => "Discover",
            Brand::Diners => "Diners Club",
            Brand::Jcb => "JCB",
            Brand::UnionPay => "UnionPay",
            Brand::Unknown => "Unknown",
        }
    }
}

/// Stripe's test numbers: (number, funding, country, behaviour).
const TEST_CARDS: &[(&str, &str, &str, Behaviour)] = &[
    ("4242424242424242", "credit", "US", Behaviour::Succeed),
    ("4000056655665556", "debit", "US", Behaviour::Succeed),
    ("5555555555554444", "credit", "US", Behaviour::Succeed),
    ("2223003122003222", "credit", "US", Behaviour::Succeed),
    ("5200828282828210", "debit", "US", Behaviour::Succeed),
    ("5105105105105100", "prepaid", "US", Behaviour::Succeed),
    ("378282246310005", "credit", "US", Behaviour::Succeed),
    ("371449635398431", "credit", "US", Behaviour::Succeed),
    ("6011111111111117", "credit", "US", Behaviour::Succeed),
    ("3056930009020004", "credit", "US", Behaviour::Succeed),
    ("36227206271667", "credit", "US", Behaviour::Succeed),
    ("3566002020360505", "credit", "US", Behaviour::Succeed),
    ("6200000000000005", "credit", "CN", Behaviour::Succeed),
    ("4000000000000077", "credit", "US", Behaviour::Succeed),
    ("4000000000000002", "credit", "US", Behaviour::Decline(Decline::Generic)),
    (
        "4000000000009995",
        "credit",
        "US",
        Behaviour::Decline(Decline::InsufficientFunds),
    ),
    (
        "4000000000009987",
        "credit",
        "US",
        Behaviour::Decline(Decline::LostCard),
    ),
    (
        "4000000000009979",
        "credit",
        "US",
        Behaviour::Decline(Decline::StolenCard),
    ),
    (
        "4000000000000069",
        "credit",
        "US",
        Behaviour::Decline(Decline::ExpiredCard),
    ),
    (
        "4000000000000127",
        "credit",
        "US",
        Behaviour::Decline(Decline::IncorrectCvc),
    ),
    (
        "4000000000000119",
        "credit",
        "US",
        Behaviour::Decline(Decline::ProcessingError),
    ),
    (
        "4000000000000341",
        "credit",
        "US",
        Behaviour::DeclineOnCharge(Decline::Generic),
    ),
    (
        "4000002500003155",
        "credit",
        "US",
        Behaviour::Authenticate {
            after: None,
            setup_lifts_it: true,
        },
    ),
    (
        "4000002760003184",
        "credit",
        "US",
        Behaviour::Authenticate {
            after: None,
            setup_lifts_it: false,
        },
    ),
    (
        "4000000000003220",
        "credit",
        "US",
        Behaviour::Authenticate {
            after: None,
            setup_lifts_it: false,
        },
    ),
    (
        "4000000000003063",
        "credit",
        "US",
        Behaviour::Authenticate {
            after: None,
            setup_lifts_it: false,
        },
    ),
    (
        "4000008260003178",
        "credit",
        "US",
        Behaviour::Authenticate {
            after: Some(Decline::InsufficientFunds),
            setup_lifts_it: false,
        },
    ),
];

/// The magic names after `pm_card_` / `tok_`, and the number behind each.
const MAGIC_NAMES: &[(&str, &str)] = &[
    ("visa", "4242424242424242"),
    ("visa_debit", "4000056655665556"),
    ("mastercard", "5555555555554444"),
    ("mastercard_debit", "5200828282828210"),
    ("mastercard_prepaid", "5105105105105100"),
    ("amex", "378282246310005"),
    ("discover", "6011111111111117"),
    ("diners", "3056930009020004"),
    ("jcb", "3566002020360505"),
    ("unionpay", "6200000000000005"),
    ("bypassPending", "4000000000000077"),
    ("chargeDeclined", "4000000000000002"),
    // The spelling payment services' guides use (`pm_card_declined`).
    ("declined", "4000000000000002"),
    ("chargeDeclinedInsufficientFunds", "4000000000009995"),
    ("chargeDeclinedLostCard", "4000000000009987"),
    ("chargeDeclinedStolenCard", "4000000000009979"),
    ("chargeDeclinedExpiredCard", "4000000000000069"),
    ("chargeDeclinedIncorrectCvc", "4000000000000127"),
    ("chargeDeclinedProcessingError", "4000000000000119"),
    ("chargeCustomerFail", "4000000000000341"),
    ("authenticationRequiredOnSetup", "4000002500003155"),
    ("authenticationRequired", "4000002760003184"),
    ("threeDSecure2Required", "4000000000003220"),
    ("threeDSecureRequired", "4000000000003063"),
    (
        "authenticationRequiredChargeDeclinedInsufficientFunds",
        "4000008260003178",
    ),
];

/// The test card behind a magic id such as `pm_card_visa` or `tok_visa`.
pub fn magic(id: &str) -> Option<Card> {
    let name = id.strip_prefix("pm_card_").or_else(|| id.strip_prefix("tok_"))?;
    let (_, number) = MAGIC_NAMES.iter().find(|(n, _)| *n == name)?;
    Some(known_card(number, 12, next_year() + 3, false))
}

fn next_year() -> i64 {
    use chrono::Datelike;
    i64::from(chrono::Utc::now().year())
}

fn known_card(number: &str, exp_month: i64, exp_year: i64, cvc_provided: bool) -> Card {
    let (funding, country, behaviour) = TEST_CARDS
        .iter()
        .find(|(n, ..)| *n == number)
        .map(|(_, f, c, b)| (*f, *c, *b))
        .unwrap_or(("credit", "US", Behaviour::DeclineOnCharge(Decline::TestModeLiveCard)));
    Card {
        brand: Brand::from_number(number),
        funding,
        country,
        last4: number[number.len().saturating_sub(4)..].to_string(),
        exp_month,
        exp_year,
        fingerprint: ids::fingerprint(number),
        cvc_provided,
        behaviour,
    }
}

fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0;
    for (i, c) in digits.chars().rev().enumerate() {
        let Some(mut d) = c.to_digit(10) else {
            return false;
        };
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

/// Read `card[number]`, `card[exp_month]`, `card[exp_year]`, `card[cvc]` and
/// validate them as Stripe does (402 card errors naming the field).
pub fn from_params(card: &Params, now: chrono::DateTime<chrono::Utc>) -> Result<Card, ApiError> {
    use chrono::Datelike;
    card.allow(&[
        "number",
        "exp_month",
        "exp_year",
        "cvc",
        "name",
        "address_line1",
        "address_line2",
        "address_city",
        "address_state",
        "address_zip",
        "address_country",
        "currency",
    ])?;
    let number: String = card
        .required_str("number")?
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if !(12..=19).contains(&number.len()) || !luhn_valid(&number) {
        return Err(ApiError::card("incorrect_number", "Your card number is incorrect.").with_param("number"));
    }
    let exp_month = card
        .int("exp_month")
        .map_err(|_| bad_month())?
        .ok_or_else(|| ApiError::missing_param(&card.full_name("exp_month")))?;
    if !(1..=12).contains(&exp_month) {
        return Err(bad_month());
    }
    let mut exp_year = card
        .int("exp_year")
        .map_err(|_| bad_year())?
        .ok_or_else(|| ApiError::missing_param(&card.full_name("exp_year")))?;
    if (0..100).contains(&exp_year) {
        exp_year += 2000;
    }
    let (year, month) = (i64::from(now.year()), i64::from(now.month()));
    if exp_year < year || (exp_year == year && exp_month < month) || exp_year > year + 50 {
        return Err(bad_year());
    }
    let cvc = card.str("cvc")?;
    if let Some(cvc) = &cvc {
        if !(3..=4).contains(&cvc.len()) || !cvc.chars().all(|c| c.is_ascii_digit()) {
            return Err(ApiError::card("invalid_cvc", "Your card's security code is invalid.").with_param("cvc"));
        }
    }
    Ok(known_card(&number, exp_month, exp_year, cvc.is_some()))
}

fn bad_month() -> ApiError {
    ApiError::card("invalid_expiry_month", "Your card's expiration month is invalid.").with_param("exp_month")
}

fn bad_year() -> ApiError {
    ApiError::card("invalid_expiry_year", "Your card's expiration year is invalid.").with_param("exp_year")
}

impl Card {
    /// The `card` hash of a PaymentMethod.
    pub fn payment_method_json(&self) -> Value {
        json!({
            "brand": self.brand.code(),
            "checks": self.checks(),
            "country": self.country,
            "display_brand": self.brand.code(),
            "exp_month": self.exp_month,
            "exp_year": self.exp_year,
            "fingerprint": self.fingerprint,
            "funding": self.funding,
            "generated_from": null,
            "last4": self.last4,
            "networks": {"available": [self.brand.code()], "preferred": null},
            "three_d_secure_usage": {"supported": true},
            "wallet": null
        })
    }

    /// A `card` object (token card or customer source).
    pub fn source_json(&self, id: &str, customer: Option<&str>, name: Option<&str>) -> Value {
        json!({
            "id": id,
            "object": "card",
            "address_city": null,
            "address_country": null,
            "address_line1": null,
            "address_line1_check": null,
            "address_line2": null,
            "address_state": null,
            "address_zip": null,
            "address_zip_check": null,
            "brand": self.brand.label(),
            "country": self.country,
            "customer": customer,
            "cvc_check": if self.cvc_provided { json!("pass") } else { json!(null) },
            "dynamic_last4": null,
            "exp_month": self.exp_month,
            "exp_year": self.exp_year,
            "fingerprint": self.fingerprint,
            "funding": self.funding,
            "last4": self.last4,
            "metadata": {},
            "name": name,
            "tokenization_method": null,
            "wallet": null
        })
    }

    /// A charge's `payment_method_details`.
    pub fn payment_method_details(&self) -> Value {
        json!({
            "card": {
                "amount_authorized": null,
                "brand": self.brand.code(),
                "checks": self.checks(),
                "country": self.country,
                "exp_month": self.exp_month,
                "exp_year": self.exp_year,
                "fingerprint": self.fingerprint,
                "funding": self.funding,
                "installments": null,
                "last4": self.last4,
                "mandate": null,
                "network": self.brand.code(),
                "three_d_secure": null,
                "wallet": null
            },
            "type": "card"
        })
    }

    fn checks(&self) -> Value {
        json!({
            "address_line1_check": null,
            "address_postal_code_check": null,
            "cvc_check": if self.cvc_provided { json!("pass") } else { json!(null) }
        })
    }

    /// Declined as soon as it is attached to a customer (Stripe validates the card).
    pub fn attach_decline(&self) -> Option<Decline> {
        match self.behaviour {
            Behaviour::Decline(d) => Some(d),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::form;
    use super::*;

    fn card_params(q: &str) -> Params {
        Params::new(form::decode(q).unwrap()).hash("card").unwrap().unwrap()
    }

    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339("2030-06-15T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc)
    }

    #[test]
    fn magic_ids_resolve_to_documented_behaviours() {
        assert_eq!(magic("pm_card_visa").unwrap().behaviour, Behaviour::Succeed);
        assert_eq!(
            magic("pm_card_declined").unwrap().behaviour,
            magic("pm_card_chargeDeclined").unwrap().behaviour
        );
        assert_eq!(magic("tok_visa").unwrap().last4, "4242");
        assert_eq!(
            magic("pm_card_chargeDeclined").unwrap().behaviour,
            Behaviour::Decline(Decline::Generic)
        );
        assert_eq!(
            magic("tok_chargeDeclinedInsufficientFunds").unwrap().behaviour,
            Behaviour::Decline(Decline::InsufficientFunds)
        );
        assert!(matches!(
            magic("pm_card_threeDSecure2Required").unwrap().behaviour,
            Behaviour::Authenticate { .. }
        ));
        assert_eq!(magic("pm_card_amex").unwrap().brand, Brand::Amex);
        assert!(magic("pm_card_nonsense").is_none());
        assert!(magic("pm_1abc").is_none());
    }

    #[test]
    fn declines_carry_stripe_codes() {
        let e = Decline::InsufficientFunds.error();
        assert_eq!(e.status, 402);
        assert_eq!(e.code.as_deref(), Some("card_declined"));
        assert_eq!(e.decline_code.as_deref(), Some("insufficient_funds"));
        assert_eq!(Decline::ExpiredCard.error().code.as_deref(), Some("expired_card"));
        assert_eq!(Decline::IncorrectCvc.error().param.as_deref(), Some("cvc"));
        assert_eq!(Decline::Generic.decline_code(), "generic_decline");
    }

    #[test]
    fn card_numbers_are_validated() {
        let ok = from_params(
            &card_params("card[number]=4242 4242 4242 4242&card[exp_month]=12&card[exp_year]=34&card[cvc]=123"),
            now(),
        )
        .unwrap();
        assert_eq!(ok.last4, "4242");
        assert_eq!(ok.exp_year, 2034);
        assert!(ok.cvc_provided);
        let bad = from_params(
            &card_params("card[number]=4242424242424241&card[exp_month]=12&card[exp_year]=2034"),
            now(),
        )
        .unwrap_err();
        assert_eq!(bad.code.as_deref(), Some("incorrect_number"));
        assert_eq!(bad.status, 402);
        let month = from_params(
            &card_params("card[number]=4242424242424242&card[exp_month]=13&card[exp_year]=2034"),
            now(),
        )
        .unwrap_err();
        assert_eq!(month.code.as_deref(), Some("invalid_expiry_month"));
        let past = from_params(
            &card_params("card[number]=4242424242424242&card[exp_month]=5&card[exp_year]=2030"),
            now(),
        )
        .unwrap_err();
        assert_eq!(past.code.as_deref(), Some("invalid_expiry_year"));
        let cvc = from_params(
            &card_params("card[number]=4242424242424242&card[exp_month]=6&card[exp_year]=2030&card[cvc]=12a"),
            now(),
        )
        .unwrap_err();
        assert_eq!(cvc.code.as_deref(), Some("invalid_cvc"));
        let missing = from_params(&card_params("card[exp_month]=6"), now()).unwrap_err();
        assert_eq!(missing.param.as_deref(), Some("card[number]"));
    }

    #[test]
    fn unknown_valid_numbers_are_live_cards_declined_when_charged() {
        let card = from_params(
            &card_params("card[number]=4111111111111111&card[exp_month]=1&card[exp_year]=2031"),
            now(),
        )
        .unwrap();
        assert_eq!(card.behaviour, Behaviour::DeclineOnCharge(Decline::TestModeLiveCard));
        assert_eq!(card.attach_decline(), None);
    }

    #[test]
    fn brands_from_numbers() {
        assert_eq!(Brand::from_number("5555555555554444"), Brand::Mastercard);
        assert_eq!(Brand::from_number("2223003122003222"), Brand::Mastercard);
        assert_eq!(Brand::from_number("378282246310005"), Brand::Amex);
        assert_eq!(Brand::from_number("6011111111111117"), Brand::Discover);
        assert_eq!(Brand::from_number("3566002020360505"), Brand::Jcb);
        assert_eq!(Brand::from_number("6200000000000005"), Brand::UnionPay);
        assert_eq!(Brand::from_number("9999"), Brand::Unknown);
    }

    #[test]
    fn json_shapes_never_hold_the_number() {
        let card = magic("pm_card_visa").unwrap();
        let text = format!(
            "{}{}{}",
            card.payment_method_json(),
            card.source_json("card_1", Some("cus_1"), None),
            card.payment_method_details()
        );
        assert!(!text.contains("4242424242424242"));
        assert_eq!(card.source_json("card_1", None, None)["brand"], "Visa");
        assert_eq!(card.payment_method_json()["brand"], "visa");
    }
}
