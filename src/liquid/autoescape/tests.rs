use super::autoescape_outputs as esc;
use crate::liquid::parser_builder;
use liquid::Parser;
use liquid_core::object;

fn parser() -> Parser {
    parser_builder().build().unwrap()
}

fn render_escaped(source: &str, globals: liquid::Object) -> String {
    parser().parse(&esc(source)).unwrap().render(&globals).unwrap()
}

#[test]
fn escapes_plain_outputs() {
    assert_eq!(esc("{{ x }}"), "{{ x | pf_escape }}");
    assert_eq!(esc("a{{x}}b"), "a{{x | pf_escape}}b");
    // Members are read leniently (a missing one is nil), then escaped.
    assert_eq!(
        esc("{{ x.y[0] | upcase }}"),
        "{{ nil | pf_dig: \"x\", \"y\", 0 | upcase | pf_escape }}"
    );
    assert_eq!(esc("{{ a | f: 'x', k: 1 }}"), "{{ a | f: 'x', k: 1 | pf_escape }}");
}

#[test]
fn members_of_nil_print_nothing_in_pages_as_in_platformos() {
    assert_eq!(
        render_escaped(
            "[{{ payment.payer.email }}][{{ list.first.id }}][{{ h.a.b }}]",
            object!({"payment": {"payer": nil}, "list": [], "h": {"a": {"b": "<x>"}}})
        ),
        "[][][&lt;x&gt;]"
    );
}

#[test]
fn members_of_nil_in_tag_arguments_are_nil_as_in_platformos() {
    let globals = || object!({"payment": {"payer": nil, "amount": 5}, "list": [], "x": 1});
    let source = "{% if payment.payer.email == blank %}no payer{% endif %}\
        {% unless list.first.id > 0 %}, none{% endunless %}\
        {% if x == 2 %}two{% elsif payment.payer.name != nil %}named{% elsif payment.amount >= 5 %}, five\
        {% else %}other{% endif %}\
        {% case payment.payer.kind %}{% when nil %}, no kind{% endcase %}\
        {% for i in payment.payer.items %}{{ i }}{% else %}, no items{% endfor %}\
        {% assign email = payment.payer.email | default: 'anonymous' %}, {{ email }}\
        {% assign sum = 'n' | append: payment.payer.count %}, {{ sum }}, {{ 'x' | append: payment.payer.name }}";
    assert_eq!(
        render_escaped(source, globals()),
        "no payer, none, five, no kind, no items, anonymous, n, x"
    );
    // The rewrite keeps trimming, and a misspelt root is still an error.
    assert_eq!(
        render_escaped("a \n {%- if payment.payer.x == nil -%} \n b {%- endif %}", globals()),
        "ab"
    );
    let misspelt = parser().parse(&esc("{% if paymnt.payer == nil %}{% endif %}")).unwrap();
    assert!(misspelt.render(&globals()).is_err());
}

#[test]
fn keeps_whitespace_control() {
    assert_eq!(esc("{{- x -}}"), "{{- x | pf_escape -}}");
    assert_eq!(esc("a  {{- x}}"), "a  {{- x | pf_escape}}");
    assert_eq!(esc("{{ x-}}"), "{{ x | pf_escape-}}");
    assert_eq!(render_escaped("a \n {{- x -}} \n b", object!({"x": "<"})), "a&lt;b");
}

#[test]
fn trusted_last_filters_and_layout_content_are_left_alone() {
    for source in [
        "{{ x | html_safe }}",
        "{{ x | raw }}",
        "{{ x | upcase | html_safe }}",
        "{{ x | escape }}",
        "{{ x | escape_once }}",
        "{{ x | pf_escape }}",
        "{{ content_for_layout }}",
        "{{- content_for_layout -}}",
    ] {
        assert_eq!(esc(source), source);
    }
    assert_eq!(
        esc("{{ x | html_safe | upcase }}"),
        "{{ x | html_safe | upcase | pf_escape }}"
    );
    assert_eq!(
        esc("{{ content_for_layout | strip }}"),
        "{{ content_for_layout | strip | pf_escape }}"
    );
    assert_eq!(
        esc("{{ page.content_for_layout }}"),
        "{{ nil | pf_dig: \"page\", \"content_for_layout\" | pf_escape }}"
    );
    assert_eq!(esc("{{ 'html_safe' }}"), "{{ 'html_safe' | pf_escape }}");
}

#[test]
fn delimiters_inside_strings_do_not_end_outputs() {
    assert_eq!(esc("{{ '}}' }}"), "{{ '}}' | pf_escape }}");
    assert_eq!(
        esc(r#"{{ x | append: "}} | html_safe" }}"#),
        r#"{{ x | append: "}} | html_safe" | pf_escape }}"#
    );
    assert_eq!(
        render_escaped(r#"{{ x | append: "}}<i>" }}"#, object!({"x": "<b>"})),
        "&lt;b&gt;}}&lt;i&gt;"
    );
}

#[test]
fn tags_are_untouched() {
    for source in [
        "{% assign a = \"{{ x }}\" %}",
        "{% if x %}{% endif %}",
        "{% include 'p', a: \"}}\" %}",
        "{%- for i in (1..3) -%}{%- endfor -%}",
    ] {
        assert_eq!(esc(source), source);
    }
    assert_eq!(
        esc("{% if x %}{{ x }}{% endif %}"),
        "{% if x %}{{ x | pf_escape }}{% endif %}"
    );
}

#[test]
fn raw_blocks_are_verbatim() {
    let source = "{% raw %}{{ x }} {% if %}{% endraw %}{{ x }}";
    assert_eq!(esc(source), "{% raw %}{{ x }} {% if %}{% endraw %}{{ x | pf_escape }}");
    let source = "{%- raw -%} {{ x }} {%- endraw -%}";
    assert_eq!(esc(source), source);
    assert_eq!(render_escaped("{% raw %}{{ x }}{% endraw %}", object!({})), "{{ x }}");
}

#[test]
fn raw_ends_where_liquid_ends_it() {
    // The first element-level `{% endraw %}` closes, even after an invalid `{{ '`.
    assert_eq!(
        esc("{% raw %}{{ 'a }}{% endraw %}{{ x }}"),
        "{% raw %}{{ 'a }}{% endraw %}{{ x | pf_escape }}"
    );
    assert_eq!(
        render_escaped("{% raw %}{{ 'a }}{% endraw %}{{ x }}", object!({"x": "<i>"})),
        "{{ 'a }}&lt;i&gt;"
    );
    // An `endraw` inside a string of a valid expression does not close.
    let source = "{% raw %}{{ '{% endraw %}' }}{% endraw %}{{ x }}";
    assert_eq!(
        esc(source),
        "{% raw %}{{ '{% endraw %}' }}{% endraw %}{{ x | pf_escape }}"
    );
    // `{% raw x %}` is not a raw block (liquid rejects it): keep escaping.
    assert_eq!(
        esc("{% raw x %}{{ x }}{% endraw %}"),
        "{% raw x %}{{ x | pf_escape }}{% endraw %}"
    );
    // `{% endraw x %}` does not close.
    assert_eq!(
        esc("{% raw %}{{ x }}{% endraw x %}{{ y }}"),
        "{% raw %}{{ x }}{% endraw x %}{{ y }}"
    );
}

#[test]
fn raw_inside_other_blocks_is_raw_for_the_parser_too() {
    // Blocks parse their bodies as Liquid (graphql included), so a raw block
    // opened inside one hides its `{% endgraphql %}` from the parser as well.
    let source = "{% graphql g %}{% raw %}{% endgraphql %}{{ x }}{% raw %}{% endraw %}";
    assert_eq!(esc(source), source);
    assert!(parser().parse(source).is_err());
    let source = "{% if a %}{% raw %}{% endif %}{{ x }}{% endraw %}{% endif %}";
    assert_eq!(esc(source), source);
    assert_eq!(
        render_escaped(source, object!({"a": true, "x": "<i>"})),
        "{% endif %}{{ x }}"
    );
}

#[test]
fn comments_are_verbatim_including_nested_and_raw() {
    for source in [
        "{% comment %}{{ x }}{% endcomment %}",
        "{% comment %}{% comment %}{{ x }}{% endcomment %}{{ y }}{% endcomment %}",
        "{% comment %}{% raw %}{% endcomment %}{{ x }}{% endraw %}{{ y }}{% endcomment %}",
        "{%- comment -%}\n{{ x }}\n{%- endcomment -%}",
    ] {
        assert_eq!(esc(source), source, "{source}");
        assert!(parser().parse(&esc(source)).is_ok(), "{source}");
    }
    assert_eq!(
        esc("{% comment %}{{ a }}{% endcomment %}{{ b }}"),
        "{% comment %}{{ a }}{% endcomment %}{{ b | pf_escape }}"
    );
}

#[test]
fn ambiguous_comments_are_rewritten_like_text() {
    assert_eq!(
        esc("{% comment %}{% comment x %}{% endcomment %}{{ x }}"),
        "{% comment %}{% comment x %}{% endcomment %}{{ x | pf_escape }}"
    );
    assert_eq!(esc("{% comment %}{{ x }}"), "{% comment %}{{ x | pf_escape }}");
}

#[test]
fn newlines_are_kept_exactly() {
    let source = "<p>\n{{\n  x\n  | upcase\n}}\r\n{{ y }}\n{% raw %}\n{{ z }}\n{% endraw %}\n</p>\n";
    let out = esc(source);
    assert_eq!(out.matches('\n').count(), source.matches('\n').count());
    assert_eq!(out.matches('\r').count(), source.matches('\r').count());
    assert_eq!(
        out,
        "<p>\n{{\n  x\n  | upcase | pf_escape\n}}\r\n{{ y | pf_escape }}\n{% raw %}\n{{ z }}\n{% endraw %}\n</p>\n"
    );
}

#[test]
fn error_lines_do_not_move() {
    let source = "{{ a }}\n{{ b }}\n{% if %}\n";
    let original = parser().parse(source).err().unwrap().to_string();
    let rewritten = parser().parse(&esc(source)).err().unwrap().to_string();
    assert!(original.contains("3:"), "{original}");
    assert!(rewritten.contains("3:"), "{rewritten}");
}

#[test]
fn unclosed_and_invalid_outputs_are_left_for_the_parser() {
    for source in [
        "{{",
        "a {{ x",
        "{{ 'x }}",
        "{{ a b }}",
        "{{ }}",
        "{{ x | }}",
        "{%",
        "{% raw %}{{ x }}",
    ] {
        assert_eq!(esc(source), source, "{source}");
        assert!(parser().parse(&esc(source)).is_err(), "{source}");
    }
    assert_eq!(esc("}}"), "}}");
    assert_eq!(esc("{{ x }} {{ y"), "{{ x | pf_escape }} {{ y");
    // An invalid output is skipped one character at a time, like the parser.
    assert_eq!(esc("{{ 'a }}{{ x }}"), "{{ 'a }}{{ x | pf_escape }}");
}

#[test]
fn empty_unicode_and_idempotent() {
    assert_eq!(esc(""), "");
    assert_eq!(esc("plain ✓ text"), "plain ✓ text");
    assert_eq!(esc("é{{ 'ü' }}✓"), "é{{ 'ü' | pf_escape }}✓");
    let source = "{{ a }}{% raw %}{{ b }}{% endraw %}{{ c | html_safe }}{{ d | f }}";
    assert_eq!(esc(&esc(source)), esc(source));
}

#[test]
fn rendered_data_cannot_inject_markup() {
    let out = render_escaped(
        "<a title=\"{{ t }}\">{{ n }}</a>{{ list }}{{ h.k }}{{ safe | html_safe }}",
        object!({"t": "\" onclick='x'", "n": "<script>", "list": ["<", "&"], "h": {"k": "'"}, "safe": "<b>ok</b>"}),
    );
    assert_eq!(
        out,
        "<a title=\"&quot; onclick=&#39;x&#39;\">&lt;script&gt;</a>&lt;&amp;&#39;<b>ok</b>"
    );
}

/// Random templates from fragments that often parse; whenever the rewritten
/// template parses and renders, the data marker must never appear
/// unescaped, and parsing must succeed for the rewrite exactly when it
/// succeeds for the original.
#[test]
fn fuzz_no_output_escapes_the_rewrite() {
    const FRAGMENTS: &[&str] = &[
        "{{ x }}",
        "{{- x -}}",
        "{{ x | upcase }}",
        "{{ ok | html_safe }}",
        "{% raw %}",
        "{% endraw %}",
        "{%- raw -%}",
        "{% comment %}",
        "{% endcomment %}",
        "{% if x %}",
        "{% endif %}",
        "{{ '",
        "' }}",
        "\"",
        "'",
        "}}",
        "{{",
        "{%",
        "%}",
        "text",
        "\n",
        " ",
        "{{ x | append: '}}' }}",
        "{% raw x %}",
        "{% endraw x %}",
        "{% comment x %}",
        "{% capture c %}",
        "{% endcapture %}",
        "{{ c | html_safe }}",
        "-",
        "|",
        "{{ ok | raw }}",
    ];
    let parser = parser();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let globals = object!({"x": "<i>", "ok": "<ok>"});
    let mut rendered = 0;
    for _ in 0..20_000 {
        let len = (next() % 8) as usize + 1;
        let source: String = (0..len)
            .map(|_| FRAGMENTS[(next() % FRAGMENTS.len() as u64) as usize])
            .collect();
        let rewritten = esc(&source);
        assert_eq!(rewritten.matches('\n').count(), source.matches('\n').count());
        let parsed_original =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(&source).is_ok())).unwrap_or(false);
        let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(&rewritten).ok()));
        let Ok(parsed) = parsed else { continue };
        assert_eq!(parsed.is_some(), parsed_original, "{source:?} -> {rewritten:?}");
        if let Some(template) = parsed {
            if let Ok(out) = template.render(&globals) {
                rendered += 1;
                // `{% capture %}` of escaped output printed html_safe is
                // still escaped, and raw blocks print template text, never data.
                assert!(!out.contains("<i>"), "{source:?} -> {rewritten:?} -> {out:?}");
            }
        }
    }
    assert!(rendered > 1000, "only {rendered} templates rendered");
}

#[test]
fn parse_json_bodies_are_json_not_html() {
    let source = "{% parse_json d %}{ \"q\": {{ q | json }} }{% endparse_json %}<p>{{ q }}</p>";
    assert_eq!(
        esc(source),
        "{% parse_json d %}{ \"q\": {{ q | json }} }{% endparse_json %}<p>{{ q | pf_escape }}</p>"
    );
    // Unclosed: left to the parser to reject, outputs still escaped.
    assert_eq!(
        esc("{% parse_json d %}{{ q }}"),
        "{% parse_json d %}{{ q | pf_escape }}"
    );
}

#[test]
fn liquid_blocks_and_echo_are_expanded_then_escaped() {
    let source = "{% liquid\n  assign v = x\n  echo v\n%}|{% echo x %}|{% echo x | html_safe %}";
    assert_eq!(
        super::autoescape_outputs(source),
        "{{ nil | pf_escape\n }}{% assign v = x\n %}{{ v | pf_escape\n }}|{{ x | pf_escape }}|{{ x | html_safe }}"
    );
    let out =
        crate::liquid::test_support::render(&super::autoescape_outputs(source), liquid_core::object!({"x": "<b>"}));
    assert_eq!(out, "&lt;b&gt;|&lt;b&gt;|<b>");
}

#[test]
fn platformos_lax_markup_is_rewritten_to_what_it_means_there() {
    assert_eq!(
        esc("a\n{% form html-class: @request_type %}\n<i>{{ x }}</i>{% endform %}"),
        "a\n{% form html-class:  request_type %}\n<i>{{ x | pf_escape }}</i>{% endform %}"
    );
    assert_eq!(
        esc("{% assign = x = 1 %}{{ x }}"),
        "{% assign  x = 1 %}{{ x | pf_escape }}"
    );
    assert_eq!(render_escaped("{%- assign = x = 'a,b' -%}{{ x }}", object!({})), "a,b");
    // Left alone when it means nothing else (the parser reports it).
    assert_eq!(esc("{% if @x %}"), "{% if @x %}");
    assert_eq!(esc("{% form @"), "{% form @");
}
