//! Rendering pages, layouts and forms for one request.

pub mod context;
pub mod host;
pub mod policies;
pub mod records;
pub mod redirect;
pub mod view;

use serde_json::Value;

use crate::app::templates::CompiledTemplate;

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
        .render(view::Globals::new(map))
        .map_err(|e| error_of(template, &e))
}

fn error_of(template: &CompiledTemplate, error: &liquid::Error) -> RenderError {
    let text = error.to_string();
    let (line, message) = crate::app::templates::locate_liquid_error(&text);
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
