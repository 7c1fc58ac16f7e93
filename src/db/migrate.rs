//! Model migrations: compare the schema files with what the database holds
//! (the `model_tables`/`model_columns` catalogue) and plan the changes.
//!
//! Additive changes (a new model, a new property, a new or dropped index)
//! are applied in one transaction and recorded in `schema_changes`. A change
//! that loses data (a removed property or model, a changed type) is refused
//! with the schema file's line unless the caller allows it. A rename is a
//! removal plus an addition, so it is refused too.
//!
//! Tables made before environments or merchants get the `livemode` and
//! `merchant` system columns (old rows: test and the default merchant's,
//! all there was) and their indexes rebuilt with them, as additive changes;
//! the catalogue does not list system columns, so the planner asks the
//! database whether each column is there.
//!
//! Databases written before tables per model keep every record in `records`
//! and `record_values`; when a model's table is created, its records are
//! copied in (same ids and times), and the old tables stay until
//! `--drop-legacy` (or until they hold nothing).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use serde_json::{Map, Value};

use super::models::record::{now, RecordRow, RECORD_COLUMNS};
use super::records;
use super::schema::{ModelType, PropertyDef, PropertyType};
use super::sql::{Arg, Conn, IntRow};
use super::tables::{self, quoted, row_json, RowJson, SystemColumn};
use super::typing::coerce;
use super::{Backend, Partition, StoreError};
use crate::error::LoadProblem;
use crate::merchant_id::MerchantId;

/// Key of the PostgreSQL advisory lock held while planning and applying, so
/// instances starting together do not race.
const MODEL_MIGRATION_LOCK: i64 = 0x7061_7966_6f72_6d74;
/// Legacy rows copied per query.
const COPY_BATCH: i64 = 500;

#[derive(Debug, Clone, Copy, Default)]
pub struct MigrateOptions {
    /// Apply removals and type changes too.
    pub allow_destructive: bool,
    /// Drop the legacy tables after copying what they hold.
    pub drop_legacy: bool,
    /// Plan only; change nothing.
    pub dry_run: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// Changes that would lose data, each at its schema file's line.
    #[error("{} change(s) would lose data", .0.len())]
    Refused(Vec<LoadProblem>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One planned change and the SQL it runs.
#[derive(Debug, Clone)]
pub struct PlannedChange {
    pub table: String,
    pub description: String,
    pub statements: Vec<String>,
    pub destructive: bool,
    work: Work,
}

/// What applying a change does beyond its statements.
#[derive(Debug, Clone)]
enum Work {
    Statements,
    /// Create the table, then copy the model's legacy records in.
    CreateTable {
        copy_legacy: i64,
    },
    /// Rewrite a column's values as another type.
    ChangeType {
        def: PropertyDef,
        from: PropertyType,
    },
}

/// What migrating did (or, in a dry run, would do).
#[derive(Debug, Clone, Default)]
pub struct MigrationReport {
    pub changes: Vec<PlannedChange>,
    /// Notes on the legacy tables and on values a change could not keep.
    pub notes: Vec<String>,
}

impl MigrationReport {
    /// The plan as SQL, one commented block per change.
    pub fn sql(&self, backend: Backend) -> String {
        let _ = backend;
        let mut out = String::new();
        for change in &self.changes {
            out.push_str(&format!("-- {}\n", change.description));
            for statement in &change.statements {
                out.push_str(statement);
                out.push_str(";\n");
            }
        }
        for note in &self.notes {
            out.push_str(&format!("-- {note}\n"));
        }
        out
    }
}

#[derive(QueryableByName, Debug)]
struct TableRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    model: String,
    #[diesel(sql_type = Text)]
    file: String,
}

#[derive(QueryableByName, Debug)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    property_type: String,
    #[diesel(sql_type = BigInt)]
    is_unique: i64,
    #[diesel(sql_type = BigInt)]
    is_indexed: i64,
}

#[derive(Debug, Clone)]
struct StoredColumn {
    kind: Option<PropertyType>,
    unique: bool,
    index: bool,
}

#[derive(Debug, Clone)]
struct StoredTable {
    file: String,
    columns: BTreeMap<String, StoredColumn>,
}

fn parse_kind(text: &str) -> Option<PropertyType> {
    serde_yaml::from_str(text).ok()
}

fn catalogue(conn: &mut Conn) -> Result<BTreeMap<String, StoredTable>, StoreError> {
    let mut tables: BTreeMap<String, StoredTable> = BTreeMap::new();
    for row in conn.load::<TableRow>(conn.sql("SELECT table_name, model, file FROM model_tables"))? {
        let _ = row.model;
        tables.insert(
            row.table_name,
            StoredTable {
                file: row.file,
                columns: BTreeMap::new(),
            },
        );
    }
    let sql = conn.sql("SELECT table_name, column_name, property_type, is_unique, is_indexed FROM model_columns");
    for row in conn.load::<ColumnRow>(sql)? {
        if let Some(table) = tables.get_mut(&row.table_name) {
            table.columns.insert(
                row.column_name,
                StoredColumn {
                    kind: parse_kind(&row.property_type),
                    unique: row.is_unique != 0,
                    index: row.is_indexed != 0,
                },
            );
        }
    }
    Ok(tables)
}

/// Does the pre-table store (`records`) still exist?
fn legacy_exists(conn: &mut Conn) -> Result<bool, StoreError> {
    let sql = match conn.backend() {
        Backend::Sqlite => {
            conn.sql("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'records'")
        }
        Backend::Postgres => conn.sql(
            "SELECT COUNT(*) AS n FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = 'records'",
        ),
    };
    Ok(conn.first::<IntRow>(sql)?.is_some_and(|r| r.n > 0))
}

/// Legacy records per model name.
fn legacy_counts(conn: &mut Conn) -> Result<HashMap<String, i64>, StoreError> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = Text)]
        model: String,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let sql = conn.sql("SELECT model, COUNT(*) AS n FROM records GROUP BY model");
    Ok(conn.load::<Count>(sql)?.into_iter().map(|c| (c.model, c.n)).collect())
}

/// Does `table` lack the system column `column` (made before it)?
fn lacks(conn: &mut Conn, table: &str, column: SystemColumn) -> Result<bool, StoreError> {
    let mut sql = match conn.backend() {
        Backend::Sqlite => conn.sql("SELECT COUNT(*) AS n FROM pragma_table_info("),
        Backend::Postgres => conn.sql(
            "SELECT COUNT(*) AS n FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = (",
        ),
    };
    sql.bind(Arg::Text(table.to_string())).push(")");
    sql.push(match conn.backend() {
        Backend::Sqlite => " WHERE name = ",
        Backend::Postgres => " AND column_name = ",
    })
    .bind(Arg::Text(column.name().to_string()));
    Ok(conn.first::<IntRow>(sql)?.is_some_and(|r| r.n == 0))
}

/// Plan the changes from the catalogue to `models`.
fn plan(
    conn: &mut Conn,
    models: &[&ModelType],
    legacy: &HashMap<String, i64>,
) -> Result<(Vec<PlannedChange>, Vec<LoadProblem>), StoreError> {
    let backend = conn.backend();
    let stored = catalogue(conn)?;
    let mut changes = Vec::new();
    let mut problems = Vec::new();
    let mut models: Vec<&ModelType> = models.to_vec();
    models.sort_by(|a, b| a.table().cmp(b.table()));
    for model in &models {
        let table = model.table().to_string();
        let Some(existing) = stored.get(&table) else {
            let copy_legacy = legacy.get(&model.name).copied().unwrap_or(0);
            let mut description = format!("create table {table} for {}", model.name);
            if copy_legacy > 0 {
                description.push_str(&format!(" and copy its {copy_legacy} record(s) from the legacy tables"));
            }
            changes.push(PlannedChange {
                table: table.clone(),
                description,
                statements: tables::create_table(model, backend),
                destructive: false,
                work: Work::CreateTable { copy_legacy },
            });
            continue;
        };
        // First, so the property changes below build on the new indexes.
        let mut missing = Vec::new();
        for column in SystemColumn::ALL {
            if lacks(conn, &table, column)? {
                missing.push(column);
            }
        }
        let last = missing.len();
        for (n, column) in missing.into_iter().enumerate() {
            let mut statements = vec![tables::add_system_column(&table, column, backend)];
            // The indexes hold every system column: rebuilt once, after
            // the last one is there.
            if n + 1 == last {
                let indexed: Vec<(String, bool, bool)> = existing
                    .columns
                    .iter()
                    .map(|(name, column)| (name.clone(), column.unique, column.index))
                    .collect();
                statements.extend(tables::rebuild_indexes(&table, &indexed));
            }
            changes.push(PlannedChange {
                table: table.clone(),
                description: format!(
                    "add the system column {} to {table} (existing records: {})",
                    column.name(),
                    column.existing_rows()
                ),
                statements,
                destructive: false,
                work: Work::Statements,
            });
        }
        for def in &model.properties {
            match existing.columns.get(&def.name) {
                None => {
                    let mut statements = vec![tables::add_column(&table, def, backend)];
                    statements.extend(tables::create_index(&table, def));
                    changes.push(PlannedChange {
                        table: table.clone(),
                        description: format!("add {} ({}) to {table}", def.name, def.kind),
                        statements,
                        destructive: false,
                        work: Work::Statements,
                    });
                }
                Some(column) if column.kind != Some(def.kind) => {
                    let from = column.kind.unwrap_or(PropertyType::String);
                    problems.push(LoadProblem::new(
                        &model.file,
                        def.line,
                        format!(
                            "`{}` changes type from {from} to {}: its stored values would be rewritten and \
                             those that do not fit lost; run `payforms migrate --allow-destructive` to do it",
                            def.name, def.kind
                        ),
                    ));
                    let temporary = temporary_column(&def.name);
                    let mut statements = Vec::new();
                    if column.unique || column.index {
                        statements.push(tables::drop_index(&table, &def.name, column.unique));
                    }
                    statements.push(tables::add_column(
                        &table,
                        &PropertyDef {
                            name: temporary.clone(),
                            ..def.clone()
                        },
                        backend,
                    ));
                    statements.push(format!("-- (each value of {} converted to {})", def.name, def.kind));
                    statements.push(format!(
                        "ALTER TABLE {} DROP COLUMN {}",
                        quoted(&table),
                        quoted(&def.name)
                    ));
                    statements.push(format!(
                        "ALTER TABLE {} RENAME COLUMN {} TO {}",
                        quoted(&table),
                        quoted(&temporary),
                        quoted(&def.name)
                    ));
                    statements.extend(tables::create_index(&table, def));
                    changes.push(PlannedChange {
                        table: table.clone(),
                        description: format!("change {table}.{} from {from} to {}", def.name, def.kind),
                        statements,
                        destructive: true,
                        work: Work::ChangeType { def: def.clone(), from },
                    });
                }
                Some(column) if column.unique != def.unique || column.index != def.index => {
                    let mut statements = Vec::new();
                    if column.unique || column.index {
                        statements.push(tables::drop_index(&table, &def.name, column.unique));
                    }
                    statements.extend(tables::create_index(&table, def));
                    let now = match (def.unique, def.index) {
                        (true, _) => "unique",
                        (false, true) => "indexed",
                        (false, false) => "not indexed",
                    };
                    changes.push(PlannedChange {
                        table: table.clone(),
                        description: format!("make {table}.{} {now}", def.name),
                        statements,
                        destructive: false,
                        work: Work::Statements,
                    });
                }
                Some(_) => {}
            }
        }
        for (name, column) in &existing.columns {
            if model.property(name).is_some() {
                continue;
            }
            problems.push(LoadProblem::new(
                &model.file,
                model.properties_line,
                format!(
                    "property `{name}` was removed from {}: dropping its column loses its values (a rename is a \
                     removal too); put it back, or run `payforms migrate --allow-destructive`",
                    model.short_name()
                ),
            ));
            let mut statements = Vec::new();
            if column.unique || column.index {
                statements.push(tables::drop_index(&table, name, column.unique));
            }
            statements.push(format!("ALTER TABLE {} DROP COLUMN {}", quoted(&table), quoted(name)));
            changes.push(PlannedChange {
                table: table.clone(),
                description: format!("drop {table}.{name}"),
                statements,
                destructive: true,
                work: Work::Statements,
            });
        }
    }
    for (table, existing) in &stored {
        if models.iter().any(|m| m.table() == table) {
            continue;
        }
        problems.push(LoadProblem::new(
            PathBuf::from(&existing.file),
            1,
            format!(
                "model `{table}` was removed (its schema file is gone): dropping table {table} loses its records; \
                 restore the file, or run `payforms migrate --allow-destructive`"
            ),
        ));
        changes.push(PlannedChange {
            table: table.clone(),
            description: format!("drop table {table}"),
            statements: vec![format!("DROP TABLE {}", quoted(table))],
            destructive: true,
            work: Work::Statements,
        });
    }
    Ok((changes, problems))
}

fn temporary_column(name: &str) -> String {
    let mut temporary = format!("{name}__retyped");
    temporary.truncate(super::schema::MAX_IDENTIFIER_BYTES);
    temporary
}

/// Plan and (unless a dry run) apply, in one transaction.
pub(crate) fn run(
    conn: &mut Conn,
    models: &[&ModelType],
    options: MigrateOptions,
) -> Result<MigrationReport, MigrateError> {
    if conn.backend() == Backend::Postgres {
        conn.batch(&format!("SELECT pg_advisory_xact_lock({MODEL_MIGRATION_LOCK})"))
            .map_err(StoreError::from)?;
    }
    let has_legacy = legacy_exists(conn)?;
    let legacy = if has_legacy {
        legacy_counts(conn)?
    } else {
        HashMap::new()
    };
    let (changes, problems) = plan(conn, models, &legacy)?;
    if !problems.is_empty() && !options.allow_destructive {
        return Err(MigrateError::Refused(problems));
    }
    let mut report = MigrationReport {
        changes,
        notes: Vec::new(),
    };
    if has_legacy {
        let left: i64 = legacy
            .iter()
            .filter(|(model, _)| !models.iter().any(|m| &&m.name == model))
            .map(|(_, n)| n)
            .sum();
        let total: i64 = legacy.values().sum();
        if options.drop_legacy || total == 0 {
            if left > 0 {
                report.notes.push(format!(
                    "{left} legacy record(s) of models no longer in the schema files are dropped with the legacy tables"
                ));
            }
            report
                .notes
                .push("drop the legacy tables records, record_values, record_uniques".into());
        } else {
            report.notes.push(format!(
                "the legacy tables (records, record_values, record_uniques: {total} record(s)) are kept; \
                 `payforms migrate --drop-legacy` drops them"
            ));
        }
    }
    if options.dry_run {
        return Ok(report);
    }
    let at = now();
    for change in &report.changes {
        let mut lost = 0;
        match &change.work {
            Work::Statements => {
                for statement in &change.statements {
                    conn.batch(statement).map_err(StoreError::from)?;
                }
            }
            Work::CreateTable { copy_legacy } => {
                for statement in &change.statements {
                    conn.batch(statement).map_err(StoreError::from)?;
                }
                if *copy_legacy > 0 {
                    let model = models
                        .iter()
                        .find(|m| m.table() == change.table)
                        .ok_or_else(|| StoreError::Database("a planned table has no model".into()))?;
                    lost = copy_legacy_records(conn, model)?;
                }
            }
            Work::ChangeType { def, from } => {
                lost = retype(conn, &change.table, def, *from, &change.statements)?;
            }
        }
        if lost > 0 {
            report
                .notes
                .push(format!("{}: {lost} value(s) could not be kept", change.description));
        }
        record_change(conn, change, at)?;
    }
    for model in models {
        write_catalogue(conn, model)?;
    }
    for change in report
        .changes
        .iter()
        .filter(|c| c.description.starts_with("drop table "))
    {
        let mut sql = conn.sql("DELETE FROM model_tables WHERE table_name = ");
        sql.bind(Arg::Text(change.table.clone()));
        conn.execute(sql).map_err(StoreError::from)?;
    }
    if has_legacy && (options.drop_legacy || legacy.values().sum::<i64>() == 0) {
        for table in ["record_uniques", "record_values", "records"] {
            conn.batch(&format!("DROP TABLE {table}")).map_err(StoreError::from)?;
        }
    }
    Ok(report)
}

fn record_change(conn: &mut Conn, change: &PlannedChange, at: chrono::DateTime<chrono::Utc>) -> Result<(), StoreError> {
    let mut sql = conn.sql("INSERT INTO schema_changes (table_name, change, statements, applied_at) VALUES ");
    sql.bind_list(vec![
        Arg::Text(change.table.clone()),
        Arg::Text(change.description.clone()),
        Arg::Text(change.statements.join(";\n")),
        Arg::Time(at.naive_utc()),
    ]);
    conn.execute(sql)?;
    Ok(())
}

/// The catalogue says what the table now is.
fn write_catalogue(conn: &mut Conn, model: &ModelType) -> Result<(), StoreError> {
    let table = model.table().to_string();
    let mut sql = conn.sql("DELETE FROM model_columns WHERE table_name = ");
    sql.bind(Arg::Text(table.clone()));
    conn.execute(sql)?;
    let mut sql = conn.sql("DELETE FROM model_tables WHERE table_name = ");
    sql.bind(Arg::Text(table.clone()));
    conn.execute(sql)?;
    let mut sql = conn.sql("INSERT INTO model_tables (table_name, model, file) VALUES ");
    sql.bind_list(vec![
        Arg::Text(table.clone()),
        Arg::Text(model.name.clone()),
        Arg::Text(model.file.display().to_string()),
    ]);
    conn.execute(sql)?;
    for def in &model.properties {
        let mut sql = conn
            .sql("INSERT INTO model_columns (table_name, column_name, property_type, is_unique, is_indexed) VALUES ");
        sql.bind_list(vec![
            Arg::Text(table.clone()),
            Arg::Text(def.name.clone()),
            Arg::Text(def.kind.as_str().into()),
            Arg::Int(i64::from(def.unique)),
            Arg::Int(i64::from(def.index)),
        ]);
        conn.execute(sql)?;
    }
    Ok(())
}

/// Copy a model's legacy records into its new table, ids and times kept.
/// Returns how many values could not be kept (properties the model no
/// longer has, values that no longer fit its type).
fn copy_legacy_records(conn: &mut Conn, model: &ModelType) -> Result<usize, StoreError> {
    let legacy_merchant = MerchantId::default();
    let mut lost = 0;
    let mut after = i64::MIN;
    loop {
        let mut sql = conn.sql(&format!("SELECT {RECORD_COLUMNS} FROM records r WHERE r.model = "));
        sql.bind(Arg::Text(model.name.clone()))
            .push(" AND r.id > ")
            .bind(Arg::Int(after))
            .push(&format!(" ORDER BY r.id LIMIT {COPY_BATCH}"));
        let rows = conn.load::<RecordRow>(sql)?;
        let Some(last) = rows.last().map(RecordRow::id) else {
            break;
        };
        after = last;
        for row in rows {
            let record = row.into_record(model)?;
            let mut stored = Map::new();
            for (name, value) in record.properties {
                match model.property(&name).map(|def| coerce(def.kind, &value)) {
                    Some(Ok(typed)) if !typed.is_null() => drop(stored.insert(name, typed)),
                    Some(Ok(_)) => {}
                    _ => lost += 1,
                }
            }
            // Legacy records predate live keys and merchants: all test, the
            // default merchant's.
            records::insert(
                conn,
                model,
                Some(record.id),
                stored,
                Partition {
                    livemode: false,
                    merchant: &legacy_merchant,
                },
                record.created_at,
                Some(record.updated_at),
            )?;
        }
    }
    // Statistics for the planner, as after any bulk load.
    conn.batch(&format!("ANALYZE {}", quoted(model.table())))?;
    if conn.backend() == Backend::Postgres {
        let table = quoted(model.table());
        conn.batch(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(\"id\") FROM {table}), 0) + 1, false)"
        ))?;
    }
    Ok(lost)
}

/// Rewrite a column as another type: a new column filled with each value
/// converted (or null when it does not fit), the old one dropped, the new
/// one renamed. Returns how many values were lost.
fn retype(
    conn: &mut Conn,
    table: &str,
    def: &PropertyDef,
    from: PropertyType,
    statements: &[String],
) -> Result<usize, StoreError> {
    let temporary = temporary_column(&def.name);
    let (before, after): (Vec<&String>, Vec<&String>) = {
        let split = statements
            .iter()
            .position(|s| s.starts_with("-- "))
            .unwrap_or(statements.len());
        (
            statements[..split].iter().collect(),
            statements[(split + 1).min(statements.len())..].iter().collect(),
        )
    };
    for statement in before {
        conn.batch(statement)?;
    }
    // Read the old values through a model that still has the old type.
    let reader = ModelType::parse(
        std::path::Path::new("schema/retype.yml"),
        table,
        &format!("properties:\n  - {{ name: {}, type: {} }}\n", def.name, from),
    )
    .map_err(|_| StoreError::Database(format!("cannot read {table}.{}", def.name)))?;
    let mut lost = 0;
    let mut last_id = i64::MIN;
    loop {
        let mut sql = conn.sql(&format!(
            "SELECT {} FROM {} t WHERE t.\"id\" > ",
            row_json(&reader, "t", conn.backend()),
            quoted(table)
        ));
        sql.bind(Arg::Int(last_id))
            .push(&format!(" ORDER BY t.\"id\" LIMIT {COPY_BATCH}"));
        let rows = conn.load::<RowJson>(sql)?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            let record = row.into_record(&reader)?;
            last_id = record.id;
            let Some(old) = record.properties.get(&def.name) else {
                continue;
            };
            let converted = match (from, def.kind, old) {
                // JSON text of a structure becomes a string as its JSON.
                (
                    PropertyType::Json | PropertyType::Array,
                    PropertyType::String,
                    Value::Object(_) | Value::Array(_),
                ) => Ok(Value::String(old.to_string())),
                _ => coerce(def.kind, old),
            };
            match converted {
                Ok(value) if !value.is_null() => {
                    let mut sql = conn.sql(&format!("UPDATE {} SET {} = ", quoted(table), quoted(&temporary)));
                    sql.bind(tables::bind_value(def.kind, Some(&value)))
                        .push(" WHERE \"id\" = ")
                        .bind(Arg::Int(record.id));
                    conn.execute(sql)?;
                }
                _ => lost += 1,
            }
        }
    }
    for statement in after {
        conn.batch(statement)?;
    }
    Ok(lost)
}
