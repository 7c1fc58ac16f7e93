//! `t` (platformOS's translate filter) over the app's
//! [`Translations`](crate::liquid::translations::Translations):
//!
//! - `{{ 'app.hello' | t: name: 'Ann' }}`: the text at the key, with each
//!   `%{name}` replaced by the argument's text (placeholders without an
//!   argument stay as written);
//! - `locale: 'de'` picks the locale (default: `context.language` when the
//!   page has one, else `en`); a key missing there is looked up in `en`
//!   unless `fallback: false`;
//! - a missing key gives `default:` when given, else the key itself (what
//!   platformOS shows), never an error;
//! - a key naming a hash (or a list, or a number) gives that value.
//!
//! The result is plain text: in an HTML template the page autoescape
//! escapes it like any output (translation and interpolated values alike).
//! To print markup from a translation, add `| html_safe` and escape the
//! interpolated values first (`assign n = name | escape`).

use std::fmt;
use std::sync::Arc;

use liquid_core::model::ScalarCow;
use liquid_core::parser::{FilterArguments, ParameterReflection};
use liquid_core::{Expression, Filter, FilterReflection, ParseFilter, Runtime};
use liquid_core::{Result, Value, ValueView};

use super::filter_error;
use super::text::MAX_TEXT_BYTES;
use crate::liquid::translations::{Translations, FALLBACK_LOCALE};
use crate::liquid::value::json_to_liquid;

/// Arguments one call may pass.
const MAX_ARGUMENTS: usize = 64;

#[derive(Clone)]
pub struct Translate {
    translations: Arc<Translations>,
}

impl Translate {
    pub fn new(translations: Arc<Translations>) -> Translate {
        Translate { translations }
    }
}

impl FilterReflection for Translate {
    fn name(&self) -> &str {
        "t"
    }
    fn description(&self) -> &str {
        "The translation at a key: 'app.hello' | t: name: x, locale: 'de', default: 'Hi'."
    }
    fn positional_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
    fn keyword_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
}

impl ParseFilter for Translate {
    fn parse(&self, mut arguments: FilterArguments) -> Result<Box<dyn Filter>> {
        if arguments.positional.next().is_some() {
            return Err(filter_error("t", "takes only name: value arguments"));
        }
        let keyword: Vec<(String, Expression)> = arguments
            .keyword
            .take(MAX_ARGUMENTS + 1)
            .map(|(name, value)| (name.to_owned(), value))
            .collect();
        if keyword.len() > MAX_ARGUMENTS {
            return Err(filter_error("t", format!("takes at most {MAX_ARGUMENTS} arguments")));
        }
        Ok(Box::new(TranslateCall {
            translations: self.translations.clone(),
            keyword,
        }))
    }

    fn reflection(&self) -> &dyn FilterReflection {
        self
    }
}

struct TranslateCall {
    translations: Arc<Translations>,
    keyword: Vec<(String, Expression)>,
}

impl fmt::Debug for TranslateCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for TranslateCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.keyword.iter().map(|(n, v)| format!("{n}: {v}")).collect();
        write!(f, "t: {}", parts.join(", "))
    }
}

/// `text` with each `%{name}` replaced by its value; unknown names stay.
/// One pass; the text given back is bounded by [`MAX_TEXT_BYTES`] (past
/// that, the text is returned without interpolation).
fn interpolate(text: &str, values: &[(String, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("%{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match values.iter().find(|(n, _)| n == name) {
                    Some((_, value)) => out.push_str(value),
                    None => out.push_str(&rest[start..start + 2 + end + 1]),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
        if out.len() > MAX_TEXT_BYTES {
            return text.to_owned();
        }
    }
    out.push_str(rest);
    out
}

/// The page's language (`context.language`, as platformOS sets it), else
/// [`FALLBACK_LOCALE`].
fn current_locale(runtime: &dyn Runtime) -> String {
    let path = [ScalarCow::new("context"), ScalarCow::new("language")];
    runtime
        .try_get(&path)
        .filter(|value| value.is_scalar() && !value.to_kstr().trim().is_empty())
        .map(|value| value.to_kstr().trim().to_owned())
        .unwrap_or_else(|| FALLBACK_LOCALE.to_owned())
}

impl Filter for TranslateCall {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let key = input.to_kstr().to_string();
        let mut locale = current_locale(runtime);
        let mut default = None;
        let mut fallback = true;
        let mut values = Vec::new();
        for (name, expression) in &self.keyword {
            let value = expression.evaluate(runtime)?.to_value();
            match name.as_str() {
                "locale" if !value.is_nil() => locale = value.to_kstr().to_string(),
                "default" => default = Some(value),
                "fallback" => fallback = value.query_state(liquid_core::model::State::Truthy),
                _ => values.push((
                    name.clone(),
                    if value.is_nil() {
                        String::new()
                    } else {
                        value.to_kstr().to_string()
                    },
                )),
            }
        }
        Ok(match self.translations.find(&locale, &key, fallback) {
            Some(serde_json::Value::String(text)) => Value::scalar(interpolate(text, &values)),
            Some(other) => json_to_liquid(other),
            None => default.unwrap_or_else(|| Value::scalar(key)),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use liquid_core::object;

    use crate::liquid::translations::Translations;

    fn translations() -> Arc<Translations> {
        let mut t = Translations::new();
        t.add_file(
            None,
            "en.yml",
            "en:\n  app:\n    hello: \"Hi %{name}, %{name}! %{unknown} 100%\"\n    title: Payments\n    only_en: English\n    list: [a, b]\n    count: 3\n    tag: \"<b>%{who}</b>\"\n",
        )
        .unwrap();
        t.add_file(None, "de.yml", "de:\n  app:\n    title: Zahlungen\n")
            .unwrap();
        t.add_file(
            Some("stripe"),
            "stripe/en.yml",
            "en:\n  stripe:\n    account:\n      country: Country\n",
        )
        .unwrap();
        Arc::new(t)
    }

    fn render(source: &str, globals: liquid_core::Object) -> String {
        let parser = crate::liquid::dialect_with_translations(liquid::ParserBuilder::with_stdlib(), translations())
            .build()
            .unwrap();
        let html = crate::liquid::autoescape_outputs(source);
        parser.parse(&html).unwrap().render(&globals).unwrap()
    }

    #[test]
    fn interpolates_and_escapes_in_html() {
        assert_eq!(
            render("{{ 'app.hello' | t: name: n }}", object!({"n": "Ann & <i>"})),
            "Hi Ann &amp; &lt;i&gt;, Ann &amp; &lt;i&gt;! %{unknown} 100%"
        );
        assert_eq!(
            render(
                "{{ 'app.tag' | t: who: 'Zoë' }}|{{ 'app.tag' | t: who: 'Zoë' | html_safe }}",
                object!({})
            ),
            "&lt;b&gt;Zoë&lt;/b&gt;|<b>Zoë</b>"
        );
    }

    #[test]
    fn locales_fall_back_to_english() {
        assert_eq!(
            render(
                "{{ 'app.title' | t: locale: 'de' }}|{{ 'app.only_en' | t: locale: 'de' }}|{{ 'app.only_en' | t: locale: 'de', fallback: false }}|{{ 'app.title' | t: locale: nil }}",
                object!({})
            ),
            "Zahlungen|English|app.only_en|Payments"
        );
    }

    #[test]
    fn the_page_language_is_the_default_locale() {
        assert_eq!(
            render(
                "{{ 'app.title' | t }}|{{ 'app.title' | t: locale: 'en' }}|{{ 'app.only_en' | t }}",
                object!({"context": {"language": "de"}})
            ),
            "Zahlungen|Payments|English"
        );
        assert_eq!(
            render("{{ 'app.title' | t }}", object!({"context": {"language": ""}})),
            "Payments"
        );
    }

    #[test]
    fn module_keys_as_the_stripe_partials_write_them() {
        assert_eq!(
            render(
                "{{ 'modules/stripe/stripe.account.' | append: f | t }}|{{ 'stripe.account.country' | t }}",
                object!({"f": "country"})
            ),
            "Country|stripe.account.country"
        );
    }

    #[test]
    fn missing_keys_default_and_non_text_leaves() {
        assert_eq!(
            render(
                "{{ 'app.nope' | t }}|{{ 'app.nope' | t: default: 'Fallback' }}|{{ nil | t }}|{{ 'app' | t | hash_keys | join: ',' }}|{{ 'app.list' | t | join: '+' }}|{{ 'app.count' | t | plus: 1 }}",
                object!({})
            ),
            "app.nope|Fallback||count,hello,list,only_en,tag,title|a+b|4"
        );
    }

    #[test]
    fn without_translations_every_key_shows_itself() {
        assert_eq!(
            crate::liquid::test_support::render("{{ 'app.hello' | t: name: 'x' }}", object!({})),
            "app.hello"
        );
    }

    #[test]
    fn interpolation_edges() {
        let values = vec![("a".to_owned(), "%{a}".to_owned())];
        assert_eq!(super::interpolate("%{a}%{a", &values), "%{a}%{a");
        assert_eq!(super::interpolate("x%{}y", &values), "x%{}y");
        let big = vec![("a".to_owned(), "x".repeat(super::MAX_TEXT_BYTES / 2))];
        assert_eq!(super::interpolate("%{a}%{a}%{a}", &big), "%{a}%{a}%{a}");
    }
}
