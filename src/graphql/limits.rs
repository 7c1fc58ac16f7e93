//! What one GraphQL document may cost, checked before and right after
//! parsing. The parser and validator recurse per nesting level, so the raw
//! text is scanned first (iteratively) and anything nested deeper than a
//! real query needs never reaches them.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ErrorExtensions, ServerError, ServerResult, Variables};

use super::errors::BAD_USER_INPUT;

/// The longest document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 32 * 1024;
/// The deepest nesting of `{`, `[` and `(` together. A connection query with
/// filters needs about 12; list literals of lists a few more.
pub const MAX_NESTING: usize = 48;
/// Aliased fields per document: a few are normal, hundreds multiply the work
/// of one request.
pub const MAX_ALIASES: usize = 30;
/// Fields of one operation, fragments expanded (async-graphql's complexity).
pub const MAX_COMPLEXITY: usize = 1_000;
/// Recursion the validator allows in values and selections.
pub const MAX_RECURSIVE_DEPTH: usize = 64;

/// Why a document was refused before it ran.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("the query is {0} bytes; at most {MAX_DOCUMENT_BYTES} are accepted")]
    TooLong(usize),
    #[error("the query nests deeper than {MAX_NESTING} levels of {{, [ and (")]
    TooDeep,
    #[error("the query has {0} aliases; at most {MAX_ALIASES} are accepted")]
    TooManyAliases(usize),
}

/// Check the raw text: its size and how deep its brackets nest, skipping
/// strings and comments.
pub fn check_text(query: &str) -> Result<(), LimitError> {
    if query.len() > MAX_DOCUMENT_BYTES {
        return Err(LimitError::TooLong(query.len()));
    }
    let bytes = query.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    // `\"""` is an escaped delimiter inside a block string.
                    i += if bytes[i..].starts_with(b"\\\"\"\"") { 4 } else { 1 };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(LimitError::TooDeep);
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Count the aliased fields of every operation and fragment (walked with an
/// explicit stack).
pub fn check_document(document: &ExecutableDocument) -> Result<(), LimitError> {
    let mut pending: Vec<&SelectionSet> = document
        .operations
        .iter()
        .map(|(_, operation)| &operation.node.selection_set.node)
        .chain(
            document
                .fragments
                .values()
                .map(|fragment| &fragment.node.selection_set.node),
        )
        .collect();
    let mut aliases = 0usize;
    while let Some(set) = pending.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    if field.node.alias.is_some() {
                        aliases += 1;
                    }
                    pending.push(&field.node.selection_set.node);
                }
                Selection::InlineFragment(fragment) => pending.push(&fragment.node.selection_set.node),
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    if aliases > MAX_ALIASES {
        return Err(LimitError::TooManyAliases(aliases));
    }
    Ok(())
}

/// The extension that applies both checks around the parser.
pub(crate) struct DocumentLimits;

impl ExtensionFactory for DocumentLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(DocumentLimits)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for DocumentLimits {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        check_text(query).map_err(refused)?;
        let document = next.run(ctx, query, variables).await?;
        check_document(&document).map_err(refused)?;
        Ok(document)
    }
}

fn refused(error: LimitError) -> ServerError {
    let coded = async_graphql::Error::new(error.to_string()).extend_with(|_, e| e.set("code", BAD_USER_INPUT));
    coded.into_server_error(async_graphql::Pos::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_counted_outside_strings_and_comments() {
        assert!(check_text("{ a(x: [[[1]]]) { b } }").is_ok());
        let deep = format!("{{ __typename(x: {}1{}) }}", "[".repeat(2_000), "]".repeat(2_000));
        assert_eq!(check_text(&deep), Err(LimitError::TooDeep));
        let deep_short = format!("{{ a(x: {}) }}", "[".repeat(MAX_NESTING));
        assert_eq!(check_text(&deep_short), Err(LimitError::TooDeep));
        let in_string = format!("{{ a(x: \"{}\") }}", "[".repeat(500));
        assert!(check_text(&in_string).is_ok());
        let in_block = format!("{{ a(x: \"\"\"{}\\\"\"\"\"\"\") }}", "{".repeat(500));
        assert!(check_text(&in_block).is_ok());
        let in_comment = format!("# {}\n{{ a }}", "(".repeat(500));
        assert!(check_text(&in_comment).is_ok());
        assert!(matches!(
            check_text(&" ".repeat(MAX_DOCUMENT_BYTES + 1)),
            Err(LimitError::TooLong(_))
        ));
    }

    #[test]
    fn aliases_are_counted_in_operations_and_fragments() {
        let aliased = |n: usize| (0..n).map(|i| format!("a{i}: x")).collect::<Vec<_>>().join(" ");
        let ok = async_graphql::parser::parse_query(format!("{{ {} }}", aliased(MAX_ALIASES))).unwrap();
        assert!(check_document(&ok).is_ok());
        let split = format!(
            "{{ y {{ {} }} ...F }} fragment F on Query {{ {} }}",
            aliased(MAX_ALIASES / 2),
            aliased(MAX_ALIASES / 2 + 1)
        );
        let document = async_graphql::parser::parse_query(split).unwrap();
        assert_eq!(
            check_document(&document),
            Err(LimitError::TooManyAliases(MAX_ALIASES + 1))
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Whatever passes the text check can be parsed without exhausting
        /// the stack, and the alias count never panics.
        #[test]
        fn what_passes_the_text_check_parses_safely(query in r"(\{|\}|\[|\]|\(|\)|a|: |x|\x22|#|\n| |1|\$v|\.\.\.F|@d){0,600}") {
            if check_text(&query).is_ok() {
                if let Ok(document) = async_graphql::parser::parse_query(&query) {
                    let _ = check_document(&document);
                }
            }
        }

        #[test]
        fn nesting_past_the_limit_is_always_refused(extra in 1usize..500, open in proptest::sample::select(vec!['{', '[', '('])) {
            let query: String = std::iter::repeat_n(open, MAX_NESTING + extra).collect();
            proptest::prop_assert_eq!(check_text(&query), Err(LimitError::TooDeep));
        }
    }
}
