//! Totals over the records a query's filters select (all pages), grouped
//! in SQL by the UTC day they were made and optionally by one property:
//! GraphQL's `perDay`. The rows are the same a page of that query reads
//! (one partition, the same filter SQL); the answer is bounded to
//! [`MAX_DAYS`] days (the newest) of at most [`MAX_GROUPS_PER_DAY`] groups.

use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::QueryableByName;

use super::query::Filter;
use super::schema::{ModelType, PropertyType};
use super::sql::Conn;
use super::tables::quoted;
use super::{search, Backend, Partition, StoreError};
use crate::error::FieldError;

/// Days in one answer: the newest ones.
pub const MAX_DAYS: usize = 400;
/// Groups of one day in one answer: those with the most records.
pub const MAX_GROUPS_PER_DAY: usize = 20;

/// What to total: property names of the model (snake_case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayTotalsQuery {
    /// An integer property to sum.
    pub sum: Option<String>,
    /// A string or boolean property whose values split each day.
    pub group_by: Option<String>,
}

/// One day (and group) of records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayTotal {
    /// `2026-12-07`, the UTC day of `created_at`.
    pub day: String,
    /// The `group_by` property's value (`true`/`false` for a boolean);
    /// `None` without `group_by` or for records without the property.
    pub group: Option<String>,
    pub count: i64,
    /// The sum of `sum` over the group (0 when none has it); `None`
    /// without `sum`.
    pub sum: Option<i64>,
}

#[derive(QueryableByName)]
struct DayTotalRow {
    #[diesel(sql_type = Text)]
    day_text: String,
    #[diesel(sql_type = Nullable<Text>)]
    group_text: Option<String>,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    sum_total: Option<i64>,
}

fn invalid(field: &str, message: String) -> StoreError {
    StoreError::Validation(vec![FieldError::new(field, message)])
}

/// The column of property `name`, which must be one of `kinds`.
fn property_column(
    model: &ModelType,
    field: &str,
    name: &str,
    kinds: &[PropertyType],
) -> Result<(String, PropertyType), StoreError> {
    let def = model
        .property(name)
        .ok_or_else(|| invalid(field, format!("`{name}` is not a property of {}", model.short_name())))?;
    if !kinds.contains(&def.kind) {
        return Err(invalid(field, format!("`{name}` is a {} property", def.kind)));
    }
    Ok((format!("t.{}", quoted(name)), def.kind))
}

/// Counts (and sums) per UTC day and group of the records of `partition`
/// matching `filters`, ordered by day, then group (records without the
/// group's property last).
pub(crate) fn per_day(
    conn: &mut Conn,
    model: &ModelType,
    filters: &[Filter],
    partition: Partition<'_>,
    totals: &DayTotalsQuery,
) -> Result<Vec<DayTotal>, StoreError> {
    let backend = conn.backend();
    // created_at is ISO text in UTC on SQLite (`instant_text`), timestamptz
    // on PostgreSQL: the day is its first ten characters, or its UTC date.
    let day = match backend {
        Backend::Sqlite => "substr(t.\"created_at\", 1, 10)".to_string(),
        Backend::Postgres => "to_char(t.\"created_at\" AT TIME ZONE 'UTC', 'YYYY-MM-DD')".to_string(),
    };
    let group = match &totals.group_by {
        None => "CAST(NULL AS TEXT)".to_string(),
        Some(name) => {
            let (column, kind) =
                property_column(model, "groupBy", name, &[PropertyType::String, PropertyType::Boolean])?;
            match (kind, backend) {
                (PropertyType::Boolean, Backend::Sqlite) => {
                    format!("CASE WHEN {column} IS NULL THEN NULL WHEN {column} <> 0 THEN 'true' ELSE 'false' END")
                }
                (PropertyType::Boolean, Backend::Postgres) => {
                    format!("CASE WHEN {column} THEN 'true' WHEN NOT {column} THEN 'false' END")
                }
                _ => column,
            }
        }
    };
    let total = match &totals.sum {
        None => "CAST(NULL AS BIGINT)".to_string(),
        Some(name) => {
            let (column, _) = property_column(model, "sum", name, &[PropertyType::Integer])?;
            // PostgreSQL sums bigints as numeric; back to bigint (an
            // overflow is an error, never a wrapped total).
            format!("CAST(COALESCE(SUM({column}), 0) AS BIGINT)")
        }
    };
    // Ties between groups of one day go by the group's bytes on both backends.
    let collate = match backend {
        Backend::Sqlite => "",
        Backend::Postgres => " COLLATE \"C\"",
    };
    let mut sql = conn.sql(&format!(
        "SELECT day_text, group_text, n, sum_total FROM (SELECT day_text, group_text, n, sum_total, \
         DENSE_RANK() OVER (ORDER BY day_text DESC) AS day_rank, \
         ROW_NUMBER() OVER (PARTITION BY day_text ORDER BY n DESC, \
         CASE WHEN group_text IS NULL THEN 1 ELSE 0 END, group_text{collate}) AS group_rank \
         FROM (SELECT {day} AS day_text, {group} AS group_text, COUNT(*) AS n, {total} AS sum_total"
    ));
    sql.append(&search::filtered_from(conn, model, filters, partition)?);
    sql.push(&format!(
        " GROUP BY {day}, {group}) grouped) ranked \
         WHERE day_rank <= {MAX_DAYS} AND group_rank <= {MAX_GROUPS_PER_DAY}"
    ));
    let mut days: Vec<DayTotal> = conn
        .load::<DayTotalRow>(sql)?
        .into_iter()
        .map(|row| DayTotal {
            day: row.day_text,
            group: row.group_text,
            count: row.n,
            sum: row.sum_total,
        })
        .collect();
    // By day, then group with a null group last, the same on both backends.
    days.sort_by(|a, b| {
        (a.day.as_str(), a.group.is_none(), a.group.as_deref()).cmp(&(
            b.day.as_str(),
            b.group.is_none(),
            b.group.as_deref(),
        ))
    });
    Ok(days)
}
