//! `{% pf_nesting_limit %}`: put by the load-time rewrite in place of the
//! tag where blocks (and `elsif` branches, which liquid-rust parses one
//! inside the other) nest deeper than the parser's stack allows; parsing
//! it is the error, at that line.

use liquid_core::{Language, ParseTag, Renderable, Result, TagReflection, TagTokenIter};

#[derive(Copy, Clone, Debug, Default)]
pub struct NestingLimitTag;

impl TagReflection for NestingLimitTag {
    fn tag(&self) -> &'static str {
        "pf_nesting_limit"
    }

    fn description(&self) -> &'static str {
        "Marks where a template nests too deep (never written by hand)."
    }
}

impl ParseTag for NestingLimitTag {
    fn parse(&self, mut arguments: TagTokenIter<'_>, _options: &Language) -> Result<Box<dyn Renderable>> {
        Err(arguments.raise_error(&format!(
            "blocks and elsif branches nest more than {} deep here; split the template into partials",
            crate::liquid::MAX_NESTING
        )))
    }

    fn reflection(&self) -> &dyn TagReflection {
        self
    }
}
