//! GraphQL from templates:
//! - `{% graphql g = 'modules/payments/get_payments', per_page: 5, id: x %}`
//!   runs a stored query;
//! - `{% graphql g, id: x %} query ... {% endgraphql %}` runs the inline query
//!   (the body is rendered as Liquid first, like any block, so that the
//!   autoescape rewrite and the parser agree on where `{% raw %}` blocks
//!   are; pass values as variables, not by interpolating them);
//! - `{% query_graph 'name', result_name: 'g', per_page: 5 %}` is the older
//!   platformOS form of the first; without `result_name` the result is `g`,
//!   as in platformOS.
//!
//! The other named arguments are the query's variables; the result is
//! assigned to the variable.
//!
//! `graphql` is registered as a block only: liquid-rust looks tags up before
//! blocks, so one name cannot be both. The stored-query form (with `=`) simply
//! does not consume a body, so it needs no `{% endgraphql %}`.

use std::io::Write;

use liquid_core::error::ResultLiquidExt;
use liquid_core::model::KString;
use liquid_core::{BlockReflection, Language, ParseBlock, ParseTag, Renderable, TagBlock};
use liquid_core::{Result, Runtime, TagReflection, TagTokenIter, Template};

use super::args::{name_text, named_to_json, parse_value, require_host, tag_error, variable_name, ArgValue, TagArgs};
use crate::liquid::host::GraphqlSource;
use crate::liquid::value::json_to_liquid;

#[derive(Copy, Clone, Debug, Default)]
pub struct GraphqlBlock;

impl BlockReflection for GraphqlBlock {
    fn start_tag(&self) -> &str {
        "graphql"
    }

    fn end_tag(&self) -> &str {
        "endgraphql"
    }

    fn description(&self) -> &str {
        "Runs a stored (g = 'name', ...) or inline (g, ... %}query{% endgraphql) GraphQL query."
    }
}

const USAGE: &str = "{% graphql g = 'query/name', var: value %} or {% graphql g, var: value %}query{% endgraphql %}";

impl ParseBlock for GraphqlBlock {
    fn parse(
        &self,
        mut arguments: TagTokenIter<'_>,
        mut tokens: TagBlock<'_, '_>,
        options: &Language,
    ) -> Result<Box<dyn Renderable>> {
        let result: KString = variable_name(
            arguments.expect_next(&format!("result variable expected; usage: {USAGE}"))?,
            "result variable",
            USAGE,
        )?;
        let first = arguments.next();
        if matches!(&first, Some(token) if token.as_str() == "=") {
            let name = arguments.expect_next(&format!("query name expected; usage: {USAGE}"))?;
            let name = parse_value(name, options)?;
            let args = TagArgs::parse(&mut arguments, options)?;
            if let Some((source, _)) = args.positional.first() {
                return Err(tag_error("graphql", format!("unexpected {source:?}; usage: {USAGE}")));
            }
            return Ok(Box::new(Graphql {
                result,
                query: Query::Stored(name),
                variables: args.named,
            }));
        }
        // Inline form: `g` then optional `, name: value` arguments.
        if let Some(token) = first {
            if token.as_str() != "," {
                return Err(token.raise_custom_error(&format!("\",\" or \"=\" expected; usage: {USAGE}")));
            }
        }
        let args = TagArgs::parse(&mut arguments, options)?;
        if let Some((source, _)) = args.positional.first() {
            return Err(tag_error("graphql", format!("unexpected {source:?}; usage: {USAGE}")));
        }
        let body = Template::new(
            tokens
                .parse_all(options)
                .trace_with(|| format!("{{% graphql {result} %}}").into())?,
        );
        Ok(Box::new(Graphql {
            result,
            query: Query::Inline(body),
            variables: args.named,
        }))
    }

    fn reflection(&self) -> &dyn BlockReflection {
        self
    }
}

#[derive(Copy, Clone, Debug, Default)]
pub struct QueryGraphTag;

impl TagReflection for QueryGraphTag {
    fn tag(&self) -> &'static str {
        "query_graph"
    }

    fn description(&self) -> &'static str {
        "Older form of graphql: {% query_graph 'name', result_name: 'g', var: value %}."
    }
}

const QUERY_GRAPH_USAGE: &str = "{% query_graph 'query/name', result_name: 'g', var: value %}";

impl ParseTag for QueryGraphTag {
    fn parse(&self, mut arguments: TagTokenIter<'_>, options: &Language) -> Result<Box<dyn Renderable>> {
        let mut args = TagArgs::parse(&mut arguments, options)?;
        args.at_most_positional("query_graph", 1, QUERY_GRAPH_USAGE)?;
        let Some((_, name)) = args.positional.pop() else {
            return Err(arguments.raise_error(&format!("query name expected; usage: {QUERY_GRAPH_USAGE}")));
        };
        let result = match args.take_named("result_name") {
            Some(ArgValue::Plain(liquid_core::Expression::Literal(value))) => {
                let text = liquid_core::ValueView::to_kstr(&value).trim().to_string();
                if text.is_empty() {
                    return Err(arguments.raise_error("result_name must not be empty"));
                }
                KString::from(text)
            }
            Some(_) => return Err(arguments.raise_error("result_name must be a quoted name, e.g. result_name: 'g'")),
            // platformOS binds the result to `g` when no name is given.
            None => KString::from_static("g"),
        };
        Ok(Box::new(Graphql {
            result,
            query: Query::Stored(name),
            variables: args.named,
        }))
    }

    fn reflection(&self) -> &dyn TagReflection {
        self
    }
}

#[derive(Debug)]
enum Query {
    Stored(ArgValue),
    Inline(Template),
}

#[derive(Debug)]
struct Graphql {
    result: KString,
    query: Query,
    variables: Vec<(String, ArgValue)>,
}

impl Renderable for Graphql {
    fn render_to(&self, _writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let variables = named_to_json(&self.variables, runtime)?;
        let host = require_host("graphql")?;
        let (label, outcome) = match &self.query {
            Query::Stored(name) => {
                let name = name_text("graphql", "the query name", &name.evaluate(runtime)?)?;
                let outcome = host.graphql(GraphqlSource::Named(&name), variables);
                (name, outcome)
            }
            Query::Inline(body) => {
                let mut text = Vec::new();
                body.render_to(&mut text, runtime)
                    .trace_with(|| format!("{{% graphql {} %}}", self.result).into())?;
                let text = String::from_utf8_lossy(&text);
                if text.trim().is_empty() {
                    return Err(tag_error(
                        "graphql",
                        format!("the inline query of {} is empty", self.result),
                    ));
                }
                (
                    "inline query".to_string(),
                    host.graphql(GraphqlSource::Inline(&text), variables),
                )
            }
        };
        let result = outcome.map_err(|err| {
            tag_error("graphql", format!("{label} failed: {err}")).context("result", self.result.to_string())
        })?;
        runtime.set_global(self.result.clone(), json_to_liquid(&result));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::liquid::test_support::{render, render_err, render_with_host};
    use liquid_core::object;

    #[test]
    fn stored_query_with_variables_assigns_the_result() {
        let (out, calls) = render_with_host(
            "{% graphql g = 'modules/payments/get_payments', per_page: 5, id: x, missing: nope %}{{ g.query }}:{{ g.variables.per_page }}:{{ g.data.items[1].id }}",
            object!({"x": "pi_✓"}),
        );
        assert_eq!(out.unwrap(), "modules/payments/get_payments:5:2");
        assert_eq!(
            calls,
            vec![
                r#"graphql named "modules/payments/get_payments" {"per_page":5,"id":"pi_✓","missing":null}"#
                    .to_string()
            ]
        );
    }

    #[test]
    fn quoted_result_names() {
        let (out, _) = render_with_host(
            "{% graphql \"g\" = 'get' %}{% graphql 'i' %}{ x }{% endgraphql %}{{ g.query }}|{{ i.query }}",
            object!({}),
        );
        assert_eq!(out.unwrap(), "get|{ x }");
    }

    #[test]
    fn stored_query_needs_no_end_tag_and_name_may_be_a_variable() {
        let (out, calls) = render_with_host(
            "{% if true %}{% graphql g = q %}{% endif %}[{{ g.query }}]",
            object!({"q": "get"}),
        );
        assert_eq!(out.unwrap(), "[get]");
        assert_eq!(calls, vec![r#"graphql named "get" {}"#.to_string()]);
    }

    #[test]
    fn inline_query_sends_the_raw_body() {
        let (out, calls) = render_with_host(
            "{% graphql r, id: 3 %}query($id: ID) { payment(id: $id) { amount } }{% endgraphql %}{{ r.variables.id }}",
            object!({}),
        );
        assert_eq!(out.unwrap(), "3");
        assert_eq!(
            calls,
            vec![r#"graphql inline "query($id: ID) { payment(id: $id) { amount } }" {"id":3}"#.to_string()]
        );
    }

    #[test]
    fn inline_query_without_arguments() {
        let (out, calls) = render_with_host(
            "{% graphql r %}\n{ customers { id } }\n{% endgraphql %}{{ r.data.items.size }}",
            object!({}),
        );
        assert_eq!(out.unwrap(), "2");
        assert_eq!(
            calls,
            vec![r#"graphql inline "\n{ customers { id } }\n" {}"#.to_string()]
        );
    }

    #[test]
    fn query_graph_older_form() {
        let (out, calls) = render_with_host(
            "{% query_graph 'get_posts', result_name: 'g', per_page: 5 %}{{ g.query }}",
            object!({}),
        );
        assert_eq!(out.unwrap(), "get_posts");
        assert_eq!(calls, vec![r#"graphql named "get_posts" {"per_page":5}"#.to_string()]);
    }

    #[test]
    fn query_graph_without_result_name_binds_g() {
        let (out, calls) = render_with_host(
            "{% assign g = 'before' %}{% query_graph \"get_payments\" %}{{ g.query }}",
            object!({}),
        );
        assert_eq!(out.unwrap(), "get_payments");
        assert_eq!(calls, vec![r#"graphql named "get_payments" {}"#.to_string()]);
    }

    #[test]
    fn inline_query_body_is_rendered_and_must_not_be_empty() {
        let (out, calls) = render_with_host(
            "{% graphql r %}{ {{ f }} }{% endgraphql %}{% graphql e %}  {% if false %}x{% endif %}{% endgraphql %}",
            object!({"f": "customers"}),
        );
        assert!(out.unwrap_err().contains("inline query of e is empty"));
        assert_eq!(calls, vec![r#"graphql inline "{ customers }" {}"#.to_string()]);
    }

    #[test]
    fn host_errors_become_render_errors() {
        let (out, _) = render_with_host("{% graphql g = 'will_fail' %}", object!({}));
        let err = out.unwrap_err();
        assert!(err.contains("will_fail failed: will_fail exploded"), "{err}");
    }

    #[test]
    fn without_host_is_a_render_error() {
        let err = render_err("{% graphql g = 'q' %}", object!({}));
        assert!(err.contains("no render host"), "{err}");
    }

    #[test]
    fn usage_errors() {
        for bad in [
            "{% graphql %}",
            "{% graphql 'g h' = 'q' %}",
            "{% graphql g = %}",
            "{% graphql g = 'q' 'extra' %}",
            "{% graphql g 'q' %}{% endgraphql %}",
            "{% graphql g %}query",
            "{% query_graph 'q', result_name: g %}",
            "{% query_graph result_name: 'g' %}",
        ] {
            let err = render_err(bad, object!({}));
            assert!(!err.is_empty(), "{bad}");
        }
        assert_eq!(
            render("{% comment %}{% graphql g = 'q' %}{% endcomment %}ok", object!({})),
            "ok"
        );
    }
}
