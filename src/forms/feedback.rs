//! What a visitor is told after a submission: the flash message carried to
//! the next page, and a failed submission's values and errors shown again in
//! the form that was posted.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::FieldError;

/// Flash messages carried to the next page in a signed cookie.
/// Both keys are always present (null when unset): Liquid here is strict
/// about unknown keys, and `{% if context.flash.notice %}` must just work.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Flash {
    pub notice: Option<String>,
    pub alert: Option<String>,
}

/// Values and errors of a submission that failed validation, shown again
/// in the form that was posted.
#[derive(Debug, Clone)]
pub struct SubmissionFeedback {
    pub form: String,
    pub values: Map<String, Value>,
    pub errors: Vec<FieldError>,
}
