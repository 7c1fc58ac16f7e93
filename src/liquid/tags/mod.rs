//! platformOS tags and blocks on liquid-rust, one file per tag.
//!
//! Tags that need the running instance (`graphql`, `query_graph`,
//! `dispatch`, `include_form`, `form`, `record`, the `encrypt_secret` filter,
//! and `log` when available) call the
//! [`RenderHost`](super::host::RenderHost) installed by
//! [`with_host`](super::host::with_host).

mod args;
pub mod capture;
pub mod dispatch;
pub mod export;
pub mod form;
pub mod function;
pub mod graphql;
pub mod hash_assign;
pub mod include;
pub mod include_form;
mod isolated;
pub mod log;
pub mod nesting;
pub mod nesting_limit;
pub mod parse_json;
pub mod record;
pub mod redirect_to;
pub mod render;

/// Adds every tag and block of the dialect (replacing liquid-lib's
/// `include`, `render` and `capture`).
pub(crate) fn register<P: liquid::partials::PartialCompiler>(
    builder: liquid::ParserBuilder<P>,
) -> liquid::ParserBuilder<P> {
    builder
        .block(parse_json::ParseJsonBlock)
        .block(graphql::GraphqlBlock)
        .block(form::FormBlock)
        .block(capture::CaptureBlock)
        .tag(graphql::QueryGraphTag)
        .tag(export::ExportTag)
        .tag(nesting_limit::NestingLimitTag)
        .tag(log::LogTag)
        .tag(dispatch::DispatchTag)
        .tag(include_form::IncludeFormTag)
        .tag(include::IncludeTag)
        .tag(render::RenderTag)
        .tag(function::FunctionTag)
        .tag(function::ReturnTag)
        .tag(hash_assign::HashAssignTag)
        .tag(record::RecordTag)
        .tag(redirect_to::RedirectToTag)
}
