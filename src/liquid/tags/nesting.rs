//! How deep partials may nest: `include`, `render` and `function` each
//! enter one level, so a partial that includes itself (directly or through
//! others) stops with an error instead of exhausting the stack.
//!
//! Rendering is synchronous on one thread, so the depth is a thread-local
//! counter; the guard gives the level back even when rendering fails.

use std::cell::Cell;

use liquid_core::Result;

use super::args::tag_error;

/// Partials nested deeper than this are refused. Real templates stay far
/// below (the platformOS modules nest four levels).
pub const MAX_PARTIAL_DEPTH: usize = 24;

thread_local! {
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// One level of partial nesting, held while the partial renders.
#[derive(Debug)]
pub(crate) struct NestingGuard(());

impl Drop for NestingGuard {
    fn drop(&mut self) {
        DEPTH.with(|depth| depth.set(depth.get().saturating_sub(1)));
    }
}

/// Enters one level for `{% tag name %}`, or fails when too deep.
pub(crate) fn enter(tag: &str, name: &str) -> Result<NestingGuard> {
    DEPTH.with(|depth| {
        if depth.get() >= MAX_PARTIAL_DEPTH {
            return Err(tag_error(
                tag,
                format!(
                    "partials nest more than {MAX_PARTIAL_DEPTH} levels deep at {name:?} (does a partial include itself?)"
                ),
            ));
        }
        depth.set(depth.get() + 1);
        Ok(NestingGuard(()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_is_limited_and_given_back() {
        let guards: Vec<_> = (0..MAX_PARTIAL_DEPTH).map(|_| enter("include", "p").unwrap()).collect();
        let err = enter("include", "p/deep").unwrap_err().to_string();
        assert!(err.contains("more than 24 levels") && err.contains("p/deep"), "{err}");
        drop(guards);
        let again = enter("render", "p");
        assert!(again.is_ok());
    }
}
