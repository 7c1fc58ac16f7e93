//! What a field accepts: its declared type (what a typed value is coerced
//! to, and card numbers refused) and its validation rules. Form
//! configurations declare them; forms apply them to what a visitor posts.

pub mod coercion;
pub mod validation;
