//! Card numbers never reach payforms: Stripe.js turns them into tokens in
//! the browser. Anything that still looks like one (13–19 digits, optionally
//! grouped by spaces, dashes or `+`/`%20` as in a urlencoded body, passing
//! the Luhn check) is refused on input and masked in anything logged.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::{Captures, Regex};

pub const MASK: &str = "[card number redacted]";

/// A run of digits with at most one separator between two digits.
fn digit_runs() -> Option<&'static Regex> {
    static RUNS: OnceLock<Option<Regex>> = OnceLock::new();
    RUNS.get_or_init(|| Regex::new(r"\d(?:(?:[ +\-]|%20)?\d)*").ok())
        .as_ref()
}

/// True when `digits` (ASCII digits only) is 13–19 long and passes Luhn.
fn is_card_digits(digits: &[u8]) -> bool {
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn run_digits(run: &str) -> Vec<u8> {
    run.replace("%20", "").bytes().filter(u8::is_ascii_digit).collect()
}

/// True when `text` contains something shaped like a card number.
pub fn contains_card_number(text: &str) -> bool {
    match digit_runs() {
        Some(re) => re.find_iter(text).any(|run| is_card_digits(&run_digits(run.as_str()))),
        // Without the pattern, fall back to the strictest reading.
        None => text.bytes().any(|b| b.is_ascii_digit()),
    }
}

/// `text` with every card-shaped number replaced by [`MASK`].
pub fn mask_card_numbers(text: &str) -> Cow<'_, str> {
    match digit_runs() {
        Some(re) => re.replace_all(text, |caps: &Captures| {
            let run = &caps[0];
            if is_card_digits(&run_digits(run)) {
                MASK.to_string()
            } else {
                run.to_string()
            }
        }),
        None => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_are_found_in_every_spelling() {
        for text in [
            "4242424242424242",
            "4242 4242 4242 4242",
            "4242-4242-4242-4242",
            "source%5Bnumber%5D=4242+4242+4242+4242&x=1",
            "n=4242%204242%204242%204242",
            "my card is 5555555555554444, thanks",
            "378282246310005",
            "6011111111111117",
        ] {
            assert!(contains_card_number(text), "{text}");
            assert!(!mask_card_numbers(text).contains("4242424242"), "{text}");
        }
        assert_eq!(mask_card_numbers("a=4242424242424242&b=2"), format!("a={MASK}&b=2"));
    }

    #[test]
    fn other_numbers_are_kept() {
        for text in [
            "4242424242424241",     // fails Luhn
            "599",                  // an amount
            "1700000000",           // a timestamp
            "pi_3Nabc123",          // an id
            "424242424242",         // 12 digits
            "42424242424242424242", // 20 digits
            "2026-12-02T13:28:39Z", // a date
            "+44 20 7946 0958",     // a phone number
        ] {
            assert!(!contains_card_number(text), "{text}");
            assert_eq!(mask_card_numbers(text), text);
        }
    }
}
