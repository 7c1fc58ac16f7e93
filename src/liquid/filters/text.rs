//! Rails-style text helpers platformOS offers: `parameterize` (URL slugs),
//! `humanize` and `titleize` (labels from field names).

use liquid_core::{Value, ValueView};

use super::fn_filter::{Args, FnFilter, Keywords};

/// Text longer than this (in bytes) is refused.
pub const MAX_TEXT_BYTES: usize = 1 << 20;
/// A `parameterize` separator longer than this is refused (it is repeated
/// between every word).
pub const MAX_SEPARATOR_BYTES: usize = 8;

/// The input as text (nil is empty), at most [`MAX_TEXT_BYTES`]: what the
/// text, digest and base64 filters read.
pub(super) fn text_input(input: &dyn ValueView) -> Result<String, String> {
    if input.is_nil() {
        return Ok(String::new());
    }
    let text = input.to_kstr().to_string();
    if text.len() > MAX_TEXT_BYTES {
        return Err(format!("the text is longer than {MAX_TEXT_BYTES} bytes"));
    }
    Ok(text)
}

/// The ASCII letter(s) for a Latin letter with a diacritic, as Rails'
/// transliteration gives; `None` for anything else that is not ASCII.
fn ascii_for(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ą' => "a",
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'Ā' | 'Ą' => "A",
        'æ' => "ae",
        'Æ' => "AE",
        'ç' | 'ć' | 'č' => "c",
        'Ç' | 'Ć' | 'Č' => "C",
        'ď' | 'đ' => "d",
        'Ď' | 'Đ' => "D",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => "e",
        'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ę' | 'Ě' => "E",
        'ì' | 'í' | 'î' | 'ï' | 'ī' => "i",
        'Ì' | 'Í' | 'Î' | 'Ï' | 'Ī' => "I",
        'ł' => "l",
        'Ł' => "L",
        'ñ' | 'ń' | 'ň' => "n",
        'Ñ' | 'Ń' | 'Ň' => "N",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'Ō' | 'Ő' => "O",
        'œ' => "oe",
        'Œ' => "OE",
        'ř' => "r",
        'Ř' => "R",
        'ś' | 'š' => "s",
        'Ś' | 'Š' => "S",
        'ß' => "ss",
        'ť' => "t",
        'Ť' => "T",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => "u",
        'Ù' | 'Ú' | 'Û' | 'Ü' | 'Ū' | 'Ů' | 'Ű' => "U",
        'ý' | 'ÿ' => "y",
        'Ý' => "Y",
        'ź' | 'ż' | 'ž' => "z",
        'Ź' | 'Ż' | 'Ž' => "Z",
        _ => return None,
    })
}

/// `'Zoë & Co. Pay!' | parameterize` is `zoe-co-pay`: letters transliterated
/// to ASCII, lower case, every other run of characters one separator
/// (`-`, or the argument), none at the ends.
fn parameterize(input: &dyn ValueView, args: &Args) -> Result<Value, String> {
    let separator = match args.at(0) {
        Value::Nil => "-".to_owned(),
        other => other.to_kstr().to_string(),
    };
    if separator.len() > MAX_SEPARATOR_BYTES {
        return Err(format!("the separator is longer than {MAX_SEPARATOR_BYTES} bytes"));
    }
    let text = text_input(input)?;
    let mut slug = String::with_capacity(text.len());
    let mut pending_separator = false;
    let push = |part: &str, slug: &mut String, pending: &mut bool| {
        if *pending && !slug.is_empty() {
            slug.push_str(&separator);
        }
        *pending = false;
        slug.push_str(&part.to_ascii_lowercase());
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            let mut buffer = [0u8; 4];
            push(c.encode_utf8(&mut buffer), &mut slug, &mut pending_separator);
        } else if let Some(ascii) = ascii_for(c) {
            push(ascii, &mut slug, &mut pending_separator);
        } else {
            pending_separator = true;
        }
    }
    Ok(Value::scalar(slug))
}

/// Rails' `underscore`: `CamelCase` and `kebab-case` to `snake_case`.
fn underscore(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut previous: Option<char> = None;
    for c in text.chars() {
        if c == '-' {
            out.push('_');
        } else if c.is_uppercase() {
            if previous.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit()) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
        previous = Some(c);
    }
    out
}

/// Rails' `humanize`: `employee_salary` → `Employee salary`, `author_id` →
/// `Author`: a trailing `_id` and leading underscores dropped, underscores
/// as spaces, lower case but the first letter.
fn humanize_text(text: &str) -> String {
    let text = text.trim_start_matches('_');
    let text = text.strip_suffix("_id").unwrap_or(text);
    let lowered = text.replace('_', " ").to_lowercase();
    let mut chars = lowered.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn humanize(input: &dyn ValueView, _args: &Args) -> Result<Value, String> {
    Ok(Value::scalar(humanize_text(&text_input(input)?)))
}

/// Rails' `titleize`: `man_from_the_boondocks` → `Man From The Boondocks`,
/// `x-men: the last stand` → `X Men: The Last Stand`.
fn titleize(input: &dyn ValueView, _args: &Args) -> Result<Value, String> {
    let human = humanize_text(&underscore(&text_input(input)?));
    let mut out = String::with_capacity(human.len());
    let mut word_start = true;
    for c in human.chars() {
        if word_start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        word_start = !(c.is_alphanumeric() || c == '\'' || c == '’');
    }
    Ok(Value::scalar(out))
}

pub(crate) const FILTERS: &[FnFilter] = &[
    FnFilter::new(
        "parameterize",
        "A URL slug: 'Zoë & Co.' | parameterize is zoe-co (optional separator argument).",
        (0, 1),
        Keywords::None,
        parameterize,
    ),
    FnFilter::new(
        "humanize",
        "A label from a field name: employee_salary → Employee salary, author_id → Author.",
        (0, 0),
        Keywords::None,
        humanize,
    ),
    FnFilter::new(
        "titleize",
        "A title: man_from_the_boondocks → Man From The Boondocks.",
        (0, 0),
        Keywords::None,
        titleize,
    ),
];

#[cfg(test)]
mod tests {
    use crate::liquid::test_support::render;
    use liquid_core::object;

    #[test]
    fn parameterize_slugs() {
        assert_eq!(
            render(
                "{{ '  Zoë & Co. Pay!  ' | parameterize }}|{{ 'Żółć gęślą' | parameterize: '_' }}|{{ 'a--b__c' | parameterize }}|{{ '€€€' | parameterize }}|{{ nil | parameterize }}",
                object!({})
            ),
            "zoe-co-pay|zolc_gesla|a-b__c||"
        );
    }

    #[test]
    fn bounds() {
        let err = crate::liquid::test_support::render_err("{{ 'a b' | parameterize: '---------' }}", object!({}));
        assert!(err.contains("separator is longer"), "{err}");
        let big = "x".repeat(super::MAX_TEXT_BYTES + 1);
        let err = crate::liquid::test_support::render_err("{{ t | titleize }}", object!({"t": big}));
        assert!(err.contains("longer than"), "{err}");
    }

    #[test]
    fn humanize_and_titleize_field_names() {
        assert_eq!(
            render(
                "{{ 'employee_salary' | humanize }}|{{ 'author_id' | humanize }}|{{ '_private' | humanize }}|{{ 'man_from_the_boondocks' | titleize }}|{{ 'x-men: the last stand' | titleize }}|{{ 'CardNumber' | titleize }}|{{ \"o'neil street\" | titleize }}",
                object!({})
            ),
            "Employee salary|Author|Private|Man From The Boondocks|X Men: The Last Stand|Card Number|O'neil Street"
        );
    }
}
