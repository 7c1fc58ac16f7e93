//! Rendering pages, layouts and forms for one request.

pub mod context;
pub mod hidden_inputs;
pub mod host;
pub mod page;
pub mod records;

pub use crate::app::templates::{render, render_json, RenderError};
