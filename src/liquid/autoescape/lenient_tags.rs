//! Tag arguments read members leniently too, as platformOS does:
//! `{% if payment.payer.email == blank %}` with no payer is true, not a
//! render error. liquid-rust reads a member inside a comparison, a `case`
//! value, a `for` collection or an `assign` value strictly, and its
//! condition grammar takes no filters, so each such operand is read into a
//! variable of its own with [`super::lenient::dig`] just before the tag
//! evaluates it:
//!
//! - `{% if a.b == 1 %}` → `{% assign pf_lenient_1 = nil | pf_dig: "a", "b" %}{% if pf_lenient_1 == 1 %}`
//!   (also `unless`, `case`, `for … in`, `tablerow … in`);
//! - `{% elsif a.b == 1 %}` → `{% else %}{% assign … %}{% if pf_lenient_2 == 1 %}`
//!   and one more `{% endif %}` at the chain's end, so the operand is still
//!   read only when the earlier branches were not taken;
//! - `{% assign x = a.b | f %}` → `{% assign x = nil | pf_dig: "a", "b" | f %}`;
//! - a filter argument (`{{ x | default: a.b }}`, also in an `assign`) is
//!   read into a variable just before its output or tag.
//!
//! An existence test (`{% if a.b %}`) is already lenient and is left alone;
//! so is anything unusual (an operand written without spaces around its
//! operator, ranges, a template whose `if` blocks do not balance). Only
//! tags are inserted, never a newline, so error lines stay the source's.
//! The root variable must still exist, as in outputs, so a misspelt name is
//! still an error.

use super::grammar::{elements, Element};
use super::lenient::dig;
use super::{comment_end, raw_end};
use std::borrow::Cow;

/// Comparison operators of liquid-rust's condition grammar.
const OPERATORS: &[&str] = &["==", "!=", "<>", "<", ">", "<=", ">=", "contains"];

/// The source with lenient tag arguments (see the module documentation),
/// borrowed unchanged when no tag needed it.
pub(super) fn rewrite(source: &str) -> Cow<'_, str> {
    let elements = elements(source);
    let mut plan = Plan::default();
    let mut blocks: Vec<OpenBlock> = Vec::new();
    let mut nesting = Nesting::default();
    let mut balanced = true;
    let mut i = 0;
    while i < elements.len() {
        let (start, end, element) = &elements[i];
        let shape = match element {
            Element::Tag(shape) => shape,
            Element::Expression(shape) => {
                plan.hoist_output_arguments(i, source, *start, *end, shape.value.1, shape.chain_end);
                i += 1;
                continue;
            }
            Element::Text => {
                i += 1;
                continue;
            }
        };
        let name = &source[shape.name.0..shape.name.1];
        match (name, shape.has_arguments) {
            ("raw", false) => {
                i = raw_end(&elements, i, source).unwrap_or(elements.len());
            }
            ("comment", false) => match comment_end(&elements, i, source) {
                Some(close) => i = close,
                None => balanced = false,
            },
            _ => {
                let tag = TagText::new(source, *start, *end, shape.name.1);
                if nesting.enter(name) {
                    // Too deep to parse safely: the template fails to load
                    // here, with a message (see `tags::nesting_limit`).
                    plan.push(i, &tag, "{% pf_nesting_limit %}".to_string(), false);
                    break;
                }
                match name {
                    "if" | "unless" => {
                        blocks.push(OpenBlock { name, extra_endifs: 0 });
                        plan.hoist_comparisons(i, &tag);
                    }
                    "elsif" => match blocks.last_mut() {
                        Some(open) if open.name == "if" => {
                            if plan.nest_elsif(i, &tag) {
                                open.extra_endifs += 1;
                            }
                        }
                        _ => balanced = false,
                    },
                    "endif" | "endunless" => match blocks.pop() {
                        Some(open) if "end".to_string() + open.name == name => {
                            if open.extra_endifs > 0 {
                                plan.close_nested(i, &tag, open.extra_endifs);
                            }
                        }
                        _ => balanced = false,
                    },
                    "case" => plan.hoist_operand(i, &tag, 0),
                    "for" | "tablerow" => plan.hoist_collection(i, &tag),
                    "assign" => plan.dig_assigned_value(i, &tag),
                    _ => {}
                }
            }
        }
        i += 1;
    }
    if !blocks.is_empty() {
        balanced = false;
    }
    if plan.replacements.is_empty() {
        return Cow::Borrowed(source);
    }
    let mut out = String::with_capacity(source.len() + plan.replacements.len() * 48);
    let mut copied_to = 0;
    for replacement in &plan.replacements {
        if replacement.needs_balance && !balanced {
            continue;
        }
        let (start, end) = (elements[replacement.element].0, elements[replacement.element].1);
        out.push_str(&source[copied_to..start]);
        out.push_str(&replacement.text);
        copied_to = end;
    }
    out.push_str(&source[copied_to..]);
    Cow::Owned(out)
}

/// Blocks the parser recurses into, and how deep they nest.
#[derive(Default)]
struct Nesting {
    /// Per open block: its name and its `elsif`s so far.
    open: Vec<(String, usize)>,
    depth: usize,
}

/// Blocks whose body liquid-rust parses recursively (`graphql` has both a
/// tag and a block form, and its block holds query text).
const NESTING_BLOCKS: &[&str] = &[
    "if",
    "unless",
    "for",
    "case",
    "capture",
    "tablerow",
    "ifchanged",
    "form",
    "parse_json",
];

impl Nesting {
    /// Follows one tag; true when it takes the template past
    /// [`crate::liquid::MAX_NESTING`].
    fn enter(&mut self, name: &str) -> bool {
        if NESTING_BLOCKS.contains(&name) {
            self.open.push((name.to_string(), 0));
            self.depth += 1;
        } else if name == "elsif" {
            if let Some((_, elsifs)) = self.open.last_mut() {
                *elsifs += 1;
                self.depth += 1;
            }
        } else if let Some(opened) = name.strip_prefix("end") {
            if self.open.last().is_some_and(|(open, _)| open == opened) {
                if let Some((_, elsifs)) = self.open.pop() {
                    self.depth = self.depth.saturating_sub(1 + elsifs);
                }
            }
        }
        self.depth > crate::liquid::MAX_NESTING
    }
}

struct OpenBlock<'s> {
    name: &'s str,
    extra_endifs: usize,
}

/// One tag's text split around its arguments.
struct TagText<'s> {
    source: &'s str,
    /// Whitespace a trimming delimiter's element takes in, before and after.
    before: &'s str,
    after: &'s str,
    /// `{%` or `{%-`.
    trim_left: bool,
    /// `-%}` or `%}`.
    trim_right: bool,
    /// The tag name, as written.
    name: &'s str,
    /// The arguments (after the name, before the closing delimiter).
    arguments: (usize, usize),
}

impl<'s> TagText<'s> {
    fn new(source: &'s str, start: usize, end: usize, name_end: usize) -> Self {
        // A trimming delimiter's element includes the whitespace it trims.
        let open = source[start..end].find("{%").map_or(start, |p| start + p);
        let close_end = source[start..end].rfind("%}").map_or(end, |p| start + p + 2);
        let trim_right = source[..close_end].ends_with("-%}");
        let close = close_end - if trim_right { 3 } else { 2 };
        let name_start = source[..name_end]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(name_end, |p| p + 1);
        TagText {
            source,
            before: &source[start..open],
            after: &source[close_end..end],
            trim_left: source[open..].starts_with("{%-"),
            trim_right,
            name: &source[name_start..name_end],
            arguments: (name_end, close.max(name_end)),
        }
    }

    fn arguments(&self) -> &'s str {
        &self.source[self.arguments.0..self.arguments.1]
    }

    fn open(&self) -> &'static str {
        if self.trim_left {
            "{%-"
        } else {
            "{%"
        }
    }

    fn close(&self) -> &'static str {
        if self.trim_right {
            "-%}"
        } else {
            "%}"
        }
    }
}

struct Replacement {
    element: usize,
    text: String,
    /// Part of an `elsif` rewrite: only right when the `if` blocks balance.
    needs_balance: bool,
}

#[derive(Default)]
struct Plan {
    replacements: Vec<Replacement>,
    variables: usize,
}

impl Plan {
    /// Operands of comparisons in `tag`'s condition, replaced by variables
    /// assigned just before; `None` when there are none.
    fn lenient_condition(&mut self, tag: &TagText<'_>) -> Option<(String, String)> {
        let arguments = tag.arguments();
        let tokens = tokens(arguments);
        let mut operands: Vec<usize> = Vec::new();
        for (k, &(s, e)) in tokens.iter().enumerate() {
            if OPERATORS.contains(&&arguments[s..e]) {
                operands.extend([k.wrapping_sub(1), k + 1]);
            }
        }
        operands.retain(|&k| k < tokens.len());
        operands.dedup();
        let spans: Vec<(usize, usize)> = operands.iter().map(|&k| tokens[k]).collect();
        self.replace_spans(arguments, &spans)
    }

    /// Each span of `text` that reads a member (see [`dig`]) replaced by a
    /// variable, with the `assign`s that set them; None when there is none.
    fn replace_spans(&mut self, text: &str, spans: &[(usize, usize)]) -> Option<(String, String)> {
        let mut assigns = String::new();
        let mut rewritten = String::with_capacity(text.len());
        let mut copied_to = 0;
        for &(s, e) in spans {
            let Some(read) = dig(&text[s..e]) else {
                continue;
            };
            self.variables += 1;
            let variable = format!("pf_lenient_{}", self.variables);
            assigns.push_str(&format!("{{% assign {variable} = {read} %}}"));
            rewritten.push_str(&text[copied_to..s]);
            rewritten.push_str(&variable);
            copied_to = e;
        }
        if assigns.is_empty() {
            return None;
        }
        rewritten.push_str(&text[copied_to..]);
        Some((assigns, rewritten))
    }

    /// `{{ x | default: a.b }}`: filter arguments take no filters, so each
    /// one that reads a member is read just before the output.
    fn hoist_output_arguments(
        &mut self,
        element: usize,
        source: &str,
        start: usize,
        end: usize,
        value_end: usize,
        chain_end: usize,
    ) {
        let spans: Vec<(usize, usize)> = filter_argument_spans(&source[value_end..chain_end])
            .into_iter()
            .map(|(s, e)| (s + value_end - start, e + value_end - start))
            .collect();
        let text = &source[start..end];
        let Some(open) = text.find("{{") else {
            return;
        };
        let Some((assigns, rewritten)) = self.replace_spans(text, &spans) else {
            return;
        };
        let trim_left = text[open..].starts_with("{{-");
        let assigns = if trim_left {
            assigns.replacen("{%", "{%-", 1)
        } else {
            assigns
        };
        // The output's own left trim moves to the first assign.
        let after_open = open + if trim_left { 3 } else { 2 };
        let output = format!("{}{assigns}{{{{{}", &rewritten[..open], &rewritten[after_open..]);
        self.replacements.push(Replacement {
            element,
            text: output,
            needs_balance: false,
        });
    }

    fn push(&mut self, element: usize, tag: &TagText<'_>, text: String, needs_balance: bool) {
        self.replacements.push(Replacement {
            element,
            text: format!("{}{text}{}", tag.before, tag.after),
            needs_balance,
        });
    }

    /// `{% if a.b == 1 %}` (or `unless`): the reads go just before the tag.
    fn hoist_comparisons(&mut self, element: usize, tag: &TagText<'_>) {
        if let Some((assigns, arguments)) = self.lenient_condition(tag) {
            self.push(element, tag, hoisted(tag, &assigns, &arguments), false);
        }
    }

    /// `{% case a.b %}`: its value (token `k`) read just before the tag.
    fn hoist_operand(&mut self, element: usize, tag: &TagText<'_>, k: usize) {
        let arguments = tag.arguments();
        let tokens = tokens(arguments);
        if k < tokens.len() {
            if let Some((assigns, arguments)) = self.replace_spans(arguments, &[tokens[k]]) {
                self.push(element, tag, hoisted(tag, &assigns, &arguments), false);
            }
        }
    }

    /// `{% for x in a.b limit: 2 %}`: the collection after `in`.
    fn hoist_collection(&mut self, element: usize, tag: &TagText<'_>) {
        let arguments = tag.arguments();
        let tokens = tokens(arguments);
        if tokens.len() >= 3 && &arguments[tokens[1].0..tokens[1].1] == "in" {
            self.hoist_operand(element, tag, 2);
        }
    }

    /// `{% elsif a.b == 1 %}` → `{% else %}{% assign … %}{% if … %}`;
    /// true when rewritten (the chain then needs one more `endif`).
    fn nest_elsif(&mut self, element: usize, tag: &TagText<'_>) -> bool {
        let Some((assigns, arguments)) = self.lenient_condition(tag) else {
            return false;
        };
        let text = format!("{} else %}}{assigns}{{% if{arguments}{}", tag.open(), tag.close());
        self.push(element, tag, text, true);
        true
    }

    /// The `endif` of a chain whose `elsif`s were nested: one per nesting.
    fn close_nested(&mut self, element: usize, tag: &TagText<'_>, extra: usize) {
        let mut text = format!("{} endif %}}", tag.open());
        for _ in 1..extra {
            text.push_str("{% endif %}");
        }
        text.push_str(&format!("{{% endif {}", tag.close()));
        self.push(element, tag, text, true);
    }

    /// `{% assign x = a.b | f: c.d %}`: the value takes filters, so it is
    /// read in place; filter arguments do not, so they are read just
    /// before the tag.
    fn dig_assigned_value(&mut self, element: usize, tag: &TagText<'_>) {
        let arguments = tag.arguments();
        let tokens = tokens(arguments);
        if tokens.len() < 3 || &arguments[tokens[1].0..tokens[1].1] != "=" {
            return;
        }
        let (s, e) = tokens[2];
        let in_place = dig(&arguments[s..e]);
        let spans: Vec<(usize, usize)> = filter_argument_spans(&arguments[e..])
            .into_iter()
            .map(|(a, b)| (a + e, b + e))
            .collect();
        let hoisted_reads = self.replace_spans(arguments, &spans);
        if in_place.is_none() && hoisted_reads.is_none() {
            return;
        }
        let (assigns, arguments) = hoisted_reads.unwrap_or_else(|| (String::new(), arguments.to_string()));
        // The value's span is before every filter argument's, so it is
        // where it was in the rewritten arguments.
        let arguments = match in_place {
            Some(read) => format!("{}{read}{}", &arguments[..s], &arguments[e..]),
            None => arguments,
        };
        self.push(element, tag, hoisted(tag, &assigns, &arguments), false);
    }
}

/// `{% assign … %}…{% name arguments %}`, keeping the tag's trimming on
/// the outside of the pair.
fn hoisted(tag: &TagText<'_>, assigns: &str, arguments: &str) -> String {
    if assigns.is_empty() {
        return format!("{} {}{arguments}{}", tag.open(), tag.name, tag.close());
    }
    let assigns = match tag.trim_left {
        // The first assign trims what the tag would have trimmed.
        true => assigns.replacen("{%", "{%-", 1),
        false => assigns.to_string(),
    };
    format!("{assigns}{{% {}{arguments}{}", tag.name, tag.close())
}

/// Spans, in `chain` (what follows an output's or an `assign`'s value:
/// `| f: a, k: b | g`), of each filter argument's value.
fn filter_argument_spans(chain: &str) -> Vec<(usize, usize)> {
    let bytes = chain.as_bytes();
    // Split points at depth 0 outside quotes: `|` between filters, `:`
    // after a filter's name or a keyword, `,` between arguments.
    let mut spans = Vec::new();
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut in_arguments = false;
    let mut start: Option<usize> = None;
    let close = |start: &mut Option<usize>, end: usize, spans: &mut Vec<(usize, usize)>| {
        if let Some(s) = start.take() {
            let text = &chain[s..end];
            let lead = text.len() - text.trim_start().len();
            let trimmed = text.trim();
            if !trimmed.is_empty() {
                spans.push((s + lead, s + lead + trimmed.len()));
            }
        }
    };
    for (i, &c) in bytes.iter().enumerate() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                continue;
            }
            Some(_) => continue,
            None => {}
        }
        match c {
            b'"' | b'\'' => quote = Some(c),
            b'[' | b'(' => depth += 1,
            b']' | b')' => depth = depth.saturating_sub(1),
            b'|' if depth == 0 => {
                close(&mut start, i, &mut spans);
                in_arguments = false;
            }
            b':' if depth == 0 => {
                // After a filter's name the arguments begin; after a
                // keyword (`k: v`) its value begins.
                in_arguments = true;
                start = Some(i + 1);
            }
            b',' if depth == 0 && in_arguments => {
                close(&mut start, i, &mut spans);
                start = Some(i + 1);
            }
            _ => {}
        }
    }
    if in_arguments {
        close(&mut start, chain.len(), &mut spans);
    }
    spans
}

/// Whitespace-separated tokens of tag arguments, with quotes and brackets
/// kept whole; byte spans into `arguments`.
fn tokens(arguments: &str) -> Vec<(usize, usize)> {
    let bytes = arguments.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let mut depth = 0usize;
        let mut quote: Option<u8> = None;
        while i < bytes.len() {
            let c = bytes[i];
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None => match c {
                    b'"' | b'\'' => quote = Some(c),
                    b'[' | b'(' => depth += 1,
                    b']' | b')' => depth = depth.saturating_sub(1),
                    _ if c.is_ascii_whitespace() && depth == 0 => break,
                    _ => {}
                },
            }
            i += 1;
        }
        tokens.push((start, i));
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn comparisons_read_their_operands_just_before() {
        assert_eq!(
            rewrite("{% if a.b == 'x' and c %}y{% endif %}"),
            "{% assign pf_lenient_1 = nil | pf_dig: \"a\", \"b\" %}{% if pf_lenient_1 == 'x' and c %}y{% endif %}"
        );
        assert_eq!(
            rewrite("{%- unless a[\"b c\"] contains d.e -%}"),
            "{%- assign pf_lenient_1 = nil | pf_dig: \"a\", \"b c\" %}{% assign pf_lenient_2 = nil | pf_dig: \"d\", \"e\" %}\
             {% unless pf_lenient_1 contains pf_lenient_2 -%}"
        );
    }

    #[test]
    fn elsif_is_nested_so_its_operands_are_read_only_when_reached() {
        assert_eq!(
            rewrite("{% if x %}1{%- elsif a.b > 2 -%}2{% else %}3{% endif -%}"),
            "{% if x %}1{%- else %}{% assign pf_lenient_1 = nil | pf_dig: \"a\", \"b\" %}{% if pf_lenient_1 > 2 -%}\
             2{% else %}3{% endif %}{% endif -%}"
        );
    }

    #[test]
    fn case_for_and_assign_read_leniently() {
        assert_eq!(
            rewrite("{% case a.b %}"),
            "{% assign pf_lenient_1 = nil | pf_dig: \"a\", \"b\" %}{% case pf_lenient_1 %}"
        );
        assert_eq!(
            rewrite("{% for i in a.items limit: 2 %}"),
            "{% assign pf_lenient_1 = nil | pf_dig: \"a\", \"items\" %}{% for i in pf_lenient_1 limit: 2 %}"
        );
        assert_eq!(
            rewrite("{%- assign x = a.b.c | default: 1 -%}"),
            "{%- assign x = nil | pf_dig: \"a\", \"b\", \"c\" | default: 1 -%}"
        );
    }

    #[test]
    fn filter_arguments_are_read_just_before_their_output_or_assign() {
        assert_eq!(
            rewrite("a {{- x | default: c.d, k: e[0] | upcase -}} b"),
            "a {%- assign pf_lenient_1 = nil | pf_dig: \"c\", \"d\" %}{% assign pf_lenient_2 = nil | pf_dig: \"e\", 0 %}\
             {{ x | default: pf_lenient_1, k: pf_lenient_2 | upcase -}} b"
        );
        assert_eq!(
            rewrite("{%- assign g = config.gateway | default: context.exports.p.name, 'x' -%}"),
            "{%- assign pf_lenient_1 = nil | pf_dig: \"context\", \"exports\", \"p\", \"name\" %}\
             {% assign g = nil | pf_dig: \"config\", \"gateway\" | default: pf_lenient_1, 'x' -%}"
        );
        for source in [
            "{{ x | default: 'a.b' }}",
            "{{ x | f: 'a|b.c', \"k: v.w\" }}",
            "{{ x | plus: 1 | append: y }}",
            "{% assign x = y | append: z %}",
        ] {
            assert_eq!(rewrite(source), source);
        }
    }

    #[test]
    fn nesting_past_the_limit_fails_to_load_at_its_line() {
        let parser = crate::liquid::parser_builder().build().unwrap();
        let max = crate::liquid::MAX_NESTING;
        let chain = |branches: usize| {
            let mut source = String::from("{% if a.b == 0 %}0\n");
            for n in 1..branches {
                source.push_str(&format!("{{% elsif a.b == {n} %}}{n}\n"));
            }
            source + "{% endif %}"
        };
        let fits = rewrite(&chain(max)).into_owned();
        let globals = liquid_core::object!({"a": {"b": 7}});
        assert_eq!(parser.parse(&fits).unwrap().render(&globals).unwrap().trim(), "7");
        let error = parser
            .parse(&rewrite(&chain(max + 1)))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("nest more than 256 deep"), "{error}");
        assert!(
            error.contains(&format!("{} |", max + 1)),
            "the line of the branch past the limit: {error}"
        );
        let nested = "{% for i in (1..2) %}".repeat(max + 1) + &"{% endfor %}".repeat(max + 1);
        assert!(parser.parse(&rewrite(&nested)).is_err());
        // Deep but closed one after another is fine.
        let siblings = "{% if x %}{% endif %}".repeat(max * 4);
        assert_eq!(rewrite(&siblings), siblings);
    }

    #[test]
    fn everything_else_is_left_alone() {
        for source in [
            "{% if a.b %}{% endif %}",
            "{% if a == 1 %}{% endif %}",
            "{% if a.b==1 %}{% endif %}",
            "{% for i in (1..a.n) %}{% endfor %}",
            "{% assign = base = a.b %}",
            "{% raw %}{% if a.b == 1 %}{% endraw %}",
            "{% comment %}{% if a.b == 1 %}{% endif %}{% endcomment %}",
            "{% if a.b == 1 %}",
        ] {
            let rewritten = rewrite(source);
            let expected_unchanged = !source.starts_with("{% if a.b == 1 %}");
            assert_eq!(rewritten == source, expected_unchanged, "{source}: {rewritten}");
        }
        // Unbalanced blocks: an elsif is not nested (its endif could not
        // be found), the if's own operands still are.
        assert_eq!(
            rewrite("{% if a.b == 1 %}{% elsif c.d == 2 %}"),
            "{% assign pf_lenient_1 = nil | pf_dig: \"a\", \"b\" %}{% if pf_lenient_1 == 1 %}{% elsif c.d == 2 %}"
        );
    }

    /// Where every member exists, the rewrite renders what the source does,
    /// however the chains nest and trim.
    #[test]
    fn rewritten_templates_render_as_written_when_members_exist() {
        let parser = crate::liquid::parser_builder().build().unwrap();
        let globals = liquid_core::object!({"a": {"n": 2, "list": [1, 2, 3], "s": "x y"}, "b": 1});
        let conditions = [
            "a.n == 2",
            "a.n > 5",
            "a.s contains 'y'",
            "b == a.n",
            "a.list.size >= 3",
        ];
        let mut count = 0;
        for (i, first) in conditions.iter().enumerate() {
            for second in conditions.iter().skip(i) {
                for trim in ["", "-"] {
                    let source = format!(
                        " {{%{trim} if {first} {trim}%}} 1 {{%{trim} elsif {second} {trim}%}} 2 \
                         {{% if {second} %}}{{% elsif {first} %}}3{{% endif %}} {{%{trim} else {trim}%}} 4 \
                         {{% endif {trim}%}} {{% for i in a.list limit: 2 %}}{{{{ i }}}}{{% endfor %}} \
                         {{% case a.n %}}{{% when 2 %}}two{{% endcase %}} {{% assign c = a.list.last %}}{{{{ c }}}} \
                         {{{{ a.s | default: a.n | append: a.list[1] }}}} {{% assign d = b | plus: a.list.first %}}{{{{ d }}}}"
                    );
                    let rewritten = rewrite(&source);
                    assert_ne!(rewritten, source);
                    let expected = parser.parse(&source).unwrap().render(&globals).unwrap();
                    let got = parser.parse(&rewritten).unwrap().render(&globals).unwrap();
                    assert_eq!(got, expected, "{source}\n{rewritten}");
                    count += 1;
                }
            }
        }
        assert_eq!(count, 30);
    }
}
