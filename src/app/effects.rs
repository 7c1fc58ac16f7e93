//! Which pages render from memory alone: nothing in the page, its layout,
//! its authorization policies, the forms it includes or any partial those
//! include can reach the store (a `graphql` query, a `dispatch`, a `record`
//! write, or a tag this analysis does not know). Such a page is rendered on
//! the HTTP worker itself, without a hop to the blocking pool; every other
//! page keeps the hop, since the store blocks.
//!
//! The analysis is conservative: an include whose name is not a literal,
//! an unknown tag or a name it cannot resolve makes the page "may read".

use std::collections::{HashMap, HashSet};

use regex::Regex;

use super::{App, Page};

/// Tags that only compute (standard Liquid, and payforms' own that never
/// reach the store). `include` and `include_form` are followed.
const MEMORY_ONLY_TAGS: &[&str] = &[
    // platformOS's, computing only (`liquid` blocks are expanded before).
    "hash_assign",
    "echo",
    "return",
    "if",
    "elsif",
    "else",
    "endif",
    "unless",
    "endunless",
    "case",
    "when",
    "endcase",
    "for",
    "endfor",
    "break",
    "continue",
    "assign",
    "capture",
    "endcapture",
    "comment",
    "endcomment",
    "raw",
    "endraw",
    "increment",
    "decrement",
    "cycle",
    "tablerow",
    "endtablerow",
    "ifchanged",
    "endifchanged",
    "parse_json",
    "endparse_json",
    "export",
    "log",
    "form",
    "endform",
];

/// How many templates one page may pull in before the analysis gives up
/// (and the page keeps the blocking hop).
const MAX_TEMPLATES: usize = 500;

fn tag_pattern() -> Option<&'static Regex> {
    static PATTERN: std::sync::OnceLock<Option<Regex>> = std::sync::OnceLock::new();
    PATTERN
        .get_or_init(|| Regex::new(r"\{%-?\s*([A-Za-z_]+)((?s:.*?))-?%\}").ok())
        .as_ref()
}

/// The quoted name an include starts with, when that is the whole name:
/// nothing but the end of the tag or `,` (its variables) may follow, since
/// a filter after it (`'a' | append: x`) names another template.
fn literal_name(arguments: &str) -> Option<String> {
    let text = arguments.trim_start();
    let quote = text.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let rest = &text[1..];
    let end = rest.find(quote)?;
    let after = rest[end + 1..].trim_start();
    (after.is_empty() || after.starts_with(',')).then(|| rest[..end].to_string())
}

/// What a template source pulls in.
enum Needs {
    /// It may reach the store.
    Store,
    Templates(Vec<Pull>),
}

enum Pull {
    Partial(String),
    Form(String),
}

fn scan(source: &str) -> Needs {
    let Some(pattern) = tag_pattern() else {
        return Needs::Store;
    };
    // `{% liquid %}` blocks hold one tag a line: read them as those tags.
    let expanded = crate::liquid::expand_liquid_tags(source);
    let source = expanded.as_ref();
    // Comments and raw blocks may hold anything; the scan reads them as
    // code, which can only make it more careful.
    let mut pulls = Vec::new();
    for found in pattern.captures_iter(source) {
        let tag = &found[1];
        let arguments = &found[2];
        // A `{%` inside a match means it began in a string or an output
        // (`{{ "{% if" }}`) and swallowed real tags: read nothing into it.
        if arguments.contains("{%") {
            return Needs::Store;
        }
        match tag {
            "include" | "render" => match literal_name(arguments) {
                Some(name) => pulls.push(Pull::Partial(name)),
                None => return Needs::Store,
            },
            // `{% function r = 'lib/x', a: 1 %}` renders a partial too.
            "function" => match arguments.split_once('=').and_then(|(_, rest)| literal_name(rest)) {
                Some(name) => pulls.push(Pull::Partial(name)),
                None => return Needs::Store,
            },
            "include_form" => match literal_name(arguments) {
                Some(name) => pulls.push(Pull::Form(name)),
                None => return Needs::Store,
            },
            known if MEMORY_ONLY_TAGS.contains(&known) => {}
            _ => return Needs::Store,
        }
    }
    Needs::Templates(pulls)
}

/// True when rendering `page` never reaches the store.
pub fn renders_from_memory(app: &App, partials: &HashMap<String, String>, page: &Page) -> bool {
    sources(app, partials, page).is_some()
}

/// Words that let a template treat a form block as text (capture it, then
/// filter or test it), which its skeleton marker would not stand for.
const UNSPLITTABLE: &[&str] = &["capture"];

/// What of `context` a page may read and still be the same for every
/// request (its flash is checked to be empty before the cached text is
/// used).
const CONSTANT_CONTEXT: &[&str] = &["page", "stripe", "flash", "exports"];
/// Words that make (or may make) an output differ between two renders:
/// randomness, the clock (the time filters read "now" from any value,
/// however it was built), logging.
const VARYING: &[&str] = &[
    "random_string",
    "uuid",
    "now",
    "today",
    "date",
    "to_time",
    "time_diff",
    "strftime",
    "time_ago",
    "log",
    // Answers with a redirect rather than the page's text.
    "redirect_to",
];

fn word_pattern() -> Option<&'static Regex> {
    static PATTERN: std::sync::OnceLock<Option<Regex>> = std::sync::OnceLock::new();
    PATTERN
        .get_or_init(|| Regex::new(r"[A-Za-z_][A-Za-z0-9_]*").ok())
        .as_ref()
}

/// True when `source` reads nothing of the request: `context` only through
/// `context.page`, `.stripe`, `.flash` or `.exports`, and no time, random
/// or logging word. A text scan, so conservative: a word in a comment or
/// a string counts too.
fn constant_source(source: &str) -> bool {
    let Some(words) = word_pattern() else {
        return false;
    };
    for word in words.find_iter(source) {
        if VARYING.contains(&word.as_str()) || UNSPLITTABLE.contains(&word.as_str()) {
            return false;
        }
        if word.as_str() == "context" {
            let head = &source[..word.start()];
            let member = head.ends_with('.') && !head.ends_with("..");
            if member || head.ends_with(|c: char| c == '_' || c.is_alphanumeric()) {
                continue; // `x.context`, not the global (`(1..context.x)` is)
            }
            let after = &source[word.end()..];
            let allowed = after.strip_prefix('.').is_some_and(|rest| {
                CONSTANT_CONTEXT.iter().any(|key| {
                    rest.strip_prefix(key)
                        .is_some_and(|tail| !tail.starts_with(|c: char| c == '_' || c.is_alphanumeric()))
                })
            });
            if !allowed {
                return false;
            }
        }
    }
    true
}

/// True when `page` renders from memory, has no authorization policy and
/// reads nothing of the request: the same text for everyone apart from its
/// forms' per-request parts.
pub fn renders_constant(app: &App, partials: &HashMap<String, String>, page: &Page) -> bool {
    page.authorization_policies.is_empty()
        && page.content_type.starts_with("text/html")
        && sources(app, partials, page).is_some_and(|all| all.iter().all(|s| constant_source(s)))
}

/// Every template source rendering `page` may use, or None when one may
/// reach the store (or cannot be resolved).
fn sources(app: &App, partials: &HashMap<String, String>, page: &Page) -> Option<Vec<String>> {
    let mut pending: Vec<String> = vec![page.template.source.to_string()];
    let layout = match &page.layout {
        Some(name) => App::resolve(&app.layouts, name),
        None if page.content_type.starts_with("text/html") => app.layouts.get("application"),
        None => None,
    };
    pending.extend(layout.map(|l| l.source.to_string()));
    for name in &page.authorization_policies {
        match App::resolve(&app.authorization_policies, name) {
            Some(policy) => pending.push(policy.template.source.to_string()),
            None => return None,
        }
    }
    let mut seen: HashSet<String> = HashSet::new();
    let mut read = Vec::new();
    while let Some(source) = pending.pop() {
        if read.len() >= MAX_TEMPLATES {
            return None;
        }
        let Needs::Templates(pulls) = scan(&source) else {
            return None;
        };
        read.push(source);
        for pull in pulls {
            match pull {
                Pull::Partial(name) => {
                    if !seen.insert(format!("partial {name}")) {
                        continue;
                    }
                    match App::resolve(partials, &name) {
                        Some(text) => pending.push(text.clone()),
                        None => return None,
                    }
                }
                Pull::Form(name) => {
                    if !seen.insert(format!("form {name}")) {
                        continue;
                    }
                    let form = app.form(&name)?;
                    pending.push(form.body.source.to_string());
                    pending.extend(form.idempotency_key.as_ref().map(|t| t.source.to_string()));
                }
            }
        }
    }
    Some(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs_store(source: &str) -> bool {
        matches!(scan(source), Needs::Store)
    }

    #[test]
    fn store_tags_and_unknown_or_dynamic_includes_need_the_store() {
        assert!(needs_store("{% graphql g = 'x' %}"));
        assert!(needs_store("{%- dispatch r = 'x' -%}"));
        assert!(needs_store("{% record r = 'x', properties: p %}"));
        assert!(needs_store("{% include name %}"));
        assert!(needs_store("{% include_form form_name %}"));
        assert!(needs_store("{% some_new_tag %}"));
        assert!(needs_store("{% liquid\n assign a = 1\n graphql g = 'x'\n%}"));
        assert!(needs_store("{% function r = name %}"));
        assert!(!needs_store(
            "{% liquid\n assign a = 1\n echo a\n%}{% function r = 'lib/x', a: 1 %}{% hash_assign h['k'] = 1 %}"
        ));
        assert!(!needs_store(
            "{% if a %}{{ a }}{% endif %}{% parse_json x %}{}{% endparse_json %}{% include 'p', a: 1 %}{% include_form \"f\" %}"
        ));
        // A name made by a filter is another template; a tag hidden behind
        // a `{%` in a string is not read past.
        assert!(needs_store("{% include 'banner' | append: '_visitor' %}"));
        assert!(needs_store("{% include_form 'x' | append: y %}"));
        assert!(needs_store("{{ \"{% if\" }}{% include 'who' %}"));
    }

    #[test]
    fn the_demo_checkout_renders_from_memory_and_the_receipts_do_not() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let app = App::load(root).expect("the demo app loads");
        let page = |slug: &str| {
            app.pages
                .iter()
                .find(|p| p.slug == slug && p.method == "get")
                .expect("page")
        };
        assert!(page("/checkout").renders_from_memory);
        assert!(page("/checkout").renders_constant);
        // The receipts read payments with GraphQL.
        assert!(!page("/payments").renders_from_memory);
        assert!(!page("/payments").renders_constant);
    }

    #[test]
    fn only_pages_that_read_nothing_of_the_request_are_constant() {
        assert!(constant_source(
            "{{ context.page.metadata.title }}{% if context.flash.notice %}{% endif %}{{ context.stripe.js_url }}"
        ));
        assert!(constant_source("{{ data.context }}{{ my_context.x }}"));
        for varying in [
            "{{ 4 | uuid }}",
            "{{ context.params.q }}",
            "{{ context.location.href }}",
            "{{ context.visitor.id }}",
            "{{ context.csrf_token }}",
            "{{ context.headers.host }}",
            "{{ context.operator.signed_in }}",
            "{% assign c = context %}{{ c.params }}",
            "{{ context['params'] }}",
            "{{ context.pages }}",
            "{{ 'now' | date: '%Y' }}",
            "{{ 8 | random_string }}",
            "{% assign t = 'no' | append: 'w' %}{{ t | to_time | strftime: '%Y' }}",
            "{{ '2026-01-01T00:00:00Z' | time_ago }}",
            "{% log 'x' %}",
            "{% for i in (1..context.params.qty) %}{{ i }}{% endfor %}",
            "{% capture f %}{% include_form 'x' %}{% endcapture %}{{ f }}",
        ] {
            assert!(!constant_source(varying), "{varying}");
        }
    }
}
