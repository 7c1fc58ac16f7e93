//! Translations for the `t` filter, built from platformOS translation files:
//! YAML whose top keys are locales (`en: { app: { hello: "Hi %{name}" } }`).
//!
//! A module's keys are reached with the module prefix platformOS uses:
//! `modules/stripe/public/translations/en.yml` holding
//! `en: { stripe: { account: ... } }` is read as
//! `{{ 'modules/stripe/stripe.account.country' | t }}`.
//!
//! Files are bounded: size ([`MAX_FILE_BYTES`]), nesting
//! ([`MAX_DEPTH`]) and keys over all files ([`MAX_KEYS`]). Later files
//! override the same keys of earlier ones.

use std::collections::HashMap;

use serde_json::{Map, Value as Json};

/// Largest translation file read.
pub const MAX_FILE_BYTES: usize = 1 << 20;
/// Deepest nesting of keys under a locale.
pub const MAX_DEPTH: usize = 16;
/// Most keys (at every level) over all files.
pub const MAX_KEYS: usize = 100_000;

/// The locale tried when a key is missing in the requested one.
pub const FALLBACK_LOCALE: &str = "en";

/// Locale → tree of translations.
#[derive(Debug, Default, Clone)]
pub struct Translations {
    locales: HashMap<String, Map<String, Json>>,
    keys: usize,
}

/// Counts the keys of `tree` and checks its depth, without recursion.
fn measure(tree: &Map<String, Json>) -> Result<usize, String> {
    let mut keys = 0usize;
    let mut stack: Vec<(&Map<String, Json>, usize)> = vec![(tree, 1)];
    while let Some((map, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(format!("keys nest more than {MAX_DEPTH} levels deep"));
        }
        keys += map.len();
        if keys > MAX_KEYS {
            return Err(format!("more than {MAX_KEYS} keys"));
        }
        stack.extend(map.values().filter_map(Json::as_object).map(|child| (child, depth + 1)));
    }
    Ok(keys)
}

/// Merges `from` into `into`: hashes merge key by key, anything else
/// replaces. Depth is bounded by [`MAX_DEPTH`], checked before.
fn merge(into: &mut Map<String, Json>, from: Map<String, Json>) {
    for (key, value) in from {
        match (into.get_mut(&key), value) {
            (Some(Json::Object(existing)), Json::Object(incoming)) => merge(existing, incoming),
            (_, value) => {
                into.insert(key, value);
            }
        }
    }
}

impl Translations {
    pub fn new() -> Translations {
        Translations::default()
    }

    /// Adds one translation file. `module` is the module the file belongs
    /// to (its keys get the `modules/NAME/` prefix), `label_for_errors`
    /// names the file in errors.
    pub fn add_file(&mut self, module: Option<&str>, label_for_errors: &str, yaml_text: &str) -> Result<(), String> {
        let fail = |message: String| format!("{label_for_errors}: {message}");
        if yaml_text.len() > MAX_FILE_BYTES {
            return Err(fail(format!("larger than {MAX_FILE_BYTES} bytes")));
        }
        if yaml_text.trim().is_empty() {
            return Ok(());
        }
        let yaml: serde_yaml::Value = serde_yaml::from_str(yaml_text).map_err(|err| fail(err.to_string()))?;
        let json = serde_json::to_value(&yaml).map_err(|err| fail(format!("not translations: {err}")))?;
        let Json::Object(locales) = json else {
            return Err(fail("expected locales at the top (en: ...)".into()));
        };
        for (locale, tree) in locales {
            let Json::Object(tree) = tree else {
                return Err(fail(format!("{locale}: expected keys under the locale")));
            };
            if locale.is_empty()
                || locale.len() > 16
                || !locale
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(fail(format!("{locale:?} is not a locale")));
            }
            let added = measure(&tree).map_err(|err| fail(format!("{locale}: {err}")))?;
            if self.keys + added > MAX_KEYS {
                return Err(fail(format!("more than {MAX_KEYS} translation keys in all")));
            }
            self.keys += added;
            let tree = match module {
                Some(name) => tree
                    .into_iter()
                    .map(|(key, value)| (format!("modules/{name}/{key}"), value))
                    .collect(),
                None => tree,
            };
            merge(self.locales.entry(locale).or_default(), tree);
        }
        Ok(())
    }

    /// The value at dotted `key` in `locale`, without fallback.
    pub fn lookup(&self, locale: &str, key: &str) -> Option<&Json> {
        let mut parts = key.split('.');
        let mut current = self.locales.get(locale)?.get(parts.next()?)?;
        for part in parts {
            current = current.as_object()?.get(part)?;
        }
        Some(current)
    }

    /// The value at `key` in `locale`, else in [`FALLBACK_LOCALE`] when
    /// `fallback`.
    pub fn find(&self, locale: &str, key: &str, fallback: bool) -> Option<&Json> {
        self.lookup(locale, key).or_else(|| {
            if fallback && locale != FALLBACK_LOCALE {
                self.lookup(FALLBACK_LOCALE, key)
            } else {
                None
            }
        })
    }

    pub fn is_empty(&self) -> bool {
        self.locales.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP_EN: &str = "en:\n  app:\n    hello: \"Hi %{name}\"\n    nested:\n      deep: Deep\n";
    const STRIPE_EN: &str = "en:\n  stripe:\n    account:\n      country: Country\n";

    #[test]
    fn app_and_module_keys() {
        let mut t = Translations::new();
        t.add_file(None, "app/translations/en.yml", APP_EN).unwrap();
        t.add_file(Some("stripe"), "modules/stripe/public/translations/en.yml", STRIPE_EN)
            .unwrap();
        assert_eq!(t.lookup("en", "app.hello").unwrap(), "Hi %{name}");
        assert_eq!(
            t.lookup("en", "modules/stripe/stripe.account.country").unwrap(),
            "Country"
        );
        assert!(t.lookup("en", "stripe.account.country").is_none());
        assert!(t.lookup("en", "app.hello.more").is_none());
        assert!(t.lookup("de", "app.hello").is_none());
        assert_eq!(t.find("de", "app.hello", true).unwrap(), "Hi %{name}");
        assert!(t.find("de", "app.hello", false).is_none());
    }

    #[test]
    fn later_files_merge_and_override() {
        let mut t = Translations::new();
        t.add_file(None, "a", APP_EN).unwrap();
        t.add_file(
            None,
            "b",
            "en:\n  app:\n    hello: Hello\n    bye: Bye\nde:\n  app:\n    hello: Hallo\n",
        )
        .unwrap();
        assert_eq!(t.lookup("en", "app.hello").unwrap(), "Hello");
        assert_eq!(t.lookup("en", "app.nested.deep").unwrap(), "Deep");
        assert_eq!(t.lookup("en", "app.bye").unwrap(), "Bye");
        assert_eq!(t.lookup("de", "app.hello").unwrap(), "Hallo");
    }

    #[test]
    fn hostile_files_are_refused_with_the_label() {
        let mut t = Translations::new();
        let err = t.add_file(None, "x.yml", "en: [1, 2]").unwrap_err();
        assert!(err.starts_with("x.yml: ") && err.contains("expected keys"), "{err}");
        assert!(t
            .add_file(None, "x.yml", "- a\n- b")
            .unwrap_err()
            .contains("expected locales"));
        assert!(t.add_file(None, "x.yml", "en: {a: [}").is_err());
        assert!(t
            .add_file(None, "x.yml", "\"<b>\": {a: b}")
            .unwrap_err()
            .contains("not a locale"));
        let big = format!("en:\n  a: \"{}\"\n", "x".repeat(MAX_FILE_BYTES));
        assert!(t.add_file(None, "x.yml", &big).unwrap_err().contains("larger than"));
        let mut deep = String::from("en:\n");
        for level in 0..=MAX_DEPTH {
            deep.push_str(&format!("{}k:\n", "  ".repeat(level + 1)));
        }
        deep.push_str(&format!("{}k: v\n", "  ".repeat(MAX_DEPTH + 2)));
        assert!(t.add_file(None, "x.yml", &deep).unwrap_err().contains("levels deep"));
        let laughs = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n";
        assert!(t.add_file(None, "x.yml", laughs).is_err());
        assert!(t.is_empty());
    }

    #[test]
    fn key_count_is_bounded_over_all_files() {
        let mut t = Translations::new();
        let mut file = String::from("en:\n");
        for i in 0..MAX_KEYS / 2 + 1 {
            file.push_str(&format!("  k{i}: v\n"));
        }
        t.add_file(None, "a.yml", &file).unwrap();
        let err = t.add_file(None, "b.yml", &file).unwrap_err();
        assert!(err.contains("in all"), "{err}");
    }
}
