//! What one GraphQL document may cost, checked before and right after
//! parsing. The parser and validator recurse per nesting level, so the raw
//! text is scanned first (iteratively) and anything nested deeper than a
//! real query needs never reaches them.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ErrorExtensions, ServerError, Value as ConstValue, Variables};

use super::errors::BAD_USER_INPUT;

/// The longest document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 32 * 1024;
/// The deepest nesting of `{`, `[` and `(` together. A connection query with
/// filters needs about 12; list literals of lists a few more.
pub const MAX_NESTING: usize = 48;
/// Aliased fields per document: a few are normal, hundreds multiply the work
/// of one request.
pub const MAX_ALIASES: usize = 30;
/// Fields of one operation, fragments expanded (also async-graphql's
/// complexity limit, which is only checked after a full walk).
pub const MAX_COMPLEXITY: usize = 1_000;
/// Fragment spreads (`...Name`) per document.
pub const MAX_FRAGMENT_SPREADS: usize = 100;
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
    #[error("the query has {0} fragment spreads; at most {MAX_FRAGMENT_SPREADS} are accepted")]
    TooManySpreads(usize),
    #[error("the query selects {0} fields once its fragments are expanded; at most {MAX_COMPLEXITY} are accepted")]
    TooManyFields(usize),
    #[error("a value looks like a card number; card details are entered in Stripe.js and never sent to payforms")]
    CardNumber,
    #[error("fragment `{0}` spreads itself")]
    FragmentCycle(String),
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

/// What one selection set holds, fragments not expanded.
#[derive(Default)]
struct Shape<'a> {
    fields: usize,
    aliases: usize,
    spreads: Vec<&'a str>,
}

/// Walk `set` and everything under it (explicit stack).
fn shape(set: &SelectionSet) -> Shape<'_> {
    let mut found = Shape::default();
    let mut pending = vec![set];
    while let Some(set) = pending.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    found.fields += 1;
                    if field.node.alias.is_some() {
                        found.aliases += 1;
                    }
                    pending.push(&field.node.selection_set.node);
                }
                Selection::InlineFragment(fragment) => pending.push(&fragment.node.selection_set.node),
                Selection::FragmentSpread(spread) => found.spreads.push(spread.node.fragment_name.node.as_str()),
            }
        }
    }
    found
}

/// Count aliases, spreads and the fields each operation selects with its
/// fragments expanded, before the validator walks them: fragments that
/// spread each other twice per level double the work at every level, so a
/// 2 KB document could otherwise keep a core busy for hours. Each
/// fragment's size is computed once (memoised, saturating); a cycle is
/// refused here (walking one is just as exponential).
pub fn check_document(document: &ExecutableDocument) -> Result<(), LimitError> {
    let fragments: HashMap<&str, Shape<'_>> = document
        .fragments
        .iter()
        .map(|(name, fragment)| (name.as_str(), shape(&fragment.node.selection_set.node)))
        .collect();
    let operations: Vec<Shape<'_>> = document
        .operations
        .iter()
        .map(|(_, operation)| shape(&operation.node.selection_set.node))
        .collect();
    let aliases: usize = fragments.values().chain(&operations).map(|s| s.aliases).sum();
    if aliases > MAX_ALIASES {
        return Err(LimitError::TooManyAliases(aliases));
    }
    let spreads: usize = fragments.values().chain(&operations).map(|s| s.spreads.len()).sum();
    if spreads > MAX_FRAGMENT_SPREADS {
        return Err(LimitError::TooManySpreads(spreads));
    }
    let expanded = expanded_sizes(&fragments)?;
    for operation in &operations {
        let total = operation.spreads.iter().fold(operation.fields, |sum, name| {
            sum.saturating_add(expanded.get(name).copied().unwrap_or(0))
        });
        if total > MAX_COMPLEXITY {
            return Err(LimitError::TooManyFields(total));
        }
    }
    Ok(())
}

/// Fields of each fragment with its spreads expanded, by a depth-first walk
/// with an explicit stack.
fn expanded_sizes<'a>(fragments: &HashMap<&'a str, Shape<'a>>) -> Result<HashMap<&'a str, usize>, LimitError> {
    let mut done: HashMap<&str, usize> = HashMap::new();
    let mut visiting: HashSet<&str> = HashSet::new();
    for &start in fragments.keys() {
        let mut stack = vec![start];
        while let Some(&name) = stack.last() {
            if done.contains_key(name) {
                stack.pop();
                continue;
            }
            let Some(fragment) = fragments.get(name) else {
                done.insert(name, 0);
                stack.pop();
                continue;
            };
            // Only the fragments on the path from `start` to here are being
            // visited: spreading one of them (or itself) closes a cycle.
            if let Some(cycle) = fragment.spreads.iter().find(|s| visiting.contains(*s)) {
                return Err(LimitError::FragmentCycle(cycle.to_string()));
            }
            let waiting: Vec<&str> = fragment
                .spreads
                .iter()
                .copied()
                .filter(|s| !done.contains_key(s) && !visiting.contains(s))
                .collect();
            if visiting.insert(name) && !waiting.is_empty() {
                stack.extend(waiting);
                continue;
            }
            let size = fragment.spreads.iter().fold(fragment.fields, |sum, spread| {
                sum.saturating_add(done.get(spread).copied().unwrap_or(0))
            });
            visiting.remove(name);
            done.insert(name, size);
            stack.pop();
        }
    }
    Ok(done)
}

/// Card numbers never reach payforms: not in a query's literals, not in its
/// variables (and so never in a record, a gateway call or a log).
pub fn check_card_numbers(query: &str, variables: &Variables) -> Result<(), LimitError> {
    if variables.values().any(holds_card_number) || crate::card_numbers::contains_card_number(query) {
        return Err(LimitError::CardNumber);
    }
    Ok(())
}

/// True when a string or number inside `value` (walked without recursion)
/// looks like a card number.
fn holds_card_number(value: &ConstValue) -> bool {
    use crate::card_numbers::contains_card_number;
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        let found = match value {
            ConstValue::String(text) => contains_card_number(text),
            ConstValue::Number(number) => contains_card_number(&number.to_string()),
            ConstValue::List(items) => {
                pending.extend(items);
                false
            }
            ConstValue::Object(map) => {
                pending.extend(map.values());
                false
            }
            ConstValue::Null | ConstValue::Boolean(_) | ConstValue::Binary(_) | ConstValue::Enum(_) => false,
        };
        if found {
            return true;
        }
    }
    false
}

/// Every check, before async-graphql sees the request: the raw text first
/// (so the parser never meets deep nesting), then the parsed document,
/// which is kept on the request so it is parsed once. This must come before
/// async-graphql's own checks, whose recursion-depth walk follows every
/// fragment spread and so is exponential in fragments that spread each
/// other twice. A document that does not parse is left to async-graphql,
/// which reports where.
pub fn check_request(request: &mut async_graphql::Request) -> Result<(), ServerError> {
    check_text(&request.query).map_err(refused)?;
    check_card_numbers(&request.query, &request.variables).map_err(refused)?;
    if let Ok(document) = request.parsed_query() {
        check_document(document).map_err(refused)?;
    }
    Ok(())
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

    /// F1 spreads F0 twice, F2 spreads F1 twice, …: 2^45 fields from 2 KB.
    fn doubling(levels: usize) -> String {
        let mut query = format!("{{ ...F{levels} }}\nfragment F0 on Query {{ __typename }}\n");
        for i in 1..=levels {
            query.push_str(&format!("fragment F{i} on Query {{ ...F{p} ...F{p} }}\n", p = i - 1));
        }
        query
    }

    #[test]
    fn fragments_that_multiply_are_refused_before_validation() {
        let small = async_graphql::parser::parse_query(doubling(9)).unwrap();
        assert!(check_document(&small).is_ok(), "512 fields");
        let large = async_graphql::parser::parse_query(doubling(10)).unwrap();
        assert_eq!(check_document(&large), Err(LimitError::TooManyFields(1024)));
        let huge = async_graphql::parser::parse_query(doubling(45)).unwrap();
        assert!(matches!(check_document(&huge), Err(LimitError::TooManyFields(_))));
        // A cycle is refused here: walking it is exponential too.
        let cycle = async_graphql::parser::parse_query(
            "{ ...A } fragment A on Query { a ...B ...B } fragment B on Query { b ...A ...A }",
        )
        .unwrap();
        assert!(matches!(check_document(&cycle), Err(LimitError::FragmentCycle(_))));
        let itself = async_graphql::parser::parse_query("{ ...A } fragment A on Query { a ...A }").unwrap();
        assert_eq!(check_document(&itself), Err(LimitError::FragmentCycle("A".into())));
        let spreads = format!(
            "{{ {} }} fragment F on Query {{ a }}",
            "...F ".repeat(MAX_FRAGMENT_SPREADS + 1)
        );
        let spreads = async_graphql::parser::parse_query(spreads).unwrap();
        assert_eq!(
            check_document(&spreads),
            Err(LimitError::TooManySpreads(MAX_FRAGMENT_SPREADS + 1))
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
