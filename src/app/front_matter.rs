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

/// A platformOS front matter key payforms accepts without honouring it,
/// and why: a warning at its line, never a load error.
pub type ForeignKey = (&'static str, &'static str);

/// [`parse`], after setting aside the top-level keys of `foreign` that the
/// file has (each a warning at its line, unless its value is empty): the
/// remaining keys are still checked strictly, so a misspelt key of
/// payforms' own stays an error. Lines are kept, so every message still
/// points at the file's line.
pub fn parse_tolerant<T: DeserializeOwned>(
    file: &Path,
    doc: &Document<'_>,
    foreign: &[ForeignKey],
    warnings: &mut Vec<LoadProblem>,
) -> Result<T, LoadProblem> {
    let mut kept = String::with_capacity(doc.yaml.len());
    let mut skipping = false;
    for (index, line) in doc.yaml.split_inclusive('\n').enumerate() {
        let top_level = !line.starts_with([' ', '\t', '-', '#']) && !line.trim().is_empty();
        if top_level {
            skipping = false;
            if let Some((key, why)) = foreign.iter().find(|(key, _)| top_level_key(line) == Some(key)) {
                skipping = true;
                if !is_empty_value(doc.yaml, index) {
                    warnings.push(LoadProblem::new(
                        file,
                        doc.yaml_line + index,
                        format!("`{key}` is a platformOS key payforms does not implement ({why}); ignored"),
                    ));
                }
            }
        }
        if skipping {
            // Keep the line count so later keys keep their line numbers.
            kept.push_str(if line.ends_with('\n') { "\n" } else { "" });
        } else {
            kept.push_str(line);
        }
    }
    // platformOS (Ruby's YAML) takes a key given twice in one mapping;
    // serde_yaml refuses it. Drop the repeated key's lines (so the first
    // is used) and say so, a bounded number of times.
    for _ in 0..MAX_REPEATED_KEYS {
        let stripped = Document {
            yaml: &kept,
            yaml_line: doc.yaml_line,
            body: doc.body,
            body_line: doc.body_line,
        };
        let error = match serde_yaml::from_str::<T>(if kept.trim().is_empty() { "{}" } else { &kept }) {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let message = error.to_string();
        let key = message
            .split_once("duplicate entry with key \"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(key, _)| key.to_string());
        let (Some(key), Some(location)) = (key, error.location()) else {
            return parse(file, &stripped);
        };
        let Some(index) = repeated_key_line(&kept, location.line().saturating_sub(1), &key) else {
            return parse(file, &stripped);
        };
        let Some(next) = without_block_at(&kept, index) else {
            return parse(file, &stripped);
        };
        warnings.push(LoadProblem::new(
            file,
            doc.yaml_line + index,
            format!("{}; the first is used", clean_yaml_message(&message)),
        ));
        kept = next;
    }
    parse(
        file,
        &Document {
            yaml: &kept,
            yaml_line: doc.yaml_line,
            body: doc.body,
            body_line: doc.body_line,
        },
    )
}

/// How many repeated keys one front matter may have before it is an error.
const MAX_REPEATED_KEYS: usize = 20;

/// The 0-based line of the second `key:` of the mapping whose first `key:`
/// is at or after line `from` (where serde_yaml points).
fn repeated_key_line(yaml: &str, from: usize, key: &str) -> Option<usize> {
    let is_key = |line: &str| {
        let text = line.trim_start();
        [format!("{key}:"), format!("\"{key}\":"), format!("'{key}':")]
            .iter()
            .any(|k| text.starts_with(k.as_str()))
    };
    let indent_of = |line: &str| line.len() - line.trim_start().len();
    let lines: Vec<&str> = yaml.lines().collect();
    let first = (from..lines.len()).find(|&i| is_key(lines[i]))?;
    let indent = indent_of(lines[first]);
    for (i, line) in lines.iter().enumerate().skip(first + 1) {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if indent_of(line) < indent {
            return None; // left the mapping
        }
        if indent_of(line) == indent && is_key(line) {
            return Some(i);
        }
    }
    None
}

/// `yaml` with line `index` and the lines indented deeper under it blanked
/// (kept as empty lines); `None` when there is no such line.
fn without_block_at(yaml: &str, index: usize) -> Option<String> {
    let lines: Vec<&str> = yaml.split_inclusive('\n').collect();
    let first = lines.get(index)?;
    let indent = first.len() - first.trim_start().len();
    let mut out = String::with_capacity(yaml.len());
    let mut inside = false;
    for (i, line) in lines.iter().enumerate() {
        let own_indent = line.len() - line.trim_start().len();
        if i == index {
            inside = true;
        } else if inside && !(line.trim().is_empty() || own_indent > indent) {
            inside = false;
        }
        if inside {
            out.push_str(if line.ends_with('\n') { "\n" } else { "" });
        } else {
            out.push_str(line);
        }
    }
    Some(out)
}

/// `key` of a `key: value` line at the top level.
fn top_level_key(line: &str) -> Option<&str> {
    let (key, _) = line.split_once(':')?;
    let key = key.trim_end();
    (!key.is_empty() && !key.contains(' ')).then_some(key)
}

/// True when the key on line `index` of `yaml` has no value: nothing after
/// the colon (or an empty block scalar) and no indented lines under it.
fn is_empty_value(yaml: &str, index: usize) -> bool {
    let mut lines = yaml.lines().skip(index);
    let Some(first) = lines.next() else {
        return true;
    };
    let value = first.split_once(':').map_or("", |(_, v)| v.trim());
    let value = value.split(" #").next().unwrap_or_default().trim();
    if !matches!(value, "" | ">" | "|" | ">-" | "|-" | "~" | "null" | "\"\"" | "''") {
        return false;
    }
    lines
        .take_while(|l| l.starts_with([' ', '\t', '-']) || l.trim().is_empty())
        .all(|l| l.trim().is_empty())
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

/// [`line_of_key`] for whichever of `keys` (spellings of one key) is there.
pub fn line_of_any_key(doc: &Document<'_>, keys: &[&str]) -> usize {
    find_line(doc.yaml, |line| {
        keys.iter().any(|key| {
            line.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
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

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Strict {
        to: String,
        retries: Option<u32>,
    }

    #[test]
    fn foreign_keys_are_warnings_and_lines_stay_right() {
        let text = "---\nname: create_payment\nto: https://x\ncallback_actions: >\n  {% log 1 %}\n  more\nemail: \nretries: oops\n---\nbody";
        let doc = split(Path::new("n.liquid"), text).unwrap();
        let foreign: [ForeignKey; 3] = [("name", "named by its file"), ("callback_actions", "c"), ("email", "e")];
        let mut warnings = Vec::new();
        let err = parse_tolerant::<Strict>(Path::new("n.liquid"), &doc, &foreign, &mut warnings).unwrap_err();
        // `retries` is still checked, at its own line.
        assert_eq!(err.line, 8, "{err}");
        let lines: Vec<usize> = warnings.iter().map(|w| w.line).collect();
        assert_eq!(lines, vec![2, 4], "an empty `email:` is no warning: {warnings:?}");
        assert!(warnings[1].message.contains("`callback_actions` is a platformOS key"));
    }

    #[derive(Debug, Deserialize)]
    struct Nested {
        fields: serde_yaml::Mapping,
    }

    #[test]
    fn a_repeated_key_keeps_the_first_with_a_warning() {
        let text = "---\nfields:\n  amount:\n    validation:\n      presence: true\n  note:\n  amount:\n    validation: {}\n---\n";
        let doc = split(Path::new("f.liquid"), text).unwrap();
        let mut warnings = Vec::new();
        let parsed: Nested = parse_tolerant(Path::new("f.liquid"), &doc, &[], &mut warnings).unwrap();
        assert_eq!(parsed.fields.len(), 2);
        let amount = &parsed.fields[&serde_yaml::Value::from("amount")];
        assert!(amount["validation"]["presence"].as_bool().unwrap());
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].line, 7, "{:?}", warnings[0]);
        assert!(warnings[0].message.contains("the first is used"));
    }

    #[test]
    fn unknown_keys_stay_errors() {
        let text = "---\nto: https://x\nretires: 2\n---\n";
        let doc = split(Path::new("n.liquid"), text).unwrap();
        let mut warnings = Vec::new();
        let err = parse_tolerant::<Strict>(Path::new("n.liquid"), &doc, &[("name", "x")], &mut warnings).unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.message.contains("retires"), "{err}");
        let ok: Strict = parse_tolerant(
            Path::new("n.liquid"),
            &split(Path::new("n.liquid"), "---\nname: a\nto: b\n---\n").unwrap(),
            &[("name", "x")],
            &mut warnings,
        )
        .unwrap();
        assert_eq!(ok.to, "b");
        assert!(ok.retries.is_none());
    }
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
                let mut warnings = Vec::new();
                let _: Result<Sample, _> = parse_tolerant(path, &doc, &[("a", "x"), ("ab", "y")], &mut warnings);
                let _: Result<serde_yaml::Mapping, _> = parse_tolerant(path, &doc, &[], &mut warnings);
            }
        }
    }
}
