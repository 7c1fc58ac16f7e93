//! YAML front matter between `---` lines, parsed strictly with file:line errors.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::LoadProblem;

/// A file split into its front matter and body.
#[derive(Debug, Clone)]
pub struct Document<'a> {
    /// YAML text between the `---` lines (empty when there is none).
    pub yaml: &'a str,
    /// 1-based file line of the first YAML line.
    pub yaml_line: usize,
    /// Everything after the closing `---` line.
    pub body: &'a str,
    /// 1-based file line where the body starts, to map template errors back.
    pub body_line: usize,
}

/// Split `text` into front matter and body. A file without a leading `---`
/// line is all body.
pub fn split<'a>(file: &Path, text: &'a str) -> Result<Document<'a>, LoadProblem> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(rest) = strip_delimiter_line(text) else {
        return Ok(Document {
            yaml: "",
            yaml_line: 1,
            body: text,
            body_line: 1,
        });
    };
    // Find the closing delimiter: a line that is exactly `---`.
    let mut offset = 0;
    for (line, raw_line) in (2..).zip(rest.split_inclusive('\n')) {
        if raw_line.trim_end_matches(['\n', '\r']) == "---" {
            let yaml = &rest[..offset];
            let body = &rest[offset + raw_line.len()..];
            return Ok(Document {
                yaml,
                yaml_line: 2,
                body,
                body_line: line + 1,
            });
        }
        offset += raw_line.len();
    }
    Err(LoadProblem::new(
        file,
        1,
        "front matter starts with `---` but has no closing `---` line",
    ))
}

fn strip_delimiter_line(text: &str) -> Option<&str> {
    for ending in ["---\n", "---\r\n"] {
        if let Some(rest) = text.strip_prefix(ending) {
            return Some(rest);
        }
    }
    None
}

/// Deserialize the front matter into `T` (which should `deny_unknown_fields`).
/// Errors point at the file line of the offending key.
pub fn parse<T: DeserializeOwned>(file: &Path, doc: &Document<'_>) -> Result<T, LoadProblem> {
    let yaml = if doc.yaml.trim().is_empty() { "{}" } else { doc.yaml };
    serde_yaml::from_str(yaml).map_err(|e| {
        let line = e
            .location()
            .map(|loc| doc.yaml_line + loc.line().saturating_sub(1))
            .unwrap_or(doc.yaml_line);
        LoadProblem::new(file, line, clean_yaml_message(&e.to_string()))
    })
}

/// serde_yaml appends " at line X column Y" which would repeat (and in the
/// YAML's own numbering, not the file's); drop it.
fn clean_yaml_message(message: &str) -> String {
    match message.find(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

/// The 1-based file line of `key:` at the top level of the front matter, for
/// semantic errors found after deserializing.
pub fn line_of_key(doc: &Document<'_>, key: &str) -> usize {
    find_line(doc.yaml, |line| {
        line.strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with(':'))
    })
    .map(|n| doc.yaml_line + n)
    .unwrap_or(doc.yaml_line)
}

/// The 1-based file line of the first front matter line containing `needle`
/// (any indentation), e.g. a nested field name.
pub fn line_containing(doc: &Document<'_>, needle: &str) -> usize {
    find_line(doc.yaml, |line| line.trim_start().starts_with(needle))
        .map(|n| doc.yaml_line + n)
        .unwrap_or(doc.yaml_line)
}

fn find_line(text: &str, matches: impl Fn(&str) -> bool) -> Option<usize> {
    text.lines().position(matches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        slug: Option<String>,
        #[serde(default)]
        count: u32,
    }

    #[test]
    fn splits_front_matter_and_body_with_lines() {
        let text = "---\nslug: a\n---\n<p>hi</p>\n";
        let doc = split(Path::new("f.liquid"), text).unwrap();
        assert_eq!(doc.yaml, "slug: a\n");
        assert_eq!(doc.body, "<p>hi</p>\n");
        assert_eq!(doc.body_line, 4);
        let parsed: Sample = parse(Path::new("f.liquid"), &doc).unwrap();
        assert_eq!(parsed.slug.as_deref(), Some("a"));
        assert_eq!(parsed.count, 0, "missing keys take their default");
    }

    #[test]
    fn no_front_matter_is_all_body() {
        let doc = split(Path::new("f"), "hello ---\n").unwrap();
        assert_eq!(doc.body, "hello ---\n");
        assert_eq!(doc.body_line, 1);
        let parsed: Sample = parse(Path::new("f"), &doc).unwrap();
        assert!(parsed.slug.is_none());
    }

    #[test]
    fn unclosed_front_matter_is_an_error() {
        let err = split(Path::new("f.liquid"), "---\nslug: a\n").unwrap_err();
        assert_eq!(err.line, 1);
    }

    #[test]
    fn unknown_key_reports_its_file_line() {
        let text = "---\nslug: a\nbogus: 1\n---\nbody";
        let doc = split(Path::new("p.liquid"), text).unwrap();
        let err = parse::<Sample>(Path::new("p.liquid"), &doc).unwrap_err();
        assert_eq!(err.line, 3, "{err}");
        assert!(err.message.contains("bogus"), "{err}");
    }

    #[test]
    fn wrong_type_reports_its_file_line() {
        let text = "---\nslug: a\n\ncount: many\n---\n";
        let doc = split(Path::new("p.liquid"), text).unwrap();
        let err = parse::<Sample>(Path::new("p.liquid"), &doc).unwrap_err();
        assert_eq!(err.line, 4, "{err}");
    }

    #[test]
    fn crlf_and_unicode() {
        let text = "---\r\nslug: café\r\n---\r\nñ";
        let doc = split(Path::new("p"), text).unwrap();
        let parsed: Sample = parse(Path::new("p"), &doc).unwrap();
        assert_eq!(parsed.slug.as_deref(), Some("café"));
        assert_eq!(doc.body, "ñ");
    }

    #[test]
    fn finds_key_lines() {
        let text = "---\nname: x\nfields:\n  amount:\n    editable: true\n---\n";
        let doc = split(Path::new("p"), text).unwrap();
        assert_eq!(line_of_key(&doc, "fields"), 3);
        assert_eq!(line_containing(&doc, "amount:"), 4);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Any file text: a document or a `file:line` problem, never a
        /// panic, including YAML with anchors, tags and deep flow nesting.
        #[test]
        fn any_text_splits_and_parses_without_panic(
            head in r"(---\n)?([a-z]{1,6}: ?|  |- |\{|\[|\}|\]|&a |\*a|!!str |'|\x22|#|\n|[0-9]){0,120}(\n---\n)?",
            body in ".{0,40}",
        ) {
            let text = format!("{head}{body}");
            let path = Path::new("templates/pages/x.liquid");
            if let Ok(doc) = split(path, &text) {
                let _: Result<Sample, _> = parse(path, &doc);
            }
        }
    }
}
