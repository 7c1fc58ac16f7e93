//! Digests and identifiers platformOS offers: `md5` and `sha1` (hex digests
//! of text, for cache keys and legacy signatures; never for secrets) and
//! `uuid` (a random version 4 UUID; the input is ignored).

use liquid_core::{Value, ValueView};
use md5::Md5;
use sha1::{Digest, Sha1};

use super::fn_filter::{Args, FnFilter, Keywords};
use super::text::text_input;

fn md5(input: &dyn ValueView, _args: &Args) -> Result<Value, String> {
    Ok(Value::scalar(hex::encode(Md5::digest(text_input(input)?.as_bytes()))))
}

fn sha1(input: &dyn ValueView, _args: &Args) -> Result<Value, String> {
    Ok(Value::scalar(hex::encode(Sha1::digest(text_input(input)?.as_bytes()))))
}

fn uuid(_input: &dyn ValueView, _args: &Args) -> Result<Value, String> {
    Ok(Value::scalar(uuid::Uuid::new_v4().to_string()))
}

pub(crate) const FILTERS: &[FnFilter] = &[
    FnFilter::new(
        "md5",
        "The MD5 digest of the text, in hex.",
        (0, 0),
        Keywords::None,
        md5,
    ),
    FnFilter::new(
        "sha1",
        "The SHA-1 digest of the text, in hex.",
        (0, 0),
        Keywords::None,
        sha1,
    ),
    FnFilter::new(
        "uuid",
        "A random version 4 UUID: {{ '' | uuid }}.",
        (0, 0),
        Keywords::None,
        uuid,
    ),
];

#[cfg(test)]
mod tests {
    use crate::liquid::test_support::{render, render_err};
    use liquid_core::object;

    #[test]
    fn known_digests() {
        assert_eq!(
            render("{{ 'abc' | md5 }}|{{ 'abc' | sha1 }}|{{ '' | md5 }}|{{ nil | sha1 }}|{{ 599 | md5 | size }}", object!({})),
            "900150983cd24fb0d6963f7d28e17f72|a9993e364706816aba3e25717850c26c9cd0d89d|d41d8cd98f00b204e9800998ecf8427e|da39a3ee5e6b4b0d3255bfef95601890afd80709|32"
        );
        let big = "x".repeat(crate::liquid::filters::text::MAX_TEXT_BYTES + 1);
        assert!(render_err("{{ t | sha1 }}", object!({"t": big})).contains("longer than"));
    }

    #[test]
    fn uuids_are_v4_and_differ() {
        let out = render("{{ '' | uuid }} {{ nil | uuid }}", object!({}));
        let (a, b) = out.split_once(' ').unwrap();
        assert_ne!(a, b);
        for id in [a, b] {
            let parsed = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(parsed.get_version_num(), 4);
        }
    }
}
