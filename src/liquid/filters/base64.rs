//! `base64_encode` and `base64_decode` (standard alphabet, with padding, as
//! Ruby's `Base64.strict_encode64`): e.g. a Basic authorization header.
//! Decoding refuses anything that is not strict base64 or does not decode
//! to UTF-8 text, with a clear error.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use liquid_core::{Value, ValueView};

use super::fn_filter::{Args, FnFilter, Keywords};
use super::text::text_input;

fn base64_encode(input: &dyn ValueView, _args: &Args) -> Result<Value, String> {
    Ok(Value::scalar(STANDARD.encode(text_input(input)?.as_bytes())))
}

fn base64_decode(input: &dyn ValueView, _args: &Args) -> Result<Value, String> {
    let text = text_input(input)?;
    let bytes = STANDARD
        .decode(text.trim().as_bytes())
        .map_err(|err| format!("not valid base64: {err}"))?;
    String::from_utf8(bytes)
        .map(Value::scalar)
        .map_err(|_| "the decoded bytes are not UTF-8 text".to_owned())
}

pub(crate) const FILTERS: &[FnFilter] = &[
    FnFilter::new(
        "base64_encode",
        "The text in base64.",
        (0, 0),
        Keywords::None,
        base64_encode,
    ),
    FnFilter::new(
        "base64_decode",
        "The text a base64 string encodes (an error when it is not base64 of UTF-8 text).",
        (0, 0),
        Keywords::None,
        base64_decode,
    ),
];

#[cfg(test)]
mod tests {
    use crate::liquid::test_support::{render, render_err};
    use liquid_core::object;

    #[test]
    fn round_trip() {
        assert_eq!(
            render(
                "{{ 'sk_test_1:' | base64_encode }}|{{ 'Zoë ✓' | base64_encode | base64_decode }}|{{ '' | base64_encode }}|{{ nil | base64_decode }}",
                object!({})
            ),
            "c2tfdGVzdF8xOg==|Zoë ✓||"
        );
    }

    #[test]
    fn invalid_input_is_refused_clearly() {
        assert!(render_err("{{ 'not base64!' | base64_decode }}", object!({})).contains("not valid base64"));
        assert!(render_err("{{ 'YWJj=' | base64_decode }}", object!({})).contains("not valid base64"));
        assert!(render_err("{{ '/w==' | base64_decode }}", object!({})).contains("not UTF-8"));
        let big = "QUFB".repeat(crate::liquid::filters::text::MAX_TEXT_BYTES / 4 + 1);
        assert!(render_err("{{ t | base64_decode }}", object!({"t": big})).contains("longer than"));
    }
}
