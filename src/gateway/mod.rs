//! Gateways: sending request types (templated API calls) and mapping what
//! comes back into records.
//!
//! A request type is a pair of templates, as a hyperswitch connector is a
//! request builder plus a response transformer: the API call notification
//! renders the HTTP request, the response mapper renders what to store.

pub mod dispatch;
pub mod errors;
pub mod redact;

pub use dispatch::Gateway;
