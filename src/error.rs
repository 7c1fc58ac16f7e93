//! Error types shared across payforms.
//!
//! Each domain keeps its own typed error (thiserror); this module holds the
//! ones that cross domains: a problem found while loading an app file, which
//! is always reported as `file:line: message`.

use std::fmt;
use std::path::PathBuf;

/// A problem in one of the app's files, reported as `file:line: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadProblem {
    /// Path relative to the app root, e.g. `templates/pages/index.liquid`.
    pub file: PathBuf,
    /// 1-based line number; 0 when the problem concerns the whole file.
    pub line: usize,
    pub message: String,
}

impl LoadProblem {
    pub fn new(file: impl Into<PathBuf>, line: usize, message: impl Into<String>) -> Self {
        LoadProblem {
            file: file.into(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for LoadProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line.max(1), self.message)
    }
}

impl std::error::Error for LoadProblem {}

/// A message about one form field (or `base` for the whole form).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.message)
    }
}
