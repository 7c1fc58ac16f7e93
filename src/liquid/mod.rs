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
pub mod tags;
pub mod translations;
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

/// How deep blocks (and `elsif` branches, which liquid-rust parses one
/// inside the other) may nest in one template: its parser and renderer
/// recurse once per level.
pub const MAX_NESTING: usize = 256;

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
    fn every_platformos_filter_is_registered() {
        let out = render(
            "{{ h | hash_merge: o | hash_merge: k: 3 | json }}|{{ h | hash_add_key: 'b', 2 | hash_delete_key: 'a' | json }}\
             |{{ h | hash_keys | json }}|{{ h | hash_values | json }}|{{ o | hash_dig: 'x', 'y' }}\
             |{{ a | array_add: 4 | array_prepend: 0 | json }}|{{ n | array_compact | array_flatten | json }}\
             |{{ a | array_any: 2 }}|{{ a | array_index_of: 3 }}|{{ rows | array_map: 'id' | json }}\
             |{{ rows | array_group_by: 's' | hash_keys | json }}|{{ rows | array_sort_by: 'id' | array_map: 'id' | json }}\
             |{{ rows | array_detect: s: 'b' | hash_dig: 'id' }}|{{ rows | array_select: s: 'a' | size }}|{{ rows | array_reject: s: 'a' | size }}\
             |{{ h | deep_clone | json }}|{{ h | type_of }}|{{ '[]' | is_json_valid }}|{{ 'Zoë Co' | parameterize }}\
             |{{ 'card_number' | titleize }}|{{ 'card_id' | humanize }}|{{ 'a' | md5 | size }}|{{ 'a' | sha1 | size }}\
             |{{ '' | uuid | size }}|{{ 'hi' | base64_encode }}|{{ 'aGk=' | base64_decode }}|{{ o | www_form_encode }}|{{ 'k.x' | t }}",
            object!({
                "h": {"a": 1},
                "o": {"x": {"y": "z w"}},
                "a": [1, 2, 3],
                "n": [1, nil, [2]],
                "rows": [{"id": 2, "s": "a"}, {"id": 1, "s": "b"}]
            }),
        );
        assert_eq!(
            out,
            "{\"a\":1,\"k\":3,\"x\":{\"y\":\"z w\"}}|{\"b\":2}|[\"a\"]|[1]|z w|[0,1,2,3,4]|[1,2]\
             |true|2|[2,1]|[\"a\",\"b\"]|[1,2]|1|1|1|{\"a\":1}|Hash|true|zoe-co|Card Number|Card|32|40|36|aGk=|hi|x[y]=z+w|k.x"
        );
    }

    #[test]
    fn every_platformos_tag_is_registered() {
        let out = super::test_support::render_with_partials(
            "{% capture \"c\" %}1{% endcapture %}{% parse_json 'j' %}[2]{% endparse_json %}{% hash_assign h['k'] = 3 %}\
             {% include 'p/item' with 4 %}{% render 'p/item' with 5 %}{% function f = 'p/fn', v: 6 %}{{ c }}{{ j[0] }}{{ h.k }}{{ f }}",
            &[("p/item", "{{ item }}"), ("p/fn", "{% return v %}")],
            object!({}),
        );
        assert_eq!(out, "451236");
        let expanded = super::expand_liquid_tags("{% liquid\n assign x = 7\n echo x\n%}{% echo 8 %}{% # 9 %}");
        assert_eq!(render(&expanded, object!({})), "78");
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
