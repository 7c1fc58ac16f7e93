//! Load-time expansion of platformOS's `{% liquid %}` tag and of
//! `{% echo %}` (and the inline comment `{% # note %}`) into the ordinary
//! tags liquid-rust parses:
//!
//! ```text
//! {%- liquid              {{- nil
//!   # a note                  
//!   assign x = 1      →   }}{% assign x = 1
//!   if x                  %}{% if x
//!     echo x | upcase     %}{{ x | upcase
//!   endif                 }}{% endif -%}
//! -%}
//! ```
//!
//! One statement per line; `echo expr` becomes an output (so the autoescape
//! rewrite escapes it like any `{{ }}`); `#` lines and `comment` ...
//! `endcomment` lines are dropped. Each line's newline stays inside the tag
//! it ends, so every statement keeps its line number for errors, and
//! nothing is written between the tags, so the block outputs no whitespace.
//! The block's own whitespace control (`{%-`, `-%}`) is kept on the first
//! and last tag.
//!
//! The scan is one pass: quoted strings are skipped (so `"%}"` inside a
//! string does not end a tag); `{% raw %}` and `{% comment %}` blocks are
//! copied unchanged; in `#` lines and comment lines quotes mean nothing and
//! the first `%}` ends the tag (as in platformOS). The output grows by a
//! few bytes per line of a `liquid` tag.

use std::borrow::Cow;

/// The expanded source, or the source itself when it has no `liquid`,
/// `echo` or `#` tag.
pub fn expand_liquid_tags(source: &str) -> Cow<'_, str> {
    if !source.contains("{%") || !(source.contains("liquid") || source.contains("echo") || source.contains('#')) {
        return Cow::Borrowed(source);
    }
    let bytes = source.as_bytes();
    let mut out = String::with_capacity(source.len() + source.len() / 8);
    let mut copied = 0;
    let mut i = 0;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'{', b'{') => i = output_end(bytes, i + 2),
            (b'{', b'%') => {
                let head = tag_head(source, i);
                let next = match head.name {
                    "liquid" | "echo" | "#" => {
                        let rewritten = match head.name {
                            "liquid" => expand_block(source, &head),
                            "echo" => expand_echo(source, &head),
                            _ => expand_comment(source, &head),
                        };
                        match rewritten {
                            Some((text, end)) => {
                                out.push_str(&source[copied..i]);
                                out.push_str(&text);
                                copied = end;
                                end
                            }
                            None => bytes.len(),
                        }
                    }
                    "raw" => block_end(source, &head, "raw", "endraw", false),
                    "comment" => block_end(source, &head, "comment", "endcomment", true),
                    _ => tag_end(bytes, head.after_name).map_or(bytes.len(), |end| end.end),
                };
                i = next;
            }
            _ => i += 1,
        }
    }
    if copied == 0 {
        return Cow::Borrowed(source);
    }
    out.push_str(&source[copied..]);
    Cow::Owned(out)
}

/// The start of a tag: `{%`, optional `-`, spaces, then its name.
struct TagHead<'a> {
    trim_before: bool,
    name: &'a str,
    after_name: usize,
}

fn tag_head(source: &str, start: usize) -> TagHead<'_> {
    let bytes = source.as_bytes();
    let mut j = start + 2;
    let trim_before = bytes.get(j) == Some(&b'-');
    if trim_before {
        j += 1;
    }
    while bytes.get(j).is_some_and(u8::is_ascii_whitespace) {
        j += 1;
    }
    let name_start = j;
    if bytes.get(j) == Some(&b'#') {
        j += 1;
    } else {
        while bytes.get(j).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_') {
            j += 1;
        }
    }
    TagHead {
        trim_before,
        name: &source[name_start..j],
        after_name: j,
    }
}

/// Where a tag ends: just after its `%}`; `inner_end` is where its content
/// ends (before `-%}` or `%}`).
struct TagEnd {
    inner_end: usize,
    end: usize,
    trim_after: bool,
}

fn closing_at(bytes: &[u8], percent: usize) -> TagEnd {
    let trim_after = percent > 0 && bytes[percent - 1] == b'-';
    TagEnd {
        inner_end: if trim_after { percent - 1 } else { percent },
        end: percent + 2,
        trim_after,
    }
}

/// The end of a tag starting its scan at `from`, skipping quoted strings.
fn tag_end(bytes: &[u8], from: usize) -> Option<TagEnd> {
    let mut j = from;
    while j + 1 < bytes.len() {
        match bytes[j] {
            quote @ (b'"' | b'\'') => {
                j = bytes[j + 1..].iter().position(|&b| b == quote).map(|p| j + 1 + p + 1)?;
            }
            b'%' if bytes[j + 1] == b'}' => return Some(closing_at(bytes, j)),
            _ => j += 1,
        }
    }
    None
}

/// Just after the `}}` of an output whose content starts at `from`.
fn output_end(bytes: &[u8], from: usize) -> usize {
    let mut j = from;
    while j + 1 < bytes.len() {
        match bytes[j] {
            quote @ (b'"' | b'\'') => match bytes[j + 1..].iter().position(|&b| b == quote) {
                Some(p) => j += p + 2,
                None => return bytes.len(),
            },
            b'}' if bytes[j + 1] == b'}' => return j + 2,
            _ => j += 1,
        }
    }
    bytes.len()
}

/// Just after the tag closing a `raw` or `comment` block opened by `head`
/// (comments nest, raw blocks do not); the end of the source when unclosed.
fn block_end(source: &str, head: &TagHead<'_>, open: &str, close: &str, nests: bool) -> usize {
    let bytes = source.as_bytes();
    let Some(first) = tag_end(bytes, head.after_name) else {
        return bytes.len();
    };
    let mut depth = 1usize;
    let mut i = first.end;
    while i + 1 < bytes.len() {
        if bytes[i] == b'{' && bytes[i + 1] == b'%' {
            let inner = tag_head(source, i);
            let Some(end) = tag_end(bytes, inner.after_name) else {
                return bytes.len();
            };
            if inner.name == close {
                depth -= 1;
                if depth == 0 {
                    return end.end;
                }
            } else if nests && inner.name == open {
                depth += 1;
            } else if nests && inner.name == "raw" {
                i = block_end(source, &inner, "raw", "endraw", false);
                continue;
            }
            i = end.end;
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// `{% echo expr %}` → `{{ expr }}`, same delimiters and whitespace control.
fn expand_echo(source: &str, head: &TagHead<'_>) -> Option<(String, usize)> {
    let end = tag_end(source.as_bytes(), head.after_name)?;
    let expr = &source[head.after_name..end.inner_end];
    let mut text = String::from(if head.trim_before { "{{-" } else { "{{" });
    if expr.trim().is_empty() {
        text.push_str(" ''");
    }
    text.push_str(expr);
    text.push_str(if end.trim_after { "-}}" } else { "}}" });
    Some((text, end.end))
}

/// `{% # note %}` → an output of nothing, keeping the note's newlines.
fn expand_comment(source: &str, head: &TagHead<'_>) -> Option<(String, usize)> {
    let bytes = source.as_bytes();
    let percent = head.after_name + bytes[head.after_name..].windows(2).position(|w| w == b"%}")?;
    let end = closing_at(bytes, percent);
    let newlines = source[head.after_name..end.inner_end].matches('\n').count();
    let mut text = String::from(if head.trim_before { "{{- nil " } else { "{{ nil " });
    text.extend(std::iter::repeat_n('\n', newlines));
    text.push_str(if end.trim_after { "-}}" } else { "}}" });
    Some((text, end.end))
}

#[derive(PartialEq)]
enum PieceKind {
    Tag,
    Output,
}

/// One generated tag or output: its kind and content (statement text and
/// the newlines that follow it).
struct Piece {
    kind: PieceKind,
    body: String,
}

/// Expands a `{% liquid %}` tag; `None` when it is not closed.
fn expand_block(source: &str, head: &TagHead<'_>) -> Option<(String, usize)> {
    let bytes = source.as_bytes();
    let mut pieces: Vec<Piece> = Vec::new();
    let mut comment_depth = 0usize;
    let mut line_start = head.after_name;
    let closing = loop {
        let line_end = bytes[line_start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |p| line_start + p);
        let line = &source[line_start..line_end];
        let trimmed = line.trim();
        let first_word = trimmed.split_ascii_whitespace().next().unwrap_or("");
        let is_comment = comment_depth > 0 || trimmed.starts_with('#');
        // Where `%}` closes the block on this line, if it does.
        let close = if is_comment {
            line.find("%}").map(|p| line_start + p)
        } else {
            line_close(bytes, line_start, line_end)
        };
        let statement_end = close.map_or(line_end, |p| closing_at(bytes, p).inner_end);
        let statement = source[line_start..statement_end.max(line_start)].trim();
        if comment_depth > 0 {
            match first_word {
                "comment" => comment_depth += 1,
                "endcomment" => comment_depth -= 1,
                _ => {}
            }
        } else if !statement.is_empty() && !statement.starts_with('#') {
            match statement.split_ascii_whitespace().next().unwrap_or("") {
                "comment" => comment_depth = 1,
                "echo" => {
                    let expr = statement["echo".len()..].trim();
                    pieces.push(Piece {
                        kind: PieceKind::Output,
                        body: if expr.is_empty() { "''".into() } else { expr.to_owned() },
                    });
                }
                _ => pieces.push(Piece {
                    kind: PieceKind::Tag,
                    body: statement.to_owned(),
                }),
            }
        }
        if let Some(percent) = close {
            break closing_at(bytes, percent);
        }
        if line_end >= bytes.len() {
            return None;
        }
        match pieces.last_mut() {
            Some(piece) => piece.body.push('\n'),
            None => pieces.push(Piece {
                kind: PieceKind::Output,
                body: "nil\n".into(),
            }),
        }
        line_start = line_end + 1;
    };
    if pieces.is_empty() {
        pieces.push(Piece {
            kind: PieceKind::Output,
            body: "nil".into(),
        });
    }
    let last = pieces.len() - 1;
    let mut text = String::new();
    for (index, piece) in pieces.iter().enumerate() {
        let tag = piece.kind == PieceKind::Tag;
        text.push_str(match (tag, index == 0 && head.trim_before) {
            (true, true) => "{%- ",
            (true, false) => "{% ",
            (false, true) => "{{- ",
            (false, false) => "{{ ",
        });
        text.push_str(&piece.body);
        text.push_str(match (tag, index == last && closing.trim_after) {
            (true, true) => " -%}",
            (true, false) => " %}",
            (false, true) => " -}}",
            (false, false) => " }}",
        });
    }
    Some((text, closing.end))
}

/// The `%` of a `%}` on a statement line (outside quoted strings).
fn line_close(bytes: &[u8], start: usize, end: usize) -> Option<usize> {
    let mut j = start;
    let mut quote = None;
    while j < end {
        match (quote, bytes[j]) {
            (Some(q), b) if b == q => quote = None,
            (Some(_), _) => {}
            (None, q @ (b'"' | b'\'')) => quote = Some(q),
            (None, b'%') if bytes.get(j + 1) == Some(&b'}') => return Some(j),
            _ => {}
        }
        j += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::expand_liquid_tags as expand;
    use crate::liquid::test_support::{render, try_render};
    use liquid_core::object;

    fn run(source: &str) -> String {
        render(&expand(source), object!({"items": [1, 2, 3], "name": "Zoë"}))
    }

    #[test]
    fn one_tag_per_line() {
        let source = "a {% liquid\n  assign x = 1\n  if x == 1\n    echo 'one' | upcase\n  endif\n  for i in items\n    echo i\n  endfor\n%} b";
        assert_eq!(run(source), "a ONE123 b");
        assert_eq!(
            expand(source),
            "a {{ nil\n }}{% assign x = 1\n %}{% if x == 1\n %}{{ 'one' | upcase\n }}{% endif\n %}{% for i in items\n %}{{ i\n }}{% endfor\n %} b"
        );
    }

    #[test]
    fn statement_on_the_first_line_and_whitespace_control() {
        assert_eq!(run("a  {%- liquid assign x = name\n echo x -%}  b"), "aZoëb");
        assert_eq!(run("a {%- liquid echo 'x' %} b"), "ax b");
        assert_eq!(run("[{% liquid %}]"), "[]");
    }

    #[test]
    fn comments_and_strings_with_closing_delimiters() {
        let source = "{% liquid\n  # it's a note with a quote\n  assign s = \"%} and -%}\"\n  comment\n   don't \" render\n   comment\n   nested\n   endcomment\n  endcomment\n  echo s\n%}";
        assert_eq!(run(source), "%} and -%}");
    }

    #[test]
    fn line_numbers_of_errors_stay_right() {
        let source = "line 1\n{% liquid\n  assign x = 1\n\n  # note\n  bogus_tag x\n%}";
        let expanded = expand(source);
        assert_eq!(expanded.matches('\n').count(), source.matches('\n').count());
        let err = try_render(&expanded, &[], &object!({})).unwrap_err();
        assert!(err.contains("bogus_tag") && err.contains("--> 6:"), "{err}");
    }

    #[test]
    fn echo_and_inline_comments_outside_a_block() {
        assert_eq!(
            run("{% echo name | upcase %}|{%- echo -%} |{% # note with ' and \" %}x"),
            "ZOË||x"
        );
        assert_eq!(expand("{% # a\nb %}"), "{{ nil \n}}");
    }

    #[test]
    fn raw_comment_outputs_and_other_tags_are_left_alone() {
        for source in [
            "{% raw %}{% liquid echo 1 %}{% endraw %}",
            "{% comment %}{% comment %}{% endcomment %}{% echo 1 %}{% endcomment %}",
            "{{ '{% echo 1 %}' }}",
            "{% assign s = '{% echo 1 %}' %}",
            "no tags at all, # and echo",
        ] {
            assert_eq!(expand(source), source);
        }
        assert_eq!(
            expand("{% raw %}x{% endraw %}{% echo 1 %}"),
            "{% raw %}x{% endraw %}{{ 1 }}"
        );
    }

    #[test]
    fn unclosed_blocks_are_left_for_the_parser_to_reject() {
        for source in [
            "{% liquid assign x = 1",
            "{% echo 'x",
            "{% # note",
            "{% liquid\n echo 'a %}",
        ] {
            let expanded = expand(source);
            assert!(
                try_render(&expanded, &[], &object!({})).is_err(),
                "{source} -> {expanded}"
            );
        }
    }

    #[test]
    fn large_inputs_expand_in_one_pass() {
        let body = "  assign x = x | append: '%}'\n".repeat(20_000);
        let source = format!("{{% liquid\n  assign x = ''\n{body}  echo x | size\n%}}");
        let started = std::time::Instant::now();
        let expanded = expand(&source);
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert!(expanded.len() < source.len() * 2);
        let unclosed = "{% liquid\n".repeat(20_000);
        let started = std::time::Instant::now();
        let _ = expand(&unclosed);
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}
