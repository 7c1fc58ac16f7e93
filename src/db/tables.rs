//! A model's table: its columns' SQL types on each backend, the DDL that
//! creates them, how a typed value binds to a column, and how a row comes
//! back as a [`Record`].
//!
//! Every identifier is double-quoted: model and property names are checked
//! to be plain identifiers when the schema loads, and quoting keeps SQL
//! keywords (`order`, `user`) usable as names.

use chrono::{DateTime, SecondsFormat, Utc};
use diesel::sql_types::Text;
use diesel::QueryableByName;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::models::record::Record;
use super::schema::{ModelType, PropertyDef, PropertyType, MAX_IDENTIFIER_BYTES};
use super::sql::Arg;
use super::{Backend, StoreError};
use crate::merchant_id::MerchantId;

/// `"name"`; names are identifiers already, the quotes guard keywords.
pub(crate) fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The SQL type of a property's column.
pub(crate) fn column_type(kind: PropertyType, backend: Backend) -> &'static str {
    match (backend, kind) {
        (Backend::Sqlite, PropertyType::String) => "TEXT",
        (Backend::Sqlite, PropertyType::Integer | PropertyType::Boolean) => "INTEGER",
        (Backend::Sqlite, PropertyType::Float) => "REAL",
        // ISO text, fixed width (see `instant_text`).
        (Backend::Sqlite, PropertyType::Datetime) => "TEXT",
        (Backend::Sqlite, PropertyType::Json | PropertyType::Array) => "TEXT",
        (Backend::Postgres, PropertyType::String) => "TEXT",
        (Backend::Postgres, PropertyType::Integer) => "BIGINT",
        (Backend::Postgres, PropertyType::Float) => "DOUBLE PRECISION",
        (Backend::Postgres, PropertyType::Boolean) => "BOOLEAN",
        (Backend::Postgres, PropertyType::Datetime) => "TIMESTAMPTZ",
        (Backend::Postgres, PropertyType::Json | PropertyType::Array) => "JSONB",
    }
}

/// Index names: `payment_state_idx`, `payment_gateway_id_key`; shortened
/// with a digest when the table and column names are long.
pub(crate) fn index_name(table: &str, column: &str, unique: bool) -> String {
    let suffix = if unique { "key" } else { "idx" };
    let name = format!("{table}_{column}_{suffix}");
    if name.len() <= MAX_IDENTIFIER_BYTES {
        return name;
    }
    let digest = hex::encode(&Sha256::digest(format!("{table}.{column}").as_bytes())[..4]);
    let head: String = format!("{table}_{column}").chars().take(45).collect();
    format!("{head}_{digest}_{suffix}")
}

/// The system columns that partition a table, which payforms sets and
/// every read filters on. Their defaults are what every record written
/// before them is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SystemColumn {
    /// Which environment wrote the record; before environments payforms
    /// had only test keys and the sandbox, so test.
    Livemode,
    /// Which merchant the record belongs to; before merchants there was
    /// one, the default merchant.
    Merchant,
}

impl SystemColumn {
    /// In the order they are added to an older table.
    pub(crate) const ALL: [SystemColumn; 2] = [SystemColumn::Livemode, SystemColumn::Merchant];

    pub(crate) fn name(self) -> &'static str {
        match self {
            SystemColumn::Livemode => "livemode",
            SystemColumn::Merchant => "merchant",
        }
    }

    /// What the rows of an older table are given, for messages.
    pub(crate) fn existing_rows(self) -> &'static str {
        match self {
            SystemColumn::Livemode => "test",
            SystemColumn::Merchant => "the default merchant's",
        }
    }

    fn definition(self, backend: Backend) -> &'static str {
        match (self, backend) {
            (SystemColumn::Livemode, Backend::Sqlite) => "\"livemode\" INTEGER NOT NULL DEFAULT 0",
            (SystemColumn::Livemode, Backend::Postgres) => "\"livemode\" BOOLEAN NOT NULL DEFAULT FALSE",
            (SystemColumn::Merchant, _) => "\"merchant\" TEXT NOT NULL DEFAULT 'default'",
        }
    }
}

/// The indexes every model table has: the default order (newest first) and
/// "changed since", within one environment of one merchant, since every
/// read is scoped to one.
fn system_indexes(table: &str) -> Vec<String> {
    ["created_at", "updated_at"]
        .into_iter()
        .map(|column| {
            format!(
                "CREATE INDEX {} ON {} (\"livemode\", \"merchant\", {}, \"id\")",
                quoted(&index_name(table, column, false)),
                quoted(table),
                quoted(column)
            )
        })
        .collect()
}

/// `CREATE TABLE` with the record columns and one column per property.
pub(crate) fn create_table(model: &ModelType, backend: Backend) -> Vec<String> {
    let table = quoted(model.table());
    let (id, time) = match backend {
        Backend::Sqlite => ("INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT"),
        Backend::Postgres => ("BIGSERIAL PRIMARY KEY", "TIMESTAMPTZ"),
    };
    let mut columns = vec![
        format!("\"id\" {id}"),
        format!("\"created_at\" {time} NOT NULL"),
        format!("\"updated_at\" {time} NOT NULL"),
    ];
    columns.extend(SystemColumn::ALL.iter().map(|c| c.definition(backend).to_string()));
    for def in &model.properties {
        columns.push(format!("{} {}", quoted(&def.name), column_type(def.kind, backend)));
    }
    let mut statements = vec![format!("CREATE TABLE {table} ({})", columns.join(", "))];
    statements.extend(system_indexes(model.table()));
    for def in &model.properties {
        statements.extend(create_index(model.table(), def));
    }
    statements
}

/// Give a table made before environments or merchants a system column
/// (old rows get its default).
pub(crate) fn add_system_column(table: &str, column: SystemColumn, backend: Backend) -> String {
    format!(
        "ALTER TABLE {} ADD COLUMN {}",
        quoted(table),
        column.definition(backend)
    )
}

/// Rebuild a table's indexes once it has every system column: the system
/// ones, and the property indexes `indexed` lists as they stand (name,
/// unique, index), so a unique key is unique per environment and merchant.
pub(crate) fn rebuild_indexes(table: &str, indexed: &[(String, bool, bool)]) -> Vec<String> {
    let mut statements = Vec::new();
    for column in ["created_at", "updated_at"] {
        statements.push(drop_index(table, column, false));
    }
    statements.extend(system_indexes(table));
    for (name, unique, index) in indexed {
        if !unique && !index {
            continue;
        }
        statements.push(drop_index(table, name, *unique));
        statements.extend(index_on(table, name, *unique, *index));
    }
    statements
}

/// `ALTER TABLE .. ADD COLUMN` for a new property.
pub(crate) fn add_column(table: &str, def: &PropertyDef, backend: Backend) -> String {
    format!(
        "ALTER TABLE {} ADD COLUMN {} {}",
        quoted(table),
        quoted(&def.name),
        column_type(def.kind, backend)
    )
}

/// The index a property asks for, if any. `unique: true` is unique within
/// an environment of one merchant (a test and a live record, or two
/// merchants' records, may share a Stripe-side key); `index: true` also
/// holds the environment, the merchant and the default order, so "state is
/// X, newest first" is one index range read in order.
pub(crate) fn create_index(table: &str, def: &PropertyDef) -> Option<String> {
    index_on(table, &def.name, def.unique, def.index)
}

fn index_on(table: &str, column: &str, unique: bool, index: bool) -> Option<String> {
    if unique {
        Some(format!(
            "CREATE UNIQUE INDEX {} ON {} ({}, \"livemode\", \"merchant\")",
            quoted(&index_name(table, column, true)),
            quoted(table),
            quoted(column)
        ))
    } else if index {
        Some(format!(
            "CREATE INDEX {} ON {} ({}, \"livemode\", \"merchant\", \"created_at\", \"id\")",
            quoted(&index_name(table, column, false)),
            quoted(table),
            quoted(column)
        ))
    } else {
        None
    }
}

pub(crate) fn drop_index(table: &str, column: &str, unique: bool) -> String {
    format!("DROP INDEX IF EXISTS {}", quoted(&index_name(table, column, unique)))
}

/// Bytes an indexed string may have: a PostgreSQL B-tree entry is limited
/// to about 2,700 bytes, and both backends refuse the same values.
pub(crate) const MAX_INDEXED_TEXT_BYTES: usize = 2_000;

/// A stored (already typed) property value as a bind for its column.
pub(crate) fn bind_value(kind: PropertyType, value: Option<&Value>) -> Arg {
    let value = value.filter(|v| !v.is_null());
    match kind {
        PropertyType::String => Arg::OptText(value.and_then(Value::as_str).map(str::to_string)),
        PropertyType::Integer => Arg::OptInt(value.and_then(Value::as_i64)),
        PropertyType::Float => Arg::OptNum(value.and_then(Value::as_f64)),
        PropertyType::Boolean => Arg::OptBool(value.and_then(Value::as_bool)),
        PropertyType::Datetime => Arg::Instant(value.and_then(Value::as_str).and_then(parse_instant)),
        PropertyType::Json | PropertyType::Array => Arg::OptJson(value.map(canonical_json)),
    }
}

pub(crate) fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc))
}

/// JSON with object keys sorted, so equal values have equal text (SQLite
/// compares JSON columns as text; PostgreSQL's JSONB normalises anyway).
pub(crate) fn canonical_json(value: &Value) -> String {
    fn write(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (key, value)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push(':');
                    write(value, out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// Pairs per `json_object(..)` call: SQLite caps a function's arguments.
const PAIRS_PER_CALL: usize = 40;

/// The select expression giving a row of `alias` as one JSON text column
/// named `row_json`.
pub(crate) fn row_json(model: &ModelType, alias: &str, backend: Backend) -> String {
    match backend {
        Backend::Postgres => format!("CAST(to_jsonb({alias}) AS TEXT) AS row_json"),
        // Every read of records uses `t`: built once per model.
        Backend::Sqlite if alias == "t" => model
            .statements
            .sqlite_row_json
            .get_or_init(|| sqlite_row_json(model, alias))
            .clone(),
        Backend::Sqlite => sqlite_row_json(model, alias),
    }
}

/// [`row_json`] on SQLite: `json_object` over every column.
fn sqlite_row_json(model: &ModelType, alias: &str) -> String {
    let mut pairs = vec![
        format!("'id', {alias}.\"id\""),
        format!("'created_at', {alias}.\"created_at\""),
        format!("'updated_at', {alias}.\"updated_at\""),
        format!("'livemode', {alias}.\"livemode\""),
        format!("'merchant', {alias}.\"merchant\""),
    ];
    for def in &model.properties {
        let column = format!("{alias}.{}", quoted(&def.name));
        pairs.push(match def.kind {
            PropertyType::Json | PropertyType::Array => format!("'{}', json({column})", def.name),
            _ => format!("'{}', {column}", def.name),
        });
    }
    // json_patch drops nulls, which is what "absent" means here.
    let calls: Vec<String> = pairs
        .chunks(PAIRS_PER_CALL)
        .map(|chunk| format!("json_object({})", chunk.join(", ")))
        .collect();
    let expression = calls
        .into_iter()
        .reduce(|all, next| format!("json_patch({all}, {next})"))
        .unwrap_or_else(|| "json_object()".into());
    format!("{expression} AS row_json")
}

/// A row selected with [`row_json`].
#[derive(QueryableByName, Debug)]
pub(crate) struct RowJson {
    #[diesel(sql_type = Text)]
    pub row_json: String,
}

impl RowJson {
    /// The record: properties typed as the model says, in its order; null
    /// columns are absent properties.
    pub(crate) fn into_record(self, model: &ModelType) -> Result<Record, StoreError> {
        let malformed = |why: &str| StoreError::Database(format!("a row of {} {why}", model.table()));
        let Value::Object(mut row) =
            serde_json::from_str::<Value>(&self.row_json).map_err(|_| malformed("is not JSON"))?
        else {
            return Err(malformed("is not an object"));
        };
        let id = row
            .get("id")
            .and_then(Value::as_i64)
            .ok_or_else(|| malformed("has no id"))?;
        let time = |row: &Map<String, Value>, key: &str| {
            row.get(key)
                .and_then(Value::as_str)
                .and_then(parse_instant)
                .ok_or_else(|| malformed(&format!("has no {key}")))
        };
        let created_at = time(&row, "created_at")?;
        let updated_at = time(&row, "updated_at")?;
        // SQLite keeps booleans as 0/1.
        let livemode = match row.get("livemode") {
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_i64().is_some_and(|n| n != 0),
            _ => return Err(malformed("has no livemode")),
        };
        let merchant = row
            .get("merchant")
            .and_then(Value::as_str)
            .and_then(MerchantId::parse)
            .ok_or_else(|| malformed("has no valid merchant"))?;
        let mut properties = Map::with_capacity(model.properties.len());
        for def in &model.properties {
            let Some(value) = row.remove(&def.name).filter(|v| !v.is_null()) else {
                continue;
            };
            if let Some(value) = from_column(def.kind, value) {
                properties.insert(def.name.clone(), value);
            }
        }
        Ok(Record {
            id,
            model: model.name.clone(),
            properties,
            created_at,
            updated_at,
            livemode,
            merchant,
        })
    }
}

/// A column's JSON back to the property's stored form.
fn from_column(kind: PropertyType, value: Value) -> Option<Value> {
    match kind {
        PropertyType::Boolean => match value {
            Value::Bool(_) => Some(value),
            Value::Number(n) => Some(Value::Bool(n.as_i64()? != 0)),
            _ => None,
        },
        PropertyType::Datetime => value
            .as_str()
            .and_then(parse_instant)
            .map(|t| Value::String(t.to_rfc3339_opts(SecondsFormat::AutoSi, true))),
        PropertyType::Float => match &value {
            Value::Number(n) => n.as_f64().and_then(serde_json::Number::from_f64).map(Value::Number),
            _ => None,
        },
        _ => Some(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    fn model() -> ModelType {
        ModelType::parse(
            Path::new("schema/order.yml"),
            "order",
            "properties:\n  - { name: ref, type: string, unique: true }\n  - { name: state, type: string, index: true }\n  - { name: total, type: integer }\n  - { name: paid, type: boolean }\n  - { name: paid_at, type: datetime }\n  - { name: extra, type: json }\n",
        )
        .unwrap()
    }

    #[test]
    fn tables_are_typed_per_backend() {
        let pg = create_table(&model(), Backend::Postgres);
        assert!(
            pg[0].starts_with("CREATE TABLE \"order\" (\"id\" BIGSERIAL PRIMARY KEY"),
            "{}",
            pg[0]
        );
        assert!(pg[0].contains("\"total\" BIGINT") && pg[0].contains("\"paid_at\" TIMESTAMPTZ"));
        assert!(pg[0].contains("\"extra\" JSONB") && pg[0].contains("\"paid\" BOOLEAN"));
        let sqlite = create_table(&model(), Backend::Sqlite);
        assert!(sqlite[0].contains("\"id\" INTEGER PRIMARY KEY AUTOINCREMENT"));
        assert!(
            sqlite[0].contains("\"livemode\" INTEGER NOT NULL DEFAULT 0"),
            "{}",
            sqlite[0]
        );
        assert!(
            pg[0].contains("\"livemode\" BOOLEAN NOT NULL DEFAULT FALSE"),
            "{}",
            pg[0]
        );
        for (backend, statements) in [("sqlite", &sqlite), ("pg", &pg)] {
            assert!(
                statements[0].contains("\"merchant\" TEXT NOT NULL DEFAULT 'default'"),
                "{backend}: {}",
                statements[0]
            );
        }
        assert!(sqlite.contains(
            &"CREATE UNIQUE INDEX \"order_ref_key\" ON \"order\" (\"ref\", \"livemode\", \"merchant\")".to_string()
        ));
        assert!(sqlite.contains(
            &"CREATE INDEX \"order_state_idx\" ON \"order\" (\"state\", \"livemode\", \"merchant\", \"created_at\", \"id\")"
                .to_string()
        ));
        assert!(sqlite.contains(
            &"CREATE INDEX \"order_created_at_idx\" ON \"order\" (\"livemode\", \"merchant\", \"created_at\", \"id\")"
                .to_string()
        ));
        assert_eq!(sqlite.len(), 5, "{sqlite:?}");
    }

    #[test]
    fn long_index_names_stay_within_the_limit_and_distinct() {
        let a = index_name(&"t".repeat(40), &"c".repeat(40), false);
        let b = index_name(&"t".repeat(40), &format!("{}d", "c".repeat(39)), false);
        assert!(a.len() <= MAX_IDENTIFIER_BYTES && b.len() <= MAX_IDENTIFIER_BYTES);
        assert_ne!(a, b);
        assert_eq!(index_name("payment", "state", false), "payment_state_idx");
    }

    #[test]
    fn rows_come_back_typed() {
        let row = RowJson {
            row_json: json!({
                "id": 7, "created_at": "2024-05-01T12:00:00.000000Z", "updated_at": "2024-05-01T12:00:01+00:00", "livemode": 1, "merchant": "acme",
                "ref": "A-1", "state": null, "total": 599, "paid": 1, "paid_at": "2024-05-01T14:00:00+02:00",
                "extra": {"b": 1, "a": [true]}, "dropped": "x"
            })
            .to_string(),
        };
        let record = row.into_record(&model()).unwrap();
        assert_eq!(record.id, 7);
        assert!(record.livemode);
        assert_eq!(record.merchant.as_str(), "acme");
        assert_eq!(
            Value::Object(record.properties),
            json!({"ref": "A-1", "total": 599, "paid": true, "paid_at": "2024-05-01T12:00:00Z", "extra": {"a": [true], "b": 1}})
        );
        assert!(RowJson { row_json: "[]".into() }.into_record(&model()).is_err());
    }

    #[test]
    fn a_models_sqlite_row_text_is_built_once() {
        let model = model();
        let first = row_json(&model, "t", Backend::Sqlite);
        assert_eq!(first, sqlite_row_json(&model, "t"));
        assert!(model.statements.sqlite_row_json.get().is_some());
        assert_eq!(row_json(&model, "t", Backend::Sqlite), first);
        // A copy builds its own, the same; the text never tells models apart.
        let copy = model.clone();
        assert!(copy.statements.sqlite_row_json.get().is_none());
        assert_eq!(row_json(&copy, "t", Backend::Sqlite), first);
        assert_eq!(copy, model);
        assert_eq!(row_json(&model, "x", Backend::Sqlite), sqlite_row_json(&model, "x"));
    }

    #[test]
    fn sqlite_rows_are_built_in_chunks() {
        let yaml: String = (0..90)
            .map(|i| format!("  - {{ name: p{i}, type: string }}\n"))
            .collect();
        let wide = ModelType::parse(Path::new("schema/wide.yml"), "wide", &format!("properties:\n{yaml}")).unwrap();
        let expression = row_json(&wide, "t", Backend::Sqlite);
        assert_eq!(expression.matches("json_object(").count(), 3);
        assert_eq!(expression.matches("json_patch(").count(), 2);
        assert_eq!(
            canonical_json(&json!({"b": [1, {"d": 1, "c": 2}], "a": null})),
            r#"{"a":null,"b":[1,{"c":2,"d":1}]}"#
        );
    }
}
