//! Rendering pages, layouts and forms for one request.

pub mod context;
pub mod host;
pub mod policies;

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
    let object = match globals {
        Value::Object(_) => liquid::model::to_object(globals),
        _ => Ok(liquid::Object::new()),
    }
    .map_err(|e| error_of(template, &e))?;
    template
        .template
        .render(&object)
        .map_err(|e| error_of(template, &e))
}

fn error_of(template: &CompiledTemplate, error: &liquid::Error) -> RenderError {
    let text = error.to_string();
    let (line, message) = crate::app::templates::locate_liquid_error(&text);
    RenderError {
        file: template.file.display().to_string(),
        line: template.first_line + line.unwrap_or(1) - 1,
        message,
    }
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
