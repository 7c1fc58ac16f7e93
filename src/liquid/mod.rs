//! The Liquid dialect of payforms: liquid-rust's standard library plus the
//! platformOS tags and filters the apps use, and the load-time autoescape
//! rewrite for HTML templates.
//!
//! ```ignore
//! let parser = payforms::liquid::dialect(
//!     liquid::ParserBuilder::with_stdlib().partials(compiler),
//! ).build()?;
//! let page = parser.parse(&payforms::liquid::autoescape_outputs(&source))?;
//! let html = payforms::liquid::host::with_host(host, || page.render(&globals))?;
//! ```

mod autoescape;
pub mod filters;
pub mod host;
pub mod liquid_tag;
pub mod translations;
pub mod tags;
pub mod value;
pub mod view;

#[cfg(test)]
pub(crate) mod test_support;

pub use autoescape::{autoescape_outputs, escape_json_outputs};
pub use liquid_tag::expand_liquid_tags;
pub use value::{json_map_to_object, json_to_liquid, liquid_to_json};

/// Adds every payforms tag, block and filter to a builder that already has
/// `.stdlib()`, with no translations (`t` shows each key). Replaces
/// liquid-lib's `include` (named arguments, optional comma, undefined
/// arguments are nil, `with`/`for`), `render` (isolated, `as` optional),
/// `capture` (quoted names) and `url_encode` (space as `+`).
pub fn dialect<P: ::liquid::partials::PartialCompiler>(
    builder: ::liquid::ParserBuilder<P>,
) -> ::liquid::ParserBuilder<P> {
    dialect_with_translations(builder, std::sync::Arc::new(translations::Translations::new()))
}

/// [`dialect`] with the app's translations for the `t` filter.
pub fn dialect_with_translations<P: ::liquid::partials::PartialCompiler>(
    builder: ::liquid::ParserBuilder<P>,
    translations: std::sync::Arc<translations::Translations>,
) -> ::liquid::ParserBuilder<P> {
    tags::register(filters::register(builder, translations))
}

/// liquid's standard library plus the dialect, without partials.
pub fn parser_builder() -> ::liquid::ParserBuilder {
    dialect(::liquid::ParserBuilder::with_stdlib())
}

#[cfg(test)]
mod tests {
    use super::test_support::{render, render_with_host};
    use liquid_core::object;

    #[test]
    fn every_filter_is_registered() {
        let out = render(
            "{{ h | json }}|{{ '{\"a\":1}' | to_hash | json }}|{{ 599 | pricify_cents }}|{{ '5.99' | pricify: 'EUR' }}\
             |{{ 'a b' | url_encode }}|{{ h | form_encode }}|{{ 'p' | compute_hmac: 'k' | size }}\
             |{{ 4 | random_string | size }}|{{ nil | add_to_array: 1 | json }}|{{ nil | add_hash_key: 'k', 2 | json }}\
             |{{ 0 | to_time | strftime: '%Y' }}|{{ '2024-01-01' | time_diff: '2024-01-02', 'h' }}\
             |{{ 'a.js' | asset_url }}|{{ '<' | html_safe }}|{{ '<' | raw }}|{{ '<' | pf_escape }}|{{ \"'\" | escape_javascript }}",
            object!({"h": {"k": "v ✓"}}),
        );
        assert_eq!(
            out,
            "{\"k\":\"v ✓\"}|{\"a\":1}|$5.99|€5.99|a+b|k=v%20%E2%9C%93|64|4|[1]|{\"k\":2}|1970|24|/assets/a.js|<|<|&lt;|\\'"
        );
    }

    #[test]
    fn every_tag_is_registered() {
        let (out, calls) = render_with_host(
            "{% parse_json d %}{\"a\": 1}{% endparse_json %}{% export d, namespace: 'n' %}{% log d.a %}\
             {% graphql g = 'q' %}{% graphql i %}{ x }{% endgraphql %}{% query_graph 'q2', result_name: 'r' %}\
             {% dispatch r2 = 'm/t', data: d %}{% include_form 'f' %}{% form %}b{% endform %}{{ context.exports.n.d.a }}",
            object!({}),
        );
        assert_eq!(out.unwrap(), "<div data-form=\"f\">{}</div><form {}>b</form>1");
        assert_eq!(calls.len(), 7, "{calls:?}");
    }

    #[test]
    fn parser_builder_has_stdlib_and_dialect() {
        let template = super::parser_builder()
            .build()
            .unwrap()
            .parse("{% for i in (1..2) %}{{ i | plus: 1 }}{% endfor %}{{ 'a b' | url_encode }}")
            .unwrap();
        assert_eq!(template.render(&object!({})).unwrap(), "23a+b");
    }
}
