//! Custom model types: `schema/*.yml` files naming a model's properties and
//! their types. Parsing reports every problem as `file:line: message`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::LoadProblem;

/// The type of a property (kept beside the typing rules, which need it).
pub use super::typing::PropertyType;

/// The request log: one record per gateway call, written by the runtime.
pub const GATEWAY_REQUEST_MODEL: &str = "modules/payments/gateway_request";
/// Notifications payforms signs and sends to the merchant's configured URLs.
pub const MERCHANT_DELIVERY_MODEL: &str = "modules/payments/merchant_delivery";
/// Stripe webhook endpoints payforms subscribed (their signing secrets inside).
pub const WEBHOOK_ENDPOINT_MODEL: &str = "modules/payments/webhook_endpoint";

/// Models the runtime keeps for itself: readable through the API, never
/// writable there, since writing them would forge logs, signed
/// notifications or webhook secrets.
pub const SYSTEM_MODELS: [&str; 3] = [GATEWAY_REQUEST_MODEL, MERCHANT_DELIVERY_MODEL, WEBHOOK_ENDPOINT_MODEL];

pub fn is_system_model(name: &str) -> bool {
    SYSTEM_MODELS.contains(&name)
}

/// payforms' own definitions of its system models: the files it ships in
/// `modules/payments/schema`, built in so an app cannot change their shape.
const SYSTEM_SCHEMAS: [(&str, &str); 3] = [
    (
        GATEWAY_REQUEST_MODEL,
        include_str!("../../modules/payments/schema/gateway_request.yml"),
    ),
    (
        MERCHANT_DELIVERY_MODEL,
        include_str!("../../modules/payments/schema/merchant_delivery.yml"),
    ),
    (
        WEBHOOK_ENDPOINT_MODEL,
        include_str!("../../modules/payments/schema/webhook_endpoint.yml"),
    ),
];

/// What the runtime writes to `declared` (an app's schema for a system
/// model) must stay writable: an app that brings its own
/// `modules/payments` (platformOS's payments module has a
/// `gateway_request` and a `webhook_endpoint` of its own) would otherwise
/// turn off payforms' request log or its webhook endpoints. payforms'
/// properties are kept as payforms declares them; the app's other
/// properties are added. Returns the model and, when the declaration
/// differs from payforms', a warning saying what was kept.
pub fn keep_system_properties(declared: ModelType) -> (ModelType, Option<LoadProblem>) {
    let Some((_, text)) = SYSTEM_SCHEMAS.iter().find(|(name, _)| *name == declared.name) else {
        return (declared, None);
    };
    let Ok(own) = ModelType::parse(Path::new("payforms"), &declared.name, text) else {
        return (declared, None);
    };
    let same = |a: &PropertyDef, b: &PropertyDef| {
        a.name == b.name
            && a.kind == b.kind
            && a.unique == b.unique
            && a.index == b.index
            && a.forward_only == b.forward_only
            && a.final_values == b.final_values
    };
    let identical = own.properties.len() == declared.properties.len()
        && own.properties.iter().zip(&declared.properties).all(|(a, b)| same(a, b))
        && own.ordered_by == declared.ordered_by;
    if identical {
        return (declared, None);
    }
    let mut properties: Vec<PropertyDef> = own
        .properties
        .iter()
        .map(|property| PropertyDef {
            line: declared
                .property(&property.name)
                .map_or(declared.properties_line, |p| p.line),
            ..property.clone()
        })
        .collect();
    let mut overridden: Vec<&str> = Vec::new();
    for property in &declared.properties {
        match own.property(&property.name) {
            Some(kept) if !same(kept, property) => overridden.push(&property.name),
            Some(_) => {}
            None => properties.push(property.clone()),
        }
    }
    let added: Vec<&str> = properties[own.properties.len()..]
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    let list = |names: &[&str]| {
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    let warning = LoadProblem::new(
        &declared.file,
        declared.properties_line.max(1),
        format!(
            "`{}` is payforms' own model: its properties are kept as payforms declares them ({}); \
             added from this file: {}; declared differently here and kept as payforms': {}",
            declared.name,
            list(&own.properties.iter().map(|p| p.name.as_str()).collect::<Vec<_>>()),
            list(&added),
            list(&overridden),
        ),
    );
    let merged = ModelType {
        properties,
        ordered_by: own.ordered_by.clone(),
        statements: StatementText::default(),
        ..declared
    };
    (merged, Some(warning))
}

/// Names every record already has; a property may not shadow them.
const RESERVED: [&str; 5] = ["id", "created_at", "updated_at", "livemode", "merchant"];

/// Reserved columns a platformOS schema may declare with the same type:
/// such a declaration is ignored with a warning.
const OWN_COLUMNS: [(&str, PropertyType); 3] = [
    ("livemode", PropertyType::Boolean),
    ("created_at", PropertyType::Datetime),
    ("updated_at", PropertyType::Datetime),
];

/// Tables the runtime keeps for itself; a model may not be stored in them.
pub const RUNTIME_TABLES: [&str; 9] = [
    "records",
    "record_values",
    "record_uniques",
    "form_submissions",
    "webhook_events",
    "settings_kv",
    "model_tables",
    "model_columns",
    "schema_changes",
];

/// PostgreSQL truncates longer identifiers; refuse them instead.
pub const MAX_IDENTIFIER_BYTES: usize = 63;

#[derive(Debug, Clone, PartialEq)]
pub struct ModelType {
    /// Full name, e.g. `modules/payments/payment`.
    pub name: String,
    pub properties: Vec<PropertyDef>,
    /// The schema file, relative to the app root (for messages).
    pub file: PathBuf,
    /// The property ordering writes of one record (`ordered_by:`): a write
    /// carrying a smaller value than the stored one is not made.
    pub ordered_by: Option<String>,
    /// Line of the `properties:` key (where a removed property was).
    pub properties_line: usize,
    /// Statement text built from the fields above on first use (a model is
    /// not changed once parsed).
    pub(crate) statements: StatementText,
}

/// Statement text that depends only on the model: the SQLite row
/// expression (one `json_object` pair per column) and the insert's head.
/// Each keyed write used to format both again, inside the SQLite write
/// lock; now they are built once per model and app version.
#[derive(Default)]
pub(crate) struct StatementText {
    pub(crate) sqlite_row_json: std::sync::OnceLock<String>,
    pub(crate) insert_head: std::sync::OnceLock<String>,
}

impl std::fmt::Debug for StatementText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StatementText")
    }
}

/// A copy builds its own: the text follows from the model's fields.
impl Clone for StatementText {
    fn clone(&self) -> Self {
        StatementText::default()
    }
}

/// Derived from the model's other fields, so it never tells two models apart.
impl PartialEq for StatementText {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PropertyDef {
    pub name: String,
    pub kind: PropertyType,
    pub unique: bool,
    /// `index: true`: filtering on it reads an index.
    pub index: bool,
    /// `forward_only:`: once the property holds one of these values, a write
    /// may only move it to a later one (or to a final value).
    pub forward_only: Vec<serde_json::Value>,
    /// `final:`: once the property holds one of these, it never changes.
    pub final_values: Vec<serde_json::Value>,
    /// Line of the property's entry, and of its `type:` (for messages).
    pub line: usize,
}

impl PropertyDef {
    /// Does a write have rules to pass before changing this property?
    pub fn has_state_rules(&self) -> bool {
        !self.forward_only.is_empty() || !self.final_values.is_empty()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    name: Option<String>,
    #[serde(default)]
    properties: Option<Vec<RawProperty>>,
    ordered_by: Option<String>,
}

#[derive(Deserialize, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct RawProperty {
    name: String,
    #[serde(rename = "type")]
    kind: PropertyType,
    #[serde(default)]
    unique: bool,
    #[serde(default)]
    index: bool,
    #[serde(default)]
    forward_only: Vec<serde_json::Value>,
    #[serde(default, rename = "final")]
    final_values: Vec<serde_json::Value>,
}

impl ModelType {
    /// `modules/payments/payment` -> `payment`.
    pub fn short_name(&self) -> &str {
        self.name.rsplit('/').next().unwrap_or(&self.name)
    }

    pub fn property(&self, name: &str) -> Option<&PropertyDef> {
        self.properties.iter().find(|p| p.name == name)
    }

    /// The table its records live in: the short name (`payment`).
    pub fn table(&self) -> &str {
        self.short_name()
    }

    /// Parse a schema file. `file` is the path shown in messages and
    /// `full_name` the name the loader derived from the path; a `name:` key,
    /// when present, must equal its last segment.
    pub fn parse(file: &Path, full_name: &str, text: &str) -> Result<ModelType, Vec<LoadProblem>> {
        Self::parse_with_warnings(file, full_name, text).map(|(model, _)| model)
    }

    /// [`ModelType::parse`], also answering what platformOS tolerates and
    /// payforms only warns about: a property declared twice alike (the
    /// first is used), and a declaration of a column every record already
    /// has with that column's type (`livemode: boolean`; ignored).
    pub fn parse_with_warnings(
        file: &Path,
        full_name: &str,
        text: &str,
    ) -> Result<(ModelType, Vec<LoadProblem>), Vec<LoadProblem>> {
        let mut warnings = Vec::new();
        let problem = |line: usize, message: String| LoadProblem::new(file, line, message);
        if text.trim().is_empty() {
            return Err(vec![problem(
                1,
                "the schema file is empty; it needs `properties`".into(),
            )]);
        }
        let raw: RawModel = serde_yaml::from_str(text).map_err(|e| {
            let line = e.location().map(|l| l.line()).unwrap_or(1);
            vec![problem(line, format!("invalid model schema: {}", yaml_message(&e)))]
        })?;

        let mut problems = Vec::new();
        let short = full_name.rsplit('/').next().unwrap_or(full_name);
        if !is_identifier(short) || short.len() > MAX_IDENTIFIER_BYTES {
            problems.push(problem(
                1,
                format!(
                    "model name `{short}` names its table: it must be letters, digits and underscores, \
                     not starting with a digit, at most {MAX_IDENTIFIER_BYTES} bytes (rename the file)"
                ),
            ));
        } else if RUNTIME_TABLES.contains(&short) || short.starts_with("sqlite_") || short.starts_with("pg_") {
            problems.push(problem(
                1,
                format!("model name `{short}` is the name of one of payforms' own tables; rename the file"),
            ));
        }
        if let Some(name) = &raw.name {
            if name != short {
                problems.push(problem(
                    top_level_key_line(text, "name"),
                    format!("`name: {name}` does not match the file name `{short}`"),
                ));
            }
        }

        let mut properties: Vec<PropertyDef> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut first_definitions: HashMap<String, RawProperty> = HashMap::new();
        for raw_property in raw.properties.unwrap_or_default() {
            let name = raw_property.name.clone();
            let count = seen.entry(name.clone()).or_insert(0);
            let occurrence = *count;
            *count += 1;
            let line = property_line(text, &name, occurrence);
            if occurrence > 0 {
                let first_line = property_line(text, &name, 0);
                if first_definitions.get(&name) == Some(&raw_property) {
                    warnings.push(problem(
                        line,
                        format!(
                            "property `{name}` is defined twice alike (first at line {first_line}); the first is used"
                        ),
                    ));
                } else {
                    problems.push(problem(
                        line,
                        format!(
                            "property `{name}` is defined twice, differently (first at line {first_line}): platformOS \
                             keeps the last one, payforms asks you to keep one"
                        ),
                    ));
                }
                continue;
            }
            first_definitions.insert(name.clone(), raw_property.clone());
            if let Some(own) = OWN_COLUMNS
                .iter()
                .find(|(column, kind)| *column == name && *kind == raw_property.kind)
            {
                warnings.push(problem(
                    line,
                    format!(
                        "property `{name}` is a column every record already has ({}, set by payforms); \
                         this declaration is ignored",
                        own.1
                    ),
                ));
                continue;
            }
            if name.len() > MAX_IDENTIFIER_BYTES {
                problems.push(problem(
                    line,
                    format!("property name `{name}` is longer than {MAX_IDENTIFIER_BYTES} bytes"),
                ));
            } else if !is_identifier(&name) {
                problems.push(problem(
                    line,
                    format!(
                        "property name `{name}` must be letters, digits and underscores, not starting with a digit"
                    ),
                ));
            } else if RESERVED.contains(&name.as_str()) {
                problems.push(problem(
                    line,
                    format!("property name `{name}` is reserved (every record has it)"),
                ));
            }
            let kind = raw_property.kind;
            let forward_only =
                state_values(kind, &raw_property.forward_only, "forward_only", &name).unwrap_or_else(|message| {
                    problems.push(problem(line, message));
                    Vec::new()
                });
            let final_values =
                state_values(kind, &raw_property.final_values, "final", &name).unwrap_or_else(|message| {
                    problems.push(problem(line, message));
                    Vec::new()
                });
            if let Some(both) = forward_only.iter().find(|v| final_values.contains(v)) {
                problems.push(problem(
                    line,
                    format!("`{both}` is both in `forward_only` and `final` of `{name}`"),
                ));
            }
            properties.push(PropertyDef {
                name,
                kind,
                unique: raw_property.unique,
                index: raw_property.index,
                forward_only,
                final_values,
                line,
            });
        }
        if let Some(key) = &raw.ordered_by {
            let ordering = properties.iter().find(|p| &p.name == key);
            match ordering.map(|p| p.kind) {
                Some(PropertyType::Integer | PropertyType::Float | PropertyType::Datetime) => {}
                Some(kind) => problems.push(problem(
                    top_level_key_line(text, "ordered_by"),
                    format!("`ordered_by: {key}` must name an integer, float or datetime property, not a {kind}"),
                )),
                None => problems.push(problem(
                    top_level_key_line(text, "ordered_by"),
                    format!("`ordered_by: {key}` names no property of this model"),
                )),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let model = ModelType {
            name: full_name.to_string(),
            properties,
            file: file.to_path_buf(),
            ordered_by: raw.ordered_by,
            properties_line: top_level_key_line(text, "properties"),
            statements: StatementText::default(),
        };
        Ok((model, warnings))
    }
}

/// The values of a `forward_only` or `final` list, typed as the property
/// stores them (so `"1"` and `1` are one state of an integer).
fn state_values(
    kind: PropertyType,
    raw: &[serde_json::Value],
    key: &str,
    property: &str,
) -> Result<Vec<serde_json::Value>, String> {
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    if !matches!(
        kind,
        PropertyType::String | PropertyType::Integer | PropertyType::Boolean
    ) {
        return Err(format!(
            "`{key}` needs a string, integer or boolean property; `{property}` is a {kind}"
        ));
    }
    let mut values: Vec<serde_json::Value> = Vec::with_capacity(raw.len());
    for value in raw {
        let typed = match super::typing::coerce(kind, value) {
            Ok(v) if !v.is_null() => v,
            _ => {
                return Err(format!(
                    "`{key}` of `{property}` holds `{value}`, which is not a {kind}"
                ))
            }
        };
        if values.contains(&typed) {
            return Err(format!("`{key}` of `{property}` lists `{value}` twice"));
        }
        values.push(typed);
    }
    Ok(values)
}

/// serde_yaml appends " at line X column Y" to its messages; the line is
/// reported separately.
fn yaml_message(error: &serde_yaml::Error) -> String {
    let message = error.to_string();
    match message.find(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message,
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => chars.all(|c| c.is_ascii_alphanumeric() || c == '_'),
        _ => false,
    }
}

/// Line (1-based) of a top-level `key:`; 1 if not found.
fn top_level_key_line(text: &str, key: &str) -> usize {
    text.lines()
        .position(|line| {
            line.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map_or(1, |i| i + 1)
}

/// Line of the `occurrence`-th (0-based) nested `name: NAME` entry; falls
/// back to the `properties:` key, then line 1.
fn property_line(text: &str, name: &str, occurrence: usize) -> usize {
    let matches = text.lines().enumerate().filter(|(_, line)| {
        if !line.starts_with([' ', '\t', '-']) {
            return false;
        }
        // Block style (`- name: x`) or flow style (`- { name: x, type: .. }`).
        let entry = line.trim_start().trim_start_matches('-').trim_start();
        let entry = entry.strip_prefix('{').map_or(entry, str::trim_start);
        let Some(value) = entry.strip_prefix("name").map(str::trim_start) else {
            return false;
        };
        let Some(value) = value.strip_prefix(':') else {
            return false;
        };
        let value = value.split(" #").next().unwrap_or("");
        let value = value.split([',', '}']).next().unwrap_or("").trim();
        value.trim_matches(|c| c == '"' || c == '\'') == name
    });
    match matches.map(|(i, _)| i + 1).nth(occurrence) {
        Some(line) => line,
        None => top_level_key_line(text, "properties"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_app_s_system_model_keeps_payforms_properties_and_adds_its_own() {
        let file = Path::new("modules/payments/public/custom_model_types/gateway_request.yml");
        let shipped = SYSTEM_SCHEMAS[0].1;
        let own = ModelType::parse(file, GATEWAY_REQUEST_MODEL, shipped).unwrap();
        let (kept, warning) = keep_system_properties(own.clone());
        assert_eq!(kept, own);
        assert!(warning.is_none(), "payforms' own file is not a change");

        let platformos =
            "name: gateway_request\nproperties:\n- name: data\n  type: string\n- name: status\n  type: string\n";
        let declared = ModelType::parse(file, GATEWAY_REQUEST_MODEL, platformos).unwrap();
        let (merged, warning) = keep_system_properties(declared);
        let names: Vec<&str> = merged.properties.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            &names[..own.properties.len()],
            own.properties.iter().map(|p| p.name.as_str()).collect::<Vec<_>>()
        );
        assert_eq!(names.last(), Some(&"data"));
        assert_eq!(
            merged.property("status").map(|p| p.kind),
            Some(PropertyType::Integer),
            "payforms' type wins"
        );
        let warning = warning.expect("a warning");
        assert_eq!(warning.file, file);
        assert!(
            warning.message.contains("added from this file: data;"),
            "{}",
            warning.message
        );
        assert!(
            warning.message.ends_with("kept as payforms': status"),
            "{}",
            warning.message
        );

        let other = ModelType::parse(
            Path::new("schema/payment.yml"),
            "modules/payments/payment",
            platformos.replace("gateway_request", "payment").as_str(),
        )
        .unwrap();
        let (same, none) = keep_system_properties(other.clone());
        assert_eq!(same, other);
        assert!(none.is_none());
    }

    fn parse(text: &str) -> Result<ModelType, Vec<LoadProblem>> {
        ModelType::parse(Path::new("schema/payment.yml"), "modules/payments/payment", text)
    }

    fn only_problem(text: &str) -> LoadProblem {
        let problems = parse(text).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        problems.into_iter().next().unwrap()
    }

    #[test]
    fn parses_every_type_and_unique() {
        let model = parse(
            "name: payment\nproperties:\n  - name: gateway_id\n    type: string\n    unique: true\n  - name: amount\n    type: integer\n  - name: rate\n    type: float\n  - name: paid\n    type: boolean\n  - name: paid_at\n    type: datetime\n  - name: raw\n    type: json\n  - name: tags\n    type: array\n",
        )
        .unwrap();
        assert_eq!(model.name, "modules/payments/payment");
        assert_eq!(model.short_name(), "payment");
        assert_eq!(model.file, PathBuf::from("schema/payment.yml"));
        let kinds: Vec<PropertyType> = model.properties.iter().map(|p| p.kind).collect();
        assert_eq!(
            kinds,
            [
                PropertyType::String,
                PropertyType::Integer,
                PropertyType::Float,
                PropertyType::Boolean,
                PropertyType::Datetime,
                PropertyType::Json,
                PropertyType::Array
            ]
        );
        assert!(model.property("gateway_id").unwrap().unique);
        assert!(!model.property("amount").unwrap().unique);
        assert!(model.property("missing").is_none());
    }

    #[test]
    fn name_key_is_optional_and_properties_may_be_empty() {
        let model = parse("properties: []\n").unwrap();
        assert!(model.properties.is_empty());
        let model = parse("name: payment\n").unwrap();
        assert!(model.properties.is_empty());
        let model = parse("properties:\n").unwrap();
        assert!(model.properties.is_empty());
    }

    #[test]
    fn short_name_of_an_app_model_is_its_name() {
        let model = ModelType::parse(Path::new("schema/order.yml"), "order", "properties: []").unwrap();
        assert_eq!(model.short_name(), "order");
    }

    #[test]
    fn unknown_top_level_key_has_its_line() {
        let p = only_problem("name: payment\nproperties: []\ncolour: red\n");
        assert_eq!(p.line, 3);
        assert!(p.message.contains("colour"), "{}", p.message);
        assert_eq!(p.file, PathBuf::from("schema/payment.yml"));
    }

    #[test]
    fn unknown_property_key_has_its_line() {
        let p = only_problem("properties:\n  - name: amount\n    type: integer\n    searchable: true\n");
        assert_eq!(p.line, 4);
        assert!(p.message.contains("searchable"), "{}", p.message);
    }

    #[test]
    fn bad_type_has_its_line() {
        let p = only_problem("properties:\n  - name: amount\n    type: integer\n  - name: note\n    type: text\n");
        assert_eq!(p.line, 5);
        assert!(p.message.contains("text"), "{}", p.message);
    }

    #[test]
    fn missing_property_name_is_reported() {
        let p = only_problem("properties:\n  - type: integer\n");
        assert_eq!(p.line, 2);
        assert!(p.message.contains("name"), "{}", p.message);
    }

    #[test]
    fn duplicate_property_points_at_the_second_definition() {
        let p = only_problem(
            "properties:\n  - name: amount\n    type: integer\n  - name: note\n    type: string\n  - name: \"amount\"\n    type: float\n",
        );
        assert_eq!(p.line, 6);
        assert!(p.message.contains("defined twice"), "{}", p.message);
    }

    #[test]
    fn mismatched_name_points_at_the_name_key() {
        let p = only_problem("# a comment\nname: refund\nproperties: []\n");
        assert_eq!(p.line, 2);
        assert!(
            p.message.contains("refund") && p.message.contains("payment"),
            "{}",
            p.message
        );
    }

    #[test]
    fn reserved_and_non_identifier_names_are_refused() {
        let problems =
            parse("properties:\n  - name: id\n    type: integer\n  - name: montant_\u{e9}\n    type: string\n")
                .unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].line, 2);
        assert!(problems[0].message.contains("reserved"));
        assert_eq!(problems[1].line, 4);
        assert!(problems[1].message.contains("letters"));
    }

    #[test]
    fn empty_and_malformed_files_are_problems() {
        assert_eq!(only_problem("").line, 1);
        assert_eq!(only_problem("   \n").line, 1);
        let p = only_problem("properties:\n  - name: [unclosed\n");
        assert!(p.line >= 2, "{p:?}");
        let p = only_problem("- just\n- a list\n");
        assert!(p.message.contains("invalid model schema"), "{}", p.message);
    }

    #[test]
    fn indexes_state_rules_and_ordering_are_declared() {
        let model = parse(
            "ordered_by: seen\nproperties:\n  - name: state\n    type: string\n    index: true\n    forward_only: [authorized, succeeded, refunded]\n    final: [canceled]\n  - name: seen\n    type: integer\n",
        )
        .unwrap();
        let state = model.property("state").unwrap();
        assert!(state.index && !state.unique && state.has_state_rules());
        assert_eq!(state.forward_only.len(), 3);
        assert_eq!(state.final_values, [serde_json::json!("canceled")]);
        assert_eq!(state.line, 3);
        assert_eq!(model.ordered_by.as_deref(), Some("seen"));
        assert_eq!(model.properties_line, 2);
        assert_eq!(model.table(), "payment");
        assert!(!model.property("seen").unwrap().has_state_rules());
    }

    #[test]
    fn bad_state_rules_and_ordering_are_refused_at_their_line() {
        let p = only_problem("properties:\n  - name: paid_at\n    type: datetime\n    final: [x]\n");
        assert_eq!(p.line, 2);
        assert!(p.message.contains("string, integer or boolean"), "{}", p.message);
        let p = only_problem("properties:\n  - name: n\n    type: integer\n    forward_only: [1, two]\n");
        assert!(p.message.contains("two"), "{}", p.message);
        let p = only_problem("properties:\n  - name: s\n    type: string\n    forward_only: [a]\n    final: [a]\n");
        assert!(p.message.contains("both"), "{}", p.message);
        let p = only_problem("properties:\n  - name: s\n    type: string\nordered_by: s\n");
        assert_eq!(p.line, 4);
        assert!(p.message.contains("integer, float or datetime"), "{}", p.message);
        let p = only_problem("ordered_by: nope\nproperties: []\n");
        assert!(p.message.contains("names no property"), "{}", p.message);
    }

    #[test]
    fn model_names_must_make_safe_table_names() {
        let refused = |name: &str| {
            ModelType::parse(Path::new("schema/x.yml"), name, "properties: []").unwrap_err()[0]
                .message
                .clone()
        };
        assert!(refused("webhook_events").contains("payforms' own tables"));
        assert!(refused("modules/x/sqlite_master").contains("payforms' own tables"));
        assert!(refused("order-lines").contains("letters, digits"));
        assert!(refused(&"a".repeat(64)).contains("at most 63"));
        let long = format!("properties:\n  - name: {}\n    type: string\n", "p".repeat(64));
        assert!(only_problem(&long).message.contains("longer than 63"));
    }

    #[test]
    fn flow_style_properties_have_their_own_lines() {
        let p = only_problem("properties:\n  - { name: a, type: string }\n  - { name: b, type: text }\n");
        assert_eq!(p.line, 3, "{p:?}");
        let model = parse("properties:\n  - { name: a, type: string }\n  - {name: b, type: integer}\n").unwrap();
        assert_eq!(model.property("b").unwrap().line, 3);
    }

    #[test]
    fn display_is_file_colon_line() {
        let p = only_problem("properties:\n  - name: a\n    type: nope\n");
        assert!(p.to_string().starts_with("schema/payment.yml:3: "), "{p}");
    }
}
