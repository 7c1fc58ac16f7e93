//! Forms: signed state, CSRF, validation and submission.

pub mod csrf;
pub mod feedback;
pub mod platformos_payment;
pub mod state;
pub mod submit;
