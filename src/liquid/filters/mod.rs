//! platformOS filters on liquid-rust, one file per concern.

pub mod arrays;
pub mod assets;
pub mod base64;
pub mod chart;
pub mod collections;
pub mod crypto;
pub mod digests;
pub mod encoding;
pub mod fn_filter;
pub mod hashes;
pub mod html;
pub mod json;
pub mod lenient;
pub mod money;
pub mod secret;
pub mod text;
pub mod time;
pub mod translate;
pub mod values;
pub mod www_form;

use liquid_core::Error;

/// A filter failure as a Liquid error naming the filter; the renderer adds
/// the template position.
pub(crate) fn filter_error(filter: &str, message: impl Into<String>) -> Error {
    Error::with_msg(message.into()).context("filter", filter.to_owned())
}

/// Adds every filter of the dialect (replacing liquid-lib's `url_encode`,
/// which encodes a space as `%20`); `t` reads `translations`.
pub(crate) fn register<P: liquid::partials::PartialCompiler>(
    builder: liquid::ParserBuilder<P>,
    translations: std::sync::Arc<crate::liquid::translations::Translations>,
) -> liquid::ParserBuilder<P> {
    let one_function_filters = [
        hashes::FILTERS,
        arrays::FILTERS,
        values::FILTERS,
        text::FILTERS,
        digests::FILTERS,
        base64::FILTERS,
        www_form::FILTERS,
    ];
    let builder = one_function_filters
        .into_iter()
        .flatten()
        .fold(builder, |builder, filter| builder.filter(filter.clone()));
    builder
        .filter(translate::Translate::new(translations))
        .filter(json::Json)
        .filter(lenient::PfDig)
        .filter(lenient::IdOf)
        .filter(lenient::MissingKeys)
        .filter(json::ToHash)
        .filter(json::PfJsonString)
        .filter(json::PfJsonValue)
        .filter(money::PricifyCents)
        .filter(money::Pricify)
        .filter(money::MinorUnits)
        .filter(encoding::UrlEncode)
        .filter(encoding::FormEncode)
        .filter(crypto::ComputeHmac)
        .filter(crypto::RandomString)
        .filter(collections::AddToArray)
        .filter(collections::AddHashKey)
        .filter(collections::Sum)
        .filter(time::ToTime)
        .filter(time::Strftime)
        .filter(time::TimeDiff)
        .filter(time::TimeAgo)
        .filter(assets::AssetUrl)
        .filter(chart::BarChart)
        .filter(html::HtmlSafe)
        .filter(html::Raw)
        .filter(html::PfEscape)
        .filter(html::EscapeJavascript)
        .filter(secret::EncryptSecret)
}
