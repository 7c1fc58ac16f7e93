//! Template globals as Liquid views over `serde_json::Value`, without
//! copying, and lenient the way platformOS is: reading a key an object does
//! not have (`context.params.page`, `data.email`) or an undefined variable
//! gives nil instead of an error.
//!
//! Values created inside a template (`assign`, tag results) are ordinary
//! liquid values and keep liquid-rust's strictness.

use std::fmt;

use liquid_core::model::{ArrayView, DisplayCow, KStringCow, ScalarCow, State, Value};
use liquid_core::{ObjectView, ValueView};
use ref_cast::RefCast;
use serde_json::{Map, Value as Json};

/// A JSON value seen by Liquid.
#[derive(Debug, RefCast)]
#[repr(transparent)]
pub struct JsonView(Json);

static NIL: JsonView = JsonView(Json::Null);

impl JsonView {
    pub fn new(value: &Json) -> &JsonView {
        JsonView::ref_cast(value)
    }

    fn scalar(&self) -> Option<ScalarCow<'_>> {
        match &self.0 {
            Json::String(s) => Some(ScalarCow::new(s.as_str())),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Some(ScalarCow::new(i)),
                None => n.as_f64().map(ScalarCow::new),
            },
            Json::Bool(b) => Some(ScalarCow::new(*b)),
            _ => None,
        }
    }

    fn is_empty_collection(&self) -> bool {
        match &self.0 {
            Json::Array(items) => items.is_empty(),
            Json::Object(map) => map.is_empty(),
            _ => false,
        }
    }
}

impl ValueView for JsonView {
    fn as_debug(&self) -> &dyn fmt::Debug {
        self
    }

    fn render(&self) -> DisplayCow<'_> {
        match self.scalar() {
            Some(s) => DisplayCow::Owned(Box::new(s.render().to_string())),
            None => DisplayCow::Owned(Box::new(self.to_value().render().to_string())),
        }
    }

    fn source(&self) -> DisplayCow<'_> {
        DisplayCow::Owned(Box::new(self.to_value().source().to_string()))
    }

    fn type_name(&self) -> &'static str {
        match &self.0 {
            Json::Null => "nil",
            Json::Bool(_) => "boolean",
            Json::Number(n) if n.is_i64() || n.is_u64() => "whole number",
            Json::Number(_) => "fractional number",
            Json::String(_) => "string",
            Json::Array(_) => "array",
            Json::Object(_) => "object",
        }
    }

    fn query_state(&self, state: State) -> bool {
        match &self.0 {
            Json::Null => Value::Nil.query_state(state),
            Json::Array(_) | Json::Object(_) => match state {
                State::Truthy => true,
                State::DefaultValue | State::Empty | State::Blank => self.is_empty_collection(),
            },
            _ => self.scalar().map(|s| s.query_state(state)).unwrap_or(false),
        }
    }

    fn to_kstr(&self) -> KStringCow<'_> {
        match self.scalar() {
            Some(s) => KStringCow::from_string(s.to_kstr().as_str().to_string()),
            None if self.0.is_null() => KStringCow::from_static(""),
            None => KStringCow::from_string(self.render().to_string()),
        }
    }

    fn to_value(&self) -> Value {
        crate::liquid::json_to_liquid(&self.0)
    }

    fn as_scalar(&self) -> Option<ScalarCow<'_>> {
        self.scalar()
    }

    fn as_array(&self) -> Option<&dyn ArrayView> {
        self.0.is_array().then_some(self as &dyn ArrayView)
    }

    fn as_object(&self) -> Option<&dyn ObjectView> {
        self.0.is_object().then_some(self as &dyn ObjectView)
    }

    fn is_nil(&self) -> bool {
        self.0.is_null()
    }
}

/// `size` on an object is computed by Liquid when the key is absent, so a
/// missing `size` must stay missing.
fn missing_key(index: &str) -> Option<&'static dyn ValueView> {
    (index != "size").then_some(&NIL as &dyn ValueView)
}

impl ObjectView for JsonView {
    fn as_value(&self) -> &dyn ValueView {
        self
    }

    fn size(&self) -> i64 {
        self.0.as_object().map(|m| m.len() as i64).unwrap_or(0)
    }

    fn keys<'k>(&'k self) -> Box<dyn Iterator<Item = KStringCow<'k>> + 'k> {
        match &self.0 {
            Json::Object(map) => Box::new(map.keys().map(|k| KStringCow::from_ref(k.as_str()))),
            _ => Box::new(std::iter::empty()),
        }
    }

    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        match &self.0 {
            Json::Object(map) => Box::new(map.values().map(|v| JsonView::new(v) as &dyn ValueView)),
            _ => Box::new(std::iter::empty()),
        }
    }

    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        match &self.0 {
            Json::Object(map) => Box::new(
                map.iter()
                    .map(|(k, v)| (KStringCow::from_ref(k.as_str()), JsonView::new(v) as &dyn ValueView)),
            ),
            _ => Box::new(std::iter::empty()),
        }
    }

    fn contains_key(&self, index: &str) -> bool {
        self.0.as_object().is_some_and(|m| m.contains_key(index))
    }

    fn get<'s>(&'s self, index: &str) -> Option<&'s dyn ValueView> {
        match self.0.as_object().and_then(|m| m.get(index)) {
            Some(v) => Some(JsonView::new(v)),
            None => missing_key(index),
        }
    }
}

impl ArrayView for JsonView {
    fn as_value(&self) -> &dyn ValueView {
        self
    }

    fn size(&self) -> i64 {
        self.0.as_array().map(|a| a.len() as i64).unwrap_or(0)
    }

    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        match &self.0 {
            Json::Array(items) => Box::new(items.iter().map(|v| JsonView::new(v) as &dyn ValueView)),
            _ => Box::new(std::iter::empty()),
        }
    }

    fn contains_key(&self, index: i64) -> bool {
        ArrayView::get(self, index).is_some()
    }

    fn get(&self, index: i64) -> Option<&dyn ValueView> {
        let items = self.0.as_array()?;
        let position = if index < 0 { items.len() as i64 + index } else { index };
        usize::try_from(position)
            .ok()
            .and_then(|i| items.get(i))
            .map(|v| JsonView::new(v) as &dyn ValueView)
    }
}

/// The globals of a render: every top-level name exists (undefined ones
/// are nil), so `{{ anything | default: 'x' }}` works.
#[derive(Debug, RefCast)]
#[repr(transparent)]
pub struct Globals(Map<String, Json>);

impl Globals {
    pub fn new(map: &Map<String, Json>) -> &Globals {
        Globals::ref_cast(map)
    }

    fn view(&self) -> &JsonView {
        // A Map is not a Value; the object behaviour is shared through
        // ObjectView below, so this is only used for Debug/render fallbacks.
        &NIL
    }
}

impl ValueView for Globals {
    fn as_debug(&self) -> &dyn fmt::Debug {
        self
    }
    fn render(&self) -> DisplayCow<'_> {
        DisplayCow::Owned(Box::new(String::new()))
    }
    fn source(&self) -> DisplayCow<'_> {
        self.view().source()
    }
    fn type_name(&self) -> &'static str {
        "object"
    }
    fn query_state(&self, state: State) -> bool {
        match state {
            State::Truthy => true,
            _ => self.0.is_empty(),
        }
    }
    fn to_kstr(&self) -> KStringCow<'_> {
        KStringCow::from_static("")
    }
    fn to_value(&self) -> Value {
        Value::Object(crate::liquid::json_map_to_object(&self.0))
    }
    fn as_object(&self) -> Option<&dyn ObjectView> {
        Some(self)
    }
}

impl ObjectView for Globals {
    fn as_value(&self) -> &dyn ValueView {
        self
    }
    fn size(&self) -> i64 {
        self.0.len() as i64
    }
    fn keys<'k>(&'k self) -> Box<dyn Iterator<Item = KStringCow<'k>> + 'k> {
        Box::new(self.0.keys().map(|k| KStringCow::from_ref(k.as_str())))
    }
    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        Box::new(self.0.values().map(|v| JsonView::new(v) as &dyn ValueView))
    }
    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        Box::new(
            self.0
                .iter()
                .map(|(k, v)| (KStringCow::from_ref(k.as_str()), JsonView::new(v) as &dyn ValueView)),
        )
    }
    /// Every name is "defined" at the top level; unknown ones read as nil.
    fn contains_key(&self, _index: &str) -> bool {
        true
    }
    fn get<'s>(&'s self, index: &str) -> Option<&'s dyn ValueView> {
        Some(match self.0.get(index) {
            Some(v) => JsonView::new(v),
            None => &NIL,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(source: &str, globals: Json) -> String {
        let parser = crate::liquid::parser_builder().build().unwrap();
        let template = parser.parse(source).unwrap();
        template.render(Globals::new(globals.as_object().unwrap())).unwrap()
    }

    #[test]
    fn missing_keys_and_variables_are_nil() {
        let g = json!({"context": {"params": {"a": "1"}}});
        assert_eq!(render("[{{ context.params.b }}]", g.clone()), "[]");
        assert_eq!(render("{{ nothing | default: 'd' }}", g.clone()), "d");
        assert_eq!(
            render("{% if context.params.b != blank %}x{% else %}y{% endif %}", g.clone()),
            "y"
        );
        assert_eq!(render("{{ context.params.a }}", g), "1");
    }

    #[test]
    fn values_behave_like_liquid_values() {
        let g = json!({"n": 599, "f": 5.5, "b": false, "s": "ñ", "list": [1, 2, 3], "h": {"k": "v"}, "e": []});
        assert_eq!(
            render(
                "{{ n | plus: 1 }} {{ f }} {{ s }} {% if b %}t{% else %}f{% endif %}",
                g.clone()
            ),
            "600 5.5 ñ f"
        );
        assert_eq!(
            render(
                "{{ list.size }} {{ list.first }} {{ list.last }} {{ list[1] }} {{ h.size }}",
                g.clone()
            ),
            "3 1 3 2 1"
        );
        assert_eq!(render("{% for x in list %}{{ x }}{% endfor %}", g.clone()), "123");
        assert_eq!(
            render("{% for p in h %}{{ p[0] }}={{ p[1] }}{% endfor %}", g.clone()),
            "k=v"
        );
        assert_eq!(
            render(
                "{% if e == empty %}empty{% endif %}{% if h contains 'k' %}has{% endif %}",
                g.clone()
            ),
            "emptyhas"
        );
        assert_eq!(render("{% assign copy = h %}{{ copy.k }}", g), "v");
    }
}
