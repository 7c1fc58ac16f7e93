//! Card numbers never reach payforms: Stripe.js turns them into tokens in
//! the browser. Anything that still looks like one is refused on input and
//! masked in anything logged.
//!
//! "Looks like one": in a run of digits (any script's digits; groups joined
//! by up to three spaces, dots, dashes, underscores, slashes, `+` or `%20`,
//! as typed or urlencoded), 13–19 digits passing the Luhn check from the
//! start of a group to the end of a group (or the first or last 13–19
//! digits of a group longer than 19), so a number typed with its expiry and
//! CVC beside it is found too. A run glued to
//! letters (an IBAN such as `DE89…`, an id) is not a card number.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::Regex;

pub const MASK: &str = "[card number redacted]";

/// A run of digits with at most three separators between two digits.
fn digit_runs() -> Option<&'static Regex> {
    static RUNS: OnceLock<Option<Regex>> = OnceLock::new();
    RUNS.get_or_init(|| Regex::new(r"\d(?:(?:[\s._/+\-]|%20){0,3}\d)*").ok())
        .as_ref()
}

/// The value of a decimal digit of the common scripts (ASCII, full-width,
/// Arabic-Indic, Persian, Devanagari); None for any other digit.
fn digit_value(c: char) -> Option<u8> {
    const ZEROS: [u32; 5] = [0x30, 0xFF10, 0x660, 0x6F0, 0x966];
    ZEROS.iter().find_map(|&zero| {
        let offset = (c as u32).checked_sub(zero)?;
        (offset < 10).then_some(offset as u8)
    })
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
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

/// True when the run (as matched by [`digit_runs`]) holds a card number.
fn run_holds_card(run: &str) -> bool {
    let run = run.replace("%20", " ");
    let mut digits: Vec<u8> = Vec::new();
    let mut group_starts: Vec<usize> = vec![0];
    let mut group_ends: Vec<usize> = Vec::new();
    let mut unknown_script = false;
    let mut in_separator = false;
    for c in run.chars() {
        if c.is_numeric() {
            if in_separator {
                group_ends.push(digits.len());
                group_starts.push(digits.len());
                in_separator = false;
            }
            match digit_value(c) {
                Some(d) => digits.push(d),
                None => {
                    unknown_script = true;
                    digits.push(0);
                }
            }
        } else {
            in_separator = true;
        }
    }
    group_ends.push(digits.len());
    if unknown_script {
        // Digits we cannot read: refuse the card-sized ones outright.
        return digits.len() >= 13;
    }
    let card = |from: usize, to: usize| to >= from && (13..=19).contains(&(to - from)) && luhn(&digits[from..to]);
    // From the start of a group to the end of a group: a number typed with
    // its expiry or CVC beside it.
    let between_groups = group_starts
        .iter()
        .any(|&start| group_ends.iter().any(|&end| card(start, end)));
    // Inside a group too long to be one number: its first or last digits.
    let inside_long_group = group_starts.iter().zip(&group_ends).any(|(&start, &end)| {
        end - start > 19 && (13..=19).any(|length| card(start, start + length) || card(end - length, end))
    });
    between_groups || inside_long_group
}

/// Runs of `text` that are not glued to a letter before them.
fn free_runs<'a>(re: &'a Regex, text: &'a str) -> impl Iterator<Item = regex::Match<'a>> + 'a {
    re.find_iter(text).filter(move |run| {
        !text[..run.start()]
            .chars()
            .next_back()
            .is_some_and(|before| before.is_alphabetic())
    })
}

/// True when `text` contains something shaped like a card number.
pub fn contains_card_number(text: &str) -> bool {
    match digit_runs() {
        Some(re) => free_runs(re, text).any(|run| run_holds_card(run.as_str())),
        // Without the pattern, fall back to the strictest reading.
        None => text.chars().filter(|c| c.is_numeric()).count() >= 13,
    }
}

/// `text` with every free run that holds a card-shaped number replaced by
/// [`MASK`].
pub fn mask_card_numbers(text: &str) -> Cow<'_, str> {
    // No card number has fewer than 13 digits: most text needs no search.
    if text.bytes().filter(u8::is_ascii_digit).count() < 13 {
        return Cow::Borrowed(text);
    }
    let Some(re) = digit_runs() else {
        return Cow::Borrowed(text);
    };
    let mut out = String::new();
    let mut last = 0;
    for run in free_runs(re, text) {
        if run_holds_card(run.as_str()) {
            out.push_str(&text[last..run.start()]);
            out.push_str(MASK);
            last = run.end();
        }
    }
    if last == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[last..]);
    Cow::Owned(out)
}

/// True when any string or number inside `value` (walked without
/// recursion) looks like a card number.
pub fn value_holds_card_number(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::String(text) => {
                if contains_card_number(text) {
                    return true;
                }
            }
            Value::Number(n) => {
                if contains_card_number(&n.to_string()) {
                    return true;
                }
            }
            Value::Array(items) => pending.extend(items),
            Value::Object(map) => pending.extend(map.values()),
            Value::Null | Value::Bool(_) => {}
        }
    }
    false
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
            "4242424242424242 1225 123",
            "4000056655665556-123",
            "1225 4242424242424242",
            "4242.4242.4242.4242",
            "4242_4242_4242_4242",
            "4242  4242  4242  4242",
            "4242/4242/4242/4242",
            "\u{FF14}\u{FF12}\u{FF14}\u{FF12}\u{FF14}\u{FF12}\u{FF14}\u{FF12}\u{FF14}\u{FF12}\u{FF14}\u{FF12}\u{FF14}\u{FF12}\u{FF14}\u{FF12}",
            "/pay/4242424242424242%2012",
            // A card number with more digits after it.
            "42424242424242424242",
        ] {
            assert!(contains_card_number(text), "{text}");
            assert!(!mask_card_numbers(text).contains("4242424242"), "{text}");
        }
        assert_eq!(mask_card_numbers("a=4242424242424242&b=2"), format!("a={MASK}&b=2"));
    }

    #[test]
    fn other_numbers_are_kept() {
        for text in [
            "4242424242424241",       // fails Luhn
            "599",                    // an amount
            "1700000000",             // a timestamp
            "pi_3Nabc123",            // an id
            "424242424242",           // 12 digits
            "2026-12-02T13:28:39Z",   // a date
            "+44 20 7946 0958",       // a phone number
            "DE89370400440532013000", // an IBAN
            "DE89 3704 0044 0532 0130 00",
            "amount=599&created=1733150000",
        ] {
            assert!(!contains_card_number(text), "{text}");
            assert_eq!(mask_card_numbers(text), text);
        }
    }
}
