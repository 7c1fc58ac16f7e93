//! Where a visitor may go: authorization policies (templates that allow or
//! refuse a page or a form) and the redirects payforms will answer.

pub mod policies;
pub mod redirect;
