//! A faithful port of the parts of liquid-core 0.26's pest grammar
//! (`grammar.pest`) that decide where `{{ }}` expressions and `{% %}` tags
//! begin and end.
//!
//! The autoescape rewrite must see exactly the elements liquid-rust's parser
//! will see: if it guessed differently (a `}}` inside a string, an invalid
//! expression that the parser skips one character at a time, a `{% raw %}`
//! that never opens), an output could escape the rewrite. So instead of
//! approximating, this mirrors the PEG rules one by one, including their
//! quirks (e.g. `nil_x` does not parse as a variable because `nil` matches
//! first). Rule names in comments are the grammar's.
//!
//! Positions are byte offsets; every rule starts and ends on ASCII bytes, so
//! all positions returned are UTF-8 character boundaries.

/// One element of `LaxLiquidFile`, with its byte span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Element {
    /// `Raw` or `InvalidLiquid`: text the rewrite copies as is.
    Text,
    /// `Expression`: a valid `{{ filter chain }}`.
    Expression(ExpressionShape),
    /// `Tag`: a valid `{% name tokens %}`.
    Tag(TagShape),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ExpressionShape {
    /// End of the filter chain's last token (before trailing whitespace).
    pub chain_end: usize,
    /// Span of the chain's leading value.
    pub value: (usize, usize),
    /// Name spans of the filters, in order.
    pub filters: Vec<(usize, usize)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TagShape {
    /// Span of the tag's name.
    pub name: (usize, usize),
    /// Whether anything follows the name.
    pub has_arguments: bool,
}

/// Splits `source` into elements exactly as `LaxLiquidFile` does:
/// `(Element | InvalidLiquid)*` with `Element = Expression | Tag | Raw`.
pub(super) fn elements(source: &str) -> Vec<(usize, usize, Element)> {
    let grammar = Grammar { b: source.as_bytes() };
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < grammar.b.len() {
        let (end, element) = if let Some((end, shape)) = grammar.expression(pos) {
            (end, Element::Expression(shape))
        } else if let Some((end, shape)) = grammar.tag(pos) {
            (end, Element::Tag(shape))
        } else if let Some(end) = grammar.raw(pos) {
            (end, Element::Text)
        } else {
            // InvalidLiquid = { !Expression ~ ANY }
            (pos + grammar.char_len(pos), Element::Text)
        };
        out.push((pos, end, element));
        pos = end;
    }
    out
}

struct Grammar<'a> {
    b: &'a [u8],
}

impl Grammar<'_> {
    fn at(&self, p: usize, literal: &str) -> bool {
        self.b.get(p..).is_some_and(|rest| rest.starts_with(literal.as_bytes()))
    }

    fn byte(&self, p: usize) -> Option<u8> {
        self.b.get(p).copied()
    }

    fn char_len(&self, p: usize) -> usize {
        match self.byte(p) {
            Some(b) if b >= 0xF0 => 4,
            Some(b) if b >= 0xE0 => 3,
            Some(b) if b >= 0xC0 => 2,
            _ => 1,
        }
        .min(self.b.len() - p)
    }

    /// WHITESPACE = _{ " " | NEWLINE } (NEWLINE: "\n" | "\r\n" | "\r")
    fn whitespace(&self, p: usize) -> Option<usize> {
        if self.at(p, "\r\n") {
            Some(p + 2)
        } else if self.at(p, " ") || self.at(p, "\n") || self.at(p, "\r") {
            Some(p + 1)
        } else {
            None
        }
    }

    /// WHITESPACE*, also the implicit whitespace of non-atomic rules.
    fn ws(&self, mut p: usize) -> usize {
        while let Some(q) = self.whitespace(p) {
            p = q;
        }
        p
    }

    /// ExpressionStart = _{ (WHITESPACE* ~ "{{-") | "{{" }
    fn expression_start(&self, p: usize) -> Option<usize> {
        let q = self.ws(p);
        if self.at(q, "{{-") {
            Some(q + 3)
        } else if self.at(p, "{{") {
            Some(p + 2)
        } else {
            None
        }
    }

    /// TagStart = _{ (WHITESPACE* ~ "{%-") | "{%" }
    fn tag_start(&self, p: usize) -> Option<usize> {
        let q = self.ws(p);
        if self.at(q, "{%-") {
            Some(q + 3)
        } else if self.at(p, "{%") {
            Some(p + 2)
        } else {
            None
        }
    }

    /// ExpressionEnd = _{ ("-}}" ~ WHITESPACE*) | "}}" }
    fn expression_end(&self, p: usize) -> Option<usize> {
        if self.at(p, "-}}") {
            Some(self.ws(p + 3))
        } else if self.at(p, "}}") {
            Some(p + 2)
        } else {
            None
        }
    }

    /// TagEnd = _{ ("-%}" ~ WHITESPACE*) | "%}" }
    fn tag_end(&self, p: usize) -> Option<usize> {
        if self.at(p, "-%}") {
            Some(self.ws(p + 3))
        } else if self.at(p, "%}") {
            Some(p + 2)
        } else {
            None
        }
    }

    /// Raw = @{ (!(TagStart | ExpressionStart) ~ ANY)+ }
    fn raw(&self, p: usize) -> Option<usize> {
        let mut q = p;
        while q < self.b.len() {
            if self.whitespace(q).is_some() {
                // Every position of a whitespace run reaches the same end,
                // so the run either starts a `{{-`/`{%-` or is all text.
                let run_end = self.ws(q);
                if self.at(run_end, "{{-") || self.at(run_end, "{%-") {
                    break;
                }
                q = run_end;
                continue;
            }
            if self.at(q, "{{") || self.at(q, "{%") {
                break;
            }
            q += self.char_len(q);
        }
        (q > p).then_some(q)
    }

    /// Expression = { ExpressionStart ~ WHITESPACE* ~ ExpressionInner ~
    /// WHITESPACE* ~ ExpressionEnd }, ExpressionInner = !{ FilterChain }
    fn expression(&self, p: usize) -> Option<(usize, ExpressionShape)> {
        let q = self.ws(self.expression_start(p)?);
        let shape = self.filter_chain(q)?;
        let end = self.expression_end(self.ws(shape.chain_end))?;
        Some((end, shape))
    }

    /// Tag = { TagStart ~ WHITESPACE* ~ TagInner ~ WHITESPACE* ~ TagEnd },
    /// TagInner = !{ Identifier ~ TagToken* }
    fn tag(&self, p: usize) -> Option<(usize, TagShape)> {
        let name_start = self.ws(self.tag_start(p)?);
        let name_end = self.identifier(name_start)?;
        let mut last = name_end;
        let mut has_arguments = false;
        while let Some(token_end) = self.tag_token(self.ws(last)) {
            has_arguments = true;
            last = token_end;
        }
        let end = self.tag_end(self.ws(last))?;
        Some((
            end,
            TagShape {
                name: (name_start, name_end),
                has_arguments,
            },
        ))
    }

    /// TagToken = _{ Range | FilterChain | DoubleCharSymbol | SingleCharSymbol }
    fn tag_token(&self, p: usize) -> Option<usize> {
        if let Some(end) = self.range(p) {
            return Some(end);
        }
        if let Some(shape) = self.filter_chain(p) {
            return Some(shape.chain_end);
        }
        for symbol in ["==", "!=", "<>", ">=", "<=", ">", "<", "=", ",", ":"] {
            if self.at(p, symbol) {
                return Some(p + symbol.len());
            }
        }
        None
    }

    /// Range = { "(" ~ Value ~ ".." ~ Value ~ ")" }
    fn range(&self, p: usize) -> Option<usize> {
        if !self.at(p, "(") {
            return None;
        }
        let q = self.value(self.ws(p + 1))?;
        let q = self.ws(q);
        if !self.at(q, "..") {
            return None;
        }
        let q = self.ws(self.value(self.ws(q + 2))?);
        self.at(q, ")").then_some(q + 1)
    }

    /// FilterChain = { Value ~ ("|" ~ Filter)* }
    fn filter_chain(&self, p: usize) -> Option<ExpressionShape> {
        let value_end = self.value(p)?;
        let mut shape = ExpressionShape {
            chain_end: value_end,
            value: (p, value_end),
            filters: Vec::new(),
        };
        loop {
            let q = self.ws(shape.chain_end);
            if !self.at(q, "|") {
                break;
            }
            match self.filter(self.ws(q + 1)) {
                Some((end, name)) => {
                    shape.filters.push(name);
                    shape.chain_end = end;
                }
                None => break,
            }
        }
        Some(shape)
    }

    /// Filter = { Identifier ~ (":" ~ FilterArgument ~ ("," ~ FilterArgument)*)? }
    fn filter(&self, p: usize) -> Option<(usize, (usize, usize))> {
        let name_end = self.identifier(p)?;
        let mut last = name_end;
        let q = self.ws(name_end);
        if self.at(q, ":") {
            if let Some(end) = self.filter_argument(self.ws(q + 1)) {
                last = end;
                loop {
                    let r = self.ws(last);
                    if !self.at(r, ",") {
                        break;
                    }
                    match self.filter_argument(self.ws(r + 1)) {
                        Some(end) => last = end,
                        None => break,
                    }
                }
            }
        }
        Some((last, (p, name_end)))
    }

    /// FilterArgument = _{ KeywordFilterArgument | PositionalFilterArgument },
    /// KeywordFilterArgument = { Identifier ~ ":" ~ Value }
    fn filter_argument(&self, p: usize) -> Option<usize> {
        if let Some(name_end) = self.identifier(p) {
            let q = self.ws(name_end);
            if self.at(q, ":") {
                if let Some(end) = self.value(self.ws(q + 1)) {
                    return Some(end);
                }
            }
        }
        self.value(p)
    }

    /// Value = { Literal | Variable }
    fn value(&self, p: usize) -> Option<usize> {
        self.literal(p).or_else(|| self.variable(p))
    }

    /// Literal = { NilLiteral | EmptyLiteral | BlankLiteral | StringLiteral |
    /// FloatLiteral | IntegerLiteral | BooleanLiteral }
    fn literal(&self, p: usize) -> Option<usize> {
        for word in ["nil", "null", "empty", "blank"] {
            if self.at(p, word) {
                return Some(p + word.len());
            }
        }
        if let Some(end) = self.string_literal(p) {
            return Some(end);
        }
        if let Some(end) = self.float_literal(p) {
            return Some(end);
        }
        if let Some(end) = self.digits(self.sign(p)) {
            return Some(end);
        }
        for word in ["true", "false"] {
            if self.at(p, word) {
                return Some(p + word.len());
            }
        }
        None
    }

    /// StringLiteral = @{ ("'" ~ (!"'" ~ ANY)* ~ "'") | ("\"" ~ (!"\"" ~ ANY)* ~ "\"") }
    fn string_literal(&self, p: usize) -> Option<usize> {
        let quote = self.byte(p).filter(|b| *b == b'\'' || *b == b'"')?;
        let close = self.b.get(p + 1..)?.iter().position(|b| *b == quote)?;
        Some(p + 1 + close + 1)
    }

    /// FloatLiteral = @{ ("+" | "-")? ~ ASCII_DIGIT+ ~ "." ~ ASCII_DIGIT+ }
    fn float_literal(&self, p: usize) -> Option<usize> {
        let q = self.digits(self.sign(p))?;
        if !self.at(q, ".") {
            return None;
        }
        self.digits(q + 1)
    }

    fn sign(&self, p: usize) -> usize {
        if self.at(p, "+") || self.at(p, "-") {
            p + 1
        } else {
            p
        }
    }

    fn digits(&self, p: usize) -> Option<usize> {
        let mut q = p;
        while self.byte(q).is_some_and(|b| b.is_ascii_digit()) {
            q += 1;
        }
        (q > p).then_some(q)
    }

    /// Variable = ${ Identifier ~ (("." ~ Identifier) | ("[" ~ WHITESPACE* ~
    /// Value ~ WHITESPACE* ~ "]"))* }
    fn variable(&self, p: usize) -> Option<usize> {
        let mut q = self.identifier(p)?;
        loop {
            if self.at(q, ".") {
                if let Some(end) = self.identifier(q + 1) {
                    q = end;
                    continue;
                }
            }
            if self.at(q, "[") {
                if let Some(end) = self.value(self.ws(q + 1)) {
                    let r = self.ws(end);
                    if self.at(r, "]") {
                        q = r + 1;
                        continue;
                    }
                }
            }
            return Some(q);
        }
    }

    /// Identifier = @{ (ASCII_ALPHA | "_" | NON_WHITESPACE_CONTROL_HYPHEN) ~
    /// (ASCII_ALPHANUMERIC | "_" | NON_WHITESPACE_CONTROL_HYPHEN)* }
    fn identifier(&self, p: usize) -> Option<usize> {
        let mut q = match self.byte(p) {
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => p + 1,
            _ => self.hyphen(p)?,
        };
        loop {
            match self.byte(q) {
                Some(b) if b.is_ascii_alphanumeric() || b == b'_' => q += 1,
                _ => match self.hyphen(q) {
                    Some(end) => q = end,
                    None => return Some(q),
                },
            }
        }
    }

    /// NON_WHITESPACE_CONTROL_HYPHEN = _{ !"-}}" ~ !"-%}" ~ "-" }
    fn hyphen(&self, p: usize) -> Option<usize> {
        (self.at(p, "-") && !self.at(p, "-}}") && !self.at(p, "-%}")).then_some(p + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<(&str, &'static str)> {
        elements(source)
            .into_iter()
            .map(|(start, end, element)| {
                let kind = match element {
                    Element::Text => "text",
                    Element::Expression(_) => "expr",
                    Element::Tag(_) => "tag",
                };
                (&source[start..end], kind)
            })
            .collect()
    }

    #[test]
    fn splits_text_expressions_and_tags() {
        assert_eq!(
            kinds("a {{ x | f: 'y', k: 1 }} b{% if x %}c{% endif %}"),
            vec![
                ("a ", "text"),
                ("{{ x | f: 'y', k: 1 }}", "expr"),
                (" b", "text"),
                ("{% if x %}", "tag"),
                ("c", "text"),
                ("{% endif %}", "tag"),
            ]
        );
    }

    #[test]
    fn whitespace_control_takes_the_whitespace() {
        assert_eq!(
            kinds("a \n {{- x -}} \n b"),
            vec![("a", "text"), (" \n {{- x -}} \n ", "expr"), ("b", "text")]
        );
        assert_eq!(kinds("{{ x-}}"), vec![("{{ x-}}", "expr")]);
        assert_eq!(kinds("{{ a-b }}"), vec![("{{ a-b }}", "expr")]);
    }

    #[test]
    fn strings_may_hold_delimiters() {
        assert_eq!(kinds("{{ '}}' }}"), vec![("{{ '}}' }}", "expr")]);
        assert_eq!(
            kinds("{% assign a = \"%}\" %}"),
            vec![("{% assign a = \"%}\" %}", "tag")]
        );
    }

    #[test]
    fn invalid_liquid_goes_one_character_at_a_time() {
        assert_eq!(
            kinds("{{ 'a }}{{ x }}"),
            vec![("{", "text"), ("{ 'a }}", "text"), ("{{ x }}", "expr")]
        );
        assert_eq!(kinds("{{ a b }}"), vec![("{", "text"), ("{ a b }}", "text")]);
        assert_eq!(kinds("{{"), vec![("{", "text"), ("{", "text")]);
    }

    #[test]
    fn literal_prefixes_break_variables_like_liquid_does() {
        assert_eq!(kinds("{{ nil_x }}")[0].1, "text");
        assert_eq!(kinds("{{ truely }}")[0].1, "text");
        assert_eq!(kinds("{{ nothing }}")[0].1, "expr");
    }

    #[test]
    fn ranges_brackets_and_symbols_in_tags() {
        assert_eq!(kinds("{% for i in (1..n) %}")[0].1, "tag");
        assert_eq!(kinds("{% if a[b.c][0] >= 1 and x != 'y' %}")[0].1, "tag");
        assert_eq!(kinds("{% if %}")[0].1, "tag");
        assert_eq!(kinds("{% 1 %}")[0].1, "text");
    }

    #[test]
    fn tag_shape_reports_arguments() {
        let elements = elements("{% raw %}{% raw x %}");
        assert!(matches!(
            &elements[0].2,
            Element::Tag(TagShape {
                has_arguments: false,
                ..
            })
        ));
        assert!(matches!(
            &elements[1].2,
            Element::Tag(TagShape {
                has_arguments: true,
                ..
            })
        ));
    }

    #[test]
    fn unicode_text_is_kept_whole() {
        let source = "é{{ 'ü' }}✓{ {%";
        let rebuilt: String = elements(source).iter().map(|(s, e, _)| &source[*s..*e]).collect();
        assert_eq!(rebuilt, source);
    }
}
