//! Forms: signed state, CSRF, validation and submission.

pub mod coercion;
pub mod csrf;
pub mod signing;
pub mod state;
pub mod submit;
pub mod validation;
