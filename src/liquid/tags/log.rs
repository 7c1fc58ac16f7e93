//! `{% log value, type: 'debug' %}`: sends the value (text as is, anything
//! else as JSON) to the host's log at the given level (default `info`).
//! Without a host (e.g. a unit test) it goes to `tracing`.

use std::io::Write;

use liquid_core::{Language, ParseTag, Renderable, TagReflection, TagTokenIter};
use liquid_core::{Result, Runtime, ValueView};

use super::args::{ArgValue, TagArgs};
use crate::liquid::host::current_host;
use crate::liquid::value::liquid_to_json;

#[derive(Copy, Clone, Debug, Default)]
pub struct LogTag;

impl TagReflection for LogTag {
    fn tag(&self) -> &'static str {
        "log"
    }

    fn description(&self) -> &'static str {
        "Logs a value: {% log value, type: 'debug' %}."
    }
}

const USAGE: &str = "{% log value, type: 'info' %}";

impl ParseTag for LogTag {
    fn parse(&self, mut arguments: TagTokenIter<'_>, options: &Language) -> Result<Box<dyn Renderable>> {
        let mut args = TagArgs::parse(&mut arguments, options)?;
        args.allow_only("log", &["type"])?;
        args.at_most_positional("log", 1, USAGE)?;
        let level = args.take_named("type");
        let Some((_, value)) = args.positional.pop() else {
            return Err(arguments.raise_error(&format!("value expected; usage: {USAGE}")));
        };
        Ok(Box::new(Log { value, level }))
    }

    fn reflection(&self) -> &dyn TagReflection {
        self
    }
}

#[derive(Debug)]
struct Log {
    value: ArgValue,
    level: Option<ArgValue>,
}

impl Renderable for Log {
    fn render_to(&self, _writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let value = self.value.evaluate(runtime)?;
        let message = if value.is_scalar() {
            value.to_kstr().to_string()
        } else {
            liquid_to_json(&value).to_string()
        };
        // A template may log what it holds (a request template holds the
        // Stripe keys): whatever is shaped like a secret or a card number
        // never reaches the log.
        let message = crate::redact::redact(&message, &[]);
        let level = match &self.level {
            Some(level) => level.evaluate(runtime)?.to_kstr().trim().to_string(),
            None => String::new(),
        };
        // platformOS's `type:` is a label (`type: 'payments/charge'`); a
        // level name (debug, info, warn, error) sets the level instead.
        let lowered = level.to_ascii_lowercase();
        let (level, message) = match lowered.as_str() {
            "" => ("info", message),
            "debug" | "info" | "warn" | "warning" | "error" => (lowered.as_str(), message),
            _ => ("info", format!("[{}] {message}", label_text(&level))),
        };
        match current_host() {
            Some(host) => host.log(&message, level),
            None => match level {
                "debug" => tracing::debug!(target: "payforms::liquid", "{message}"),
                "warn" | "warning" => tracing::warn!(target: "payforms::liquid", "{message}"),
                "error" => tracing::error!(target: "payforms::liquid", "{message}"),
                _ => tracing::info!(target: "payforms::liquid", "{message}"),
            },
        }
        Ok(())
    }
}

/// A `type:` label as logged: one line, bounded.
fn label_text(label: &str) -> String {
    label.chars().filter(|c| !c.is_control()).take(100).collect()
}

#[cfg(test)]
mod tests {
    use crate::liquid::test_support::{render, render_err, render_with_host};
    use liquid_core::object;

    #[test]
    fn logs_text_and_json_at_levels() {
        let (out, calls) = render_with_host(
            "a{% log 'hé ✓', type: 'debug' %}{% log h %}{% log n, type: 'ERROR' %}{% log missing %}b",
            object!({"h": {"k": [1, nil]}, "n": 5}),
        );
        assert_eq!(out.unwrap(), "ab");
        assert_eq!(
            calls,
            vec![
                "log debug hé ✓".to_string(),
                "log info {\"k\":[1,null]}".to_string(),
                "log error 5".to_string(),
                "log info null".to_string(),
            ]
        );
    }

    #[test]
    fn a_platformos_type_label_prefixes_the_message() {
        let (_, calls) = render_with_host("{% log 'paid', type: 'modules/payments/create_charge' %}", object!({}));
        assert_eq!(
            calls,
            vec!["log info [modules/payments/create_charge] paid".to_string()]
        );
    }

    #[test]
    fn logs_filtered_values() {
        let (_, calls) = render_with_host("{% log x | upcase %}", object!({"x": "é"}));
        assert_eq!(calls, vec!["log info É".to_string()]);
    }

    #[test]
    fn without_host_logging_does_not_fail() {
        assert_eq!(render("{% log 'x', type: 'warn' %}ok", object!({})), "ok");
    }

    #[test]
    fn usage_errors() {
        assert!(render_err("{% log %}", object!({})).contains("value expected"));
        assert!(render_err("{% log a, b %}", object!({})).contains("unexpected"));
        assert!(render_err("{% log a, level: 'x' %}", object!({})).contains("unknown argument"));
    }
}
