//! `{% redirect_to '/admin/payments', notice: 'Refunded' %}` (or `alert:`):
//! the page answers with a redirect to a path of this site instead of its
//! text, with the message as the next page's flash, as platformOS does.
//! What the template renders after it is discarded.

use std::io::Write;

use liquid_core::{Language, ParseTag, Renderable, TagReflection, TagTokenIter};
use liquid_core::{Result, Runtime, ValueView};

use super::args::{require_host, tag_error, ArgValue, TagArgs};

#[derive(Copy, Clone, Debug, Default)]
pub struct RedirectToTag;

impl TagReflection for RedirectToTag {
    fn tag(&self) -> &'static str {
        "redirect_to"
    }

    fn description(&self) -> &'static str {
        "Answers the page with a redirect: {% redirect_to '/path', notice: 'Saved' %}."
    }
}

const USAGE: &str = "{% redirect_to '/path', notice: 'Saved' %}";

impl ParseTag for RedirectToTag {
    fn parse(&self, mut arguments: TagTokenIter<'_>, options: &Language) -> Result<Box<dyn Renderable>> {
        let mut args = TagArgs::parse(&mut arguments, options)?;
        args.allow_only("redirect_to", &["notice", "alert"])?;
        args.at_most_positional("redirect_to", 1, USAGE)?;
        let notice = args.take_named("notice");
        let alert = args.take_named("alert");
        let Some((_, location)) = args.positional.pop() else {
            return Err(arguments.raise_error(&format!("a path expected; usage: {USAGE}")));
        };
        Ok(Box::new(RedirectTo {
            location,
            notice,
            alert,
        }))
    }

    fn reflection(&self) -> &dyn TagReflection {
        self
    }
}

#[derive(Debug)]
struct RedirectTo {
    location: ArgValue,
    notice: Option<ArgValue>,
    alert: Option<ArgValue>,
}

impl Renderable for RedirectTo {
    fn render_to(&self, _writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let location = self.location.evaluate(runtime)?.to_kstr().to_string();
        let text = |arg: &Option<ArgValue>| -> Result<Option<String>> {
            match arg {
                Some(arg) => {
                    let value = arg.evaluate(runtime)?;
                    Ok(Some(value.to_kstr().to_string()).filter(|t| !t.trim().is_empty()))
                }
                None => Ok(None),
            }
        };
        let notice = text(&self.notice)?;
        let alert = text(&self.alert)?;
        require_host("redirect_to")?
            .redirect_to(&location, notice, alert)
            .map_err(|e| tag_error("redirect_to", e.0))
    }
}

#[cfg(test)]
mod tests {
    use crate::liquid::test_support::{render_err, render_with_host};
    use liquid_core::object;

    #[test]
    fn asks_the_host_to_redirect_with_a_flash() {
        let (out, calls) = render_with_host(
            "a{% redirect_to path, notice: 'Refunded ' | append: n %}b",
            object!({"path": "/admin/payments/7", "n": 2}),
        );
        assert_eq!(out.unwrap(), "ab");
        assert_eq!(
            calls,
            vec!["redirect_to /admin/payments/7 notice=Refunded 2 alert=".to_string()]
        );
    }

    #[test]
    fn needs_a_path_and_takes_only_notice_and_alert() {
        assert!(render_err("{% redirect_to %}", object!({})).contains("a path expected"));
        assert!(render_err("{% redirect_to '/x', status: 301 %}", object!({})).contains("status"));
    }
}
