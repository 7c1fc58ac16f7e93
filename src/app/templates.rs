//! Compiling Liquid once, at load, with errors mapped to file:line.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use liquid::partials::{EagerCompiler, InMemorySource};
use regex::Regex;

use serde_json::Value;

use crate::error::LoadProblem;
use crate::liquid::translations::Translations;

/// A compiled template and where it came from.
#[derive(Clone)]
pub struct CompiledTemplate {
    pub template: Arc<liquid::Template>,
    pub file: PathBuf,
    /// File line of the template's first line (after front matter).
    pub first_line: usize,
    /// The source, to point render errors (which carry no position) at a line.
    pub source: Arc<str>,
}

impl std::fmt::Debug for CompiledTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CompiledTemplate({}:{})", self.file.display(), self.first_line)
    }
}

/// Whether a template's output is HTML (escaped by default) or data (JSON,
/// form bodies, URLs: written verbatim).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Html,
    Data,
}

/// The two parsers of one app load; both know every partial.
pub struct Parsers {
    html: liquid::Parser,
    data: liquid::Parser,
}

/// A partial's source, as found on disk.
pub struct PartialSource {
    pub name: String,
    pub file: PathBuf,
    pub first_line: usize,
    pub text: String,
}

impl Parsers {
    /// Build the parsers. Broken partials are reported and left out, so one
    /// bad partial does not hide the problems of every other file.
    pub fn build(partials: &[PartialSource], translations: Arc<Translations>) -> (Parsers, Vec<LoadProblem>) {
        let mut problems = Vec::new();
        let checker = plain_parser(translations.clone());
        let mut html_source = InMemorySource::new();
        let mut data_source = InMemorySource::new();
        for partial in partials {
            let escaped = crate::liquid::autoescape_outputs(&partial.text);
            match guarded_parse(|| checker.parse(&escaped)) {
                Ok(_) => {
                    html_source.add(partial.name.clone(), escaped);
                    data_source.add(partial.name.clone(), crate::liquid::escape_json_outputs(&partial.text));
                }
                Err(e) => problems.push(liquid_problem(&partial.file, partial.first_line, &e)),
            }
        }
        let html = build_with(html_source, translations.clone());
        let data = build_with(data_source, translations.clone());
        match (html, data) {
            (Ok(html), Ok(data)) => (Parsers { html, data }, problems),
            (Err(e), _) | (_, Err(e)) => {
                // Every partial parsed on its own above, so this is unexpected;
                // fall back to parsers without partials and report it.
                problems.push(LoadProblem::new("templates/partials", 0, e.to_string()));
                (
                    Parsers {
                        html: plain_parser(translations.clone()),
                        data: plain_parser(translations),
                    },
                    problems,
                )
            }
        }
    }

    pub fn compile(
        &self,
        file: &Path,
        first_line: usize,
        text: &str,
        output: Output,
    ) -> Result<CompiledTemplate, LoadProblem> {
        let result = guarded_parse(|| match output {
            Output::Html => self.html.parse(&crate::liquid::autoescape_outputs(text)),
            Output::Data => self.data.parse(&crate::liquid::escape_json_outputs(text)),
        });
        result
            .map(|template| CompiledTemplate {
                template: Arc::new(template),
                file: file.to_path_buf(),
                first_line,
                source: Arc::from(text),
            })
            .map_err(|e| liquid_problem(file, first_line, &e))
    }
}

/// liquid-core panics on a few malformed inputs (an unclosed `{% raw %}`
/// inside a comment); a file must never bring the loader down.
fn guarded_parse(
    parse: impl FnOnce() -> Result<liquid::Template, liquid::Error>,
) -> Result<liquid::Template, liquid::Error> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(parse)).unwrap_or_else(|_| {
        Err(liquid::Error::with_msg(
            "the template could not be parsed (unclosed raw or comment block?)",
        ))
    })
}

fn plain_parser(translations: Arc<Translations>) -> liquid::Parser {
    // Building without partials only fails on a programming error in the
    // dialect registration; an empty parser then makes every file report it.
    crate::liquid::dialect_with_translations(liquid::ParserBuilder::with_stdlib(), translations)
        .build()
        .unwrap_or_default()
}

fn build_with(source: InMemorySource, translations: Arc<Translations>) -> Result<liquid::Parser, liquid::Error> {
    crate::liquid::dialect_with_translations(liquid::ParserBuilder::with_stdlib(), translations)
        .partials(EagerCompiler::new(source))
        .build()
}

/// Turn a liquid error into `file:line: message`, shifting the line by where
/// the template starts in its file.
pub fn liquid_problem(file: &Path, first_line: usize, error: &liquid::Error) -> LoadProblem {
    let text = error.to_string();
    let (line, message) = locate_liquid_error(&text);
    LoadProblem::new(file, first_line + line.unwrap_or(1) - 1, message)
}

/// liquid-rust reports parse errors as a pest excerpt (`--> L:C`, the line,
/// a caret, `= expected ...`); keep the position and the explanation.
pub fn locate_liquid_error(text: &str) -> (Option<usize>, String) {
    static POSITION: std::sync::OnceLock<Option<Regex>> = std::sync::OnceLock::new();
    let position = POSITION.get_or_init(|| Regex::new(r"-->\s*(\d+):(\d+)").ok());
    let line = position
        .as_ref()
        .and_then(|re| re.captures(text))
        .and_then(|c| c.get(1))
        .and_then(|m| m.as_str().parse::<usize>().ok());
    let explanation: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("= "))
        .collect();
    let message = if explanation.is_empty() {
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("-->") && !l.starts_with('|'))
            .collect::<Vec<_>>()
            .join("; ")
    } else {
        explanation.join("; ")
    };
    let message = message.trim_start_matches("liquid: ").to_string();
    (line, if message.is_empty() { text.to_string() } else { message })
}

/// A template failed while rendering; logged as `file:line: message`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct RenderError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// Render a compiled template with `globals` (a JSON object).
pub fn render(template: &CompiledTemplate, globals: &Value) -> Result<String, RenderError> {
    static EMPTY: std::sync::OnceLock<serde_json::Map<String, Value>> = std::sync::OnceLock::new();
    let map = match globals {
        Value::Object(map) => map,
        _ => EMPTY.get_or_init(serde_json::Map::new),
    };
    template
        .template
        .render(crate::liquid::view::Globals::new(map))
        .map_err(|e| error_of(template, &e))
}

fn error_of(template: &CompiledTemplate, error: &liquid::Error) -> RenderError {
    let text = error.to_string();
    let (line, message) = locate_liquid_error(&text);
    let line = line.or_else(|| guess_line(&template.source, &text));
    RenderError {
        file: template.file.display().to_string(),
        line: template.first_line + line.unwrap_or(1) - 1,
        message,
    }
}

/// Render errors name the variable or tag but not the line; find the first
/// line of the source that mentions it.
fn guess_line(source: &str, error: &str) -> Option<usize> {
    let needles: Vec<&str> = error
        .split("; ")
        .filter_map(|part| {
            part.strip_prefix("variable=")
                .or_else(|| part.strip_prefix("requested variable="))
                .or_else(|| part.strip_prefix("from: "))
        })
        .map(|n| n.trim_start_matches("{%").trim_end_matches("%}").trim())
        .filter(|n| !n.is_empty())
        .collect();
    needles.iter().find_map(|needle| {
        let short: String = needle.chars().take(40).collect();
        source
            .lines()
            .position(|l| l.contains(needle) || l.contains(short.as_str()))
            .map(|i| i + 1)
    })
}

/// Render a template that must produce JSON (default_payload, mappers,
/// headers) and parse it. Blank output is `null`.
pub fn render_json(template: &CompiledTemplate, globals: &Value) -> Result<Value, RenderError> {
    let text = render(template, globals)?;
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text).map_err(|e| RenderError {
        file: template.file.display().to_string(),
        line: template.first_line,
        message: format!("the template must render JSON, but {e}: {}", excerpt(&text)),
    })
}

fn excerpt(text: &str) -> String {
    let trimmed = text.trim();
    let mut out: String = trimmed.chars().take(120).collect();
    if trimmed.chars().count() > 120 {
        out.push('…');
    }
    out
}
