//! Turning a RecordQuery into SQL on the model's table: filters become
//! conditions on typed columns (an `index: true` or `unique: true` property
//! is read through its index), the order becomes a sort key, and cursors
//! become keyset conditions on that key (`(k1, k2) > (?, ?)`), ties broken
//! by id.

use serde_json::Value;

use super::models::record::Record;
use super::query::{cursor_of, decode_cursor, Filter, FilterOp, Order, OrderField, Position, RecordPage, RecordQuery};
use super::query::{DEFAULT_PAGE_SIZE, MAX_OFFSET, MAX_PAGE_SIZE};
use super::schema::{ModelType, PropertyType};
use super::sql::{Arg, Conn, IntRow, Sql};
use super::tables::{bind_value, parse_instant, quoted, row_json, RowJson};
use super::typing::coerce;
use super::{Backend, Partition, StoreError};
use crate::error::FieldError;

fn invalid(field: &str, message: impl Into<String>) -> StoreError {
    StoreError::Validation(vec![FieldError::new(field, message)])
}

/// A column a filter or an order may name, and its type.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Column {
    Id,
    /// `created_at` / `updated_at`.
    Time(&'static str),
    Property(PropertyType),
}

fn column(model: &ModelType, name: &str, field: &str) -> Result<(String, Column), StoreError> {
    Ok(match name {
        "id" => ("t.\"id\"".into(), Column::Id),
        "created_at" => ("t.\"created_at\"".into(), Column::Time("created_at")),
        "updated_at" => ("t.\"updated_at\"".into(), Column::Time("updated_at")),
        _ => {
            let def = model
                .property(name)
                .ok_or_else(|| invalid(field, format!("`{name}` is not a property of {}", model.short_name())))?;
            (format!("t.{}", quoted(name)), Column::Property(def.kind))
        }
    })
}

/// A filter value bound as its column stores it; `None` for null/blank.
fn typed(name: &str, column: Column, value: &Value) -> Result<Option<Arg>, StoreError> {
    match column {
        Column::Id => {
            if value.is_null() {
                return Ok(None);
            }
            match value {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
            .map(|n| Some(Arg::Int(n)))
            .ok_or_else(|| invalid("id", "must be an integer"))
        }
        Column::Time(_) => {
            let stored = coerce(PropertyType::Datetime, value).map_err(|why| invalid(name, why.to_string()))?;
            Ok(stored.as_str().and_then(parse_instant).map(|t| Arg::Instant(Some(t))))
        }
        Column::Property(kind) => {
            let stored = coerce(kind, value).map_err(|why| invalid(name, why.to_string()))?;
            Ok((!stored.is_null()).then(|| bind_value(kind, Some(&stored))))
        }
    }
}

fn range_op(op: &FilterOp) -> &'static str {
    match op {
        FilterOp::Gt(_) => ">",
        FilterOp::Gte(_) => ">=",
        FilterOp::Lt(_) => "<",
        _ => "<=",
    }
}

/// Append ` AND <condition>` for one filter.
fn condition(sql: &mut Sql, model: &ModelType, filter: &Filter) -> Result<(), StoreError> {
    let name = filter.property.as_str();
    let (expr, kind) = column(model, name, name)?;
    sql.push(" AND ");
    match &filter.op {
        FilterOp::Exists(true) => drop(sql.push(&format!("{expr} IS NOT NULL"))),
        FilterOp::Exists(false) => drop(sql.push(&format!("{expr} IS NULL"))),
        FilterOp::Eq(value) => match typed(name, kind, value)? {
            Some(arg) => drop(sql.push(&format!("{expr} = ")).bind(arg)),
            None => drop(sql.push(&format!("{expr} IS NULL"))),
        },
        FilterOp::Ne(value) => match typed(name, kind, value)? {
            Some(arg) => drop(sql.push(&format!("({expr} IS NULL OR {expr} <> ")).bind(arg).push(")")),
            None => drop(sql.push(&format!("{expr} IS NOT NULL"))),
        },
        FilterOp::Contains(text) => {
            if kind != Column::Property(PropertyType::String) {
                return Err(invalid(name, "`contains` applies to string properties only"));
            }
            // instr/strpos: no LIKE wildcards to escape; same on both.
            let function = match sql.backend() {
                Backend::Postgres => "strpos",
                Backend::Sqlite => "instr",
            };
            sql.push(&format!("{function}({expr}, "))
                .bind(Arg::Text(text.clone()))
                .push(") > 0");
        }
        FilterOp::In(values) => {
            let mut args = Vec::with_capacity(values.len());
            for value in values {
                match typed(name, kind, value)? {
                    Some(arg) => args.push(arg),
                    None => return Err(invalid(name, "`in` cannot contain null")),
                }
            }
            if args.is_empty() {
                sql.push("1 = 0");
            } else {
                sql.push(&format!("{expr} IN ")).bind_list(args);
            }
        }
        op @ (FilterOp::Gt(value) | FilterOp::Gte(value) | FilterOp::Lt(value) | FilterOp::Lte(value)) => {
            if let Column::Property(kind) = kind {
                if !matches!(
                    kind,
                    PropertyType::Integer | PropertyType::Float | PropertyType::Datetime
                ) {
                    return Err(invalid(
                        name,
                        format!("is a {kind} and cannot be compared with a range"),
                    ));
                }
            }
            let arg = typed(name, kind, value)?.ok_or_else(|| invalid(name, "a range needs a value"))?;
            sql.push(&format!("{expr} {} ", range_op(op))).bind(arg);
        }
    }
    Ok(())
}

/// One column of the sort key and how a cursor value binds to it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum KeyKind {
    Int,
    Num,
    Text,
    Bool,
    Time,
}

/// A compiled query: FROM/WHERE shared by the page, count and probe queries.
struct Plan {
    /// `FROM ... WHERE ...` with binds.
    from_where: Sql,
    /// Sort key expressions and their kinds, most significant first.
    keys: Vec<(String, KeyKind)>,
    descending: bool,
}

/// Every plan reads one partition (`livemode`, `merchant`): the columns
/// lead the system indexes, so the default order stays one index range.
fn plan(
    conn: &Conn,
    model: &ModelType,
    filters: &[Filter],
    order: &Order,
    partition: Partition<'_>,
) -> Result<Plan, StoreError> {
    let mut sql = conn.sql(&format!(" FROM {} t WHERE t.\"livemode\" = ", quoted(model.table())));
    sql.bind(Arg::OptBool(Some(partition.livemode)))
        .push(" AND t.\"merchant\" = ")
        .bind(Arg::Text(partition.merchant.as_str().to_string()));
    for filter in filters {
        condition(&mut sql, model, filter)?;
    }
    let keys = match &order.field {
        OrderField::Id => vec![("t.\"id\"".to_string(), KeyKind::Int)],
        OrderField::CreatedAt => vec![
            ("t.\"created_at\"".into(), KeyKind::Time),
            ("t.\"id\"".into(), KeyKind::Int),
        ],
        OrderField::UpdatedAt => vec![
            ("t.\"updated_at\"".into(), KeyKind::Time),
            ("t.\"id\"".into(), KeyKind::Int),
        ],
        OrderField::Property(name) => {
            let kind = property_sort_kind(model, name)?;
            let column = format!("t.{}", quoted(name));
            // Records without the property sort after those with it.
            let fallback = match (kind, conn.backend()) {
                (KeyKind::Num | KeyKind::Int, _) => "0",
                (KeyKind::Bool, Backend::Postgres) => "FALSE",
                (KeyKind::Bool, Backend::Sqlite) => "0",
                (KeyKind::Time, Backend::Postgres) => "CAST('1970-01-01T00:00:00Z' AS TIMESTAMPTZ)",
                (KeyKind::Time, Backend::Sqlite) => "'1970-01-01T00:00:00.000000Z'",
                (KeyKind::Text, _) => "''",
            };
            vec![
                (format!("CASE WHEN {column} IS NULL THEN 1 ELSE 0 END"), KeyKind::Int),
                (format!("COALESCE({column}, {fallback})"), kind),
                ("t.\"id\"".to_string(), KeyKind::Int),
            ]
        }
    };
    Ok(Plan {
        from_where: sql,
        keys,
        descending: order.descending,
    })
}

/// ` FROM <table> t WHERE <partition and filters>`: the rows a page of
/// these filters reads, for queries over all of them (`aggregate`).
pub(crate) fn filtered_from(
    conn: &Conn,
    model: &ModelType,
    filters: &[Filter],
    partition: Partition<'_>,
) -> Result<Sql, StoreError> {
    Ok(plan(conn, model, filters, &Order::default(), partition)?.from_where)
}

fn property_sort_kind(model: &ModelType, name: &str) -> Result<KeyKind, StoreError> {
    let def = model
        .property(name)
        .ok_or_else(|| invalid("order", format!("`{name}` is not a property of {}", model.short_name())))?;
    Ok(match def.kind {
        PropertyType::Integer => KeyKind::Int,
        PropertyType::Float => KeyKind::Num,
        PropertyType::Datetime => KeyKind::Time,
        PropertyType::Boolean => KeyKind::Bool,
        PropertyType::String => KeyKind::Text,
        PropertyType::Json | PropertyType::Array => {
            return Err(invalid(
                "order",
                format!("`{name}` is a {} and cannot order records", def.kind),
            ))
        }
    })
}

/// The sort key values of a cursor position.
fn key_values(model: &ModelType, order: &Order, position: &Position) -> Result<Vec<Arg>, StoreError> {
    Ok(match &order.field {
        OrderField::Id => vec![Arg::Int(position.id)],
        OrderField::CreatedAt | OrderField::UpdatedAt => {
            vec![Arg::Instant(Some(position.timestamp()?)), Arg::Int(position.id)]
        }
        OrderField::Property(name) => {
            let kind = property_sort_kind(model, name)?;
            let def_kind = model.property(name).map(|d| d.kind).unwrap_or(PropertyType::String);
            let bad = || StoreError::InvalidCursor("the cursor's value does not fit the property".into());
            let stored = coerce(def_kind, &position.value).map_err(|_| bad())?;
            let missing = stored.is_null();
            let value = match kind {
                KeyKind::Int => Arg::Int(stored.as_i64().unwrap_or(0)),
                KeyKind::Num => Arg::Num(stored.as_f64().unwrap_or(0.0)),
                KeyKind::Bool => Arg::OptBool(Some(stored.as_bool().unwrap_or(false))),
                KeyKind::Text => Arg::Text(stored.as_str().unwrap_or("").to_string()),
                KeyKind::Time => match stored.as_str().and_then(parse_instant) {
                    Some(t) => Arg::Instant(Some(t)),
                    None if missing => match_missing_time(),
                    None => return Err(bad()),
                },
            };
            vec![Arg::Int(i64::from(missing)), value, Arg::Int(position.id)]
        }
    })
}

/// The fallback a missing datetime sorts with (see `plan`).
fn match_missing_time() -> Arg {
    Arg::Instant(chrono::DateTime::from_timestamp(0, 0))
}

/// Where rows must lie relative to a cursor, in the query's order.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    After,
    Before,
    AtOrBefore,
    AtOrAfter,
}

fn keyset(sql: &mut Sql, plan: &Plan, values: Vec<Arg>, side: Side) {
    let ascending_op = match side {
        Side::After => ">",
        Side::Before => "<",
        Side::AtOrBefore => "<=",
        Side::AtOrAfter => ">=",
    };
    let op = if plan.descending {
        match ascending_op {
            ">" => "<",
            "<" => ">",
            "<=" => ">=",
            _ => "<=",
        }
    } else {
        ascending_op
    };
    let columns: Vec<&str> = plan.keys.iter().map(|(expr, _)| expr.as_str()).collect();
    sql.push(&format!(" AND ({}) {op} ", columns.join(", ")))
        .bind_list(values);
}

fn order_by(sql: &mut Sql, plan: &Plan, reverse: bool) {
    let direction = if plan.descending != reverse { "DESC" } else { "ASC" };
    let keys: Vec<String> = plan
        .keys
        .iter()
        .map(|(expr, _)| format!("{expr} {direction}"))
        .collect();
    sql.push(&format!(" ORDER BY {}", keys.join(", ")));
}

fn load_records(conn: &mut Conn, model: &ModelType, sql: Sql) -> Result<Vec<Record>, StoreError> {
    conn.load::<RowJson>(sql)?
        .into_iter()
        .map(|row| row.into_record(model))
        .collect()
}

/// Rows of the plan beyond/before optional cursors, in order (or reversed).
fn fetch_sql(
    conn: &mut Conn,
    model: &ModelType,
    plan: &Plan,
    bounds: &[(Vec<Arg>, Side)],
    reverse: bool,
    limit: usize,
    lock: bool,
) -> Sql {
    let mut sql = conn.sql(&format!("SELECT {}", row_json(model, "t", conn.backend())));
    sql.append(&plan.from_where);
    for (values, side) in bounds {
        keyset(&mut sql, plan, values.clone(), *side);
    }
    order_by(&mut sql, plan, reverse);
    sql.push(&format!(" LIMIT {limit}"));
    if lock && conn.backend() == Backend::Postgres {
        sql.push(" FOR UPDATE");
    }
    sql
}

/// Is there any row on `side` of `values`?
fn any_beyond(conn: &mut Conn, plan: &Plan, values: Vec<Arg>, side: Side) -> Result<bool, StoreError> {
    let mut sql = conn.sql("SELECT CAST(1 AS BIGINT) AS n");
    sql.append(&plan.from_where);
    keyset(&mut sql, plan, values, side);
    sql.push(" LIMIT 1");
    Ok(!conn.load::<IntRow>(sql)?.is_empty())
}

/// Records of one partition matching `filters`.
pub(crate) fn count(
    conn: &mut Conn,
    model: &ModelType,
    filters: &[Filter],
    partition: Partition<'_>,
) -> Result<i64, StoreError> {
    let plan = plan(conn, model, filters, &Order::default(), partition)?;
    let mut sql = conn.sql("SELECT COUNT(*) AS n");
    sql.append(&plan.from_where);
    Ok(conn.first::<IntRow>(sql)?.map_or(0, |row| row.n))
}

/// Just the records of the first page (no counts, no page info); `lock`
/// takes row locks on PostgreSQL.
pub(crate) fn first_page(
    conn: &mut Conn,
    model: &ModelType,
    query: &RecordQuery,
    lock: bool,
    partition: Partition<'_>,
) -> Result<Vec<Record>, StoreError> {
    let plan = plan(conn, model, &query.filters, &query.order, partition)?;
    let limit = query.first.unwrap_or(DEFAULT_PAGE_SIZE);
    // A lookup by one or two key properties (an upsert's match) has a
    // shape the templates fix: worth keeping prepared, and few.
    let sql = fetch_sql(conn, model, &plan, &[], false, limit, lock);
    if query.filters.len() <= 2 {
        load_records(conn, model, sql.keep_prepared())
    } else {
        load_records(conn, model, sql)
    }
}

fn page_size(field: &str, size: Option<usize>) -> Result<Option<usize>, StoreError> {
    match size {
        Some(n) if n > MAX_PAGE_SIZE => Err(invalid(field, format!("must be at most {MAX_PAGE_SIZE}"))),
        other => Ok(other),
    }
}

/// A Relay page: `first` (after `after`) or `last` (before `before`).
pub(crate) fn page(
    conn: &mut Conn,
    model: &ModelType,
    query: &RecordQuery,
    partition: Partition<'_>,
) -> Result<RecordPage, StoreError> {
    let first = page_size("first", query.first)?;
    let last = page_size("last", query.last)?;
    let plan = plan(conn, model, &query.filters, &query.order, partition)?;
    let decode = |cursor: &Option<String>| -> Result<Option<Vec<Arg>>, StoreError> {
        cursor
            .as_deref()
            .map(|c| decode_cursor(c, &query.order).and_then(|p| key_values(model, &query.order, &p)))
            .transpose()
    };
    if let Some(offset) = query.offset {
        return offset_page(conn, model, query, &plan, offset, first, partition);
    }
    let after = decode(&query.after)?;
    let before = decode(&query.before)?;
    let mut bounds = Vec::new();
    if let Some(values) = &after {
        bounds.push((values.clone(), Side::After));
    }
    if let Some(values) = &before {
        bounds.push((values.clone(), Side::Before));
    }

    let (records, has_previous_page, has_next_page) = if first.is_none() && last.is_some() {
        // Backwards: the `last` rows before `before`, read in reverse.
        let n = last.unwrap_or(DEFAULT_PAGE_SIZE);
        let sql = fetch_sql(conn, model, &plan, &bounds, true, n + 1, false);
        let mut records = load_records(conn, model, sql)?;
        let has_previous = records.len() > n;
        records.truncate(n);
        records.reverse();
        let has_next = match &before {
            Some(values) => any_beyond(conn, &plan, values.clone(), Side::AtOrAfter)?,
            None => false,
        };
        (records, has_previous, has_next)
    } else {
        let n = first.unwrap_or(DEFAULT_PAGE_SIZE);
        let sql = fetch_sql(conn, model, &plan, &bounds, false, n + 1, false);
        let mut records = load_records(conn, model, sql)?;
        let has_next = records.len() > n;
        records.truncate(n);
        let mut has_previous = match &after {
            Some(values) => any_beyond(conn, &plan, values.clone(), Side::AtOrBefore)?,
            None => false,
        };
        // `first` and `last` together: the last `last` of the first `first`.
        if let Some(l) = last {
            if records.len() > l {
                records.drain(..records.len() - l);
                has_previous = true;
            }
        }
        (records, has_previous, has_next)
    };
    let total_count = count(conn, model, &query.filters, partition)?;
    Ok(page_of(records, query, has_previous_page, has_next_page, total_count))
}

/// A page of `records` with the cursors of its first and last.
fn page_of(
    records: Vec<Record>,
    query: &RecordQuery,
    has_previous_page: bool,
    has_next_page: bool,
    total_count: i64,
) -> RecordPage {
    RecordPage {
        start_cursor: records.first().map(|r| cursor_of(r, &query.order)),
        end_cursor: records.last().map(|r| cursor_of(r, &query.order)),
        records,
        has_next_page,
        has_previous_page,
        total_count,
    }
}

/// A numbered page: `first` rows (the default page size when absent) after
/// skipping `offset`; no cursors.
fn offset_page(
    conn: &mut Conn,
    model: &ModelType,
    query: &RecordQuery,
    plan: &Plan,
    offset: usize,
    first: Option<usize>,
    partition: Partition<'_>,
) -> Result<RecordPage, StoreError> {
    if query.after.is_some() || query.before.is_some() || query.last.is_some() {
        return Err(invalid("page", "a numbered page takes no cursor and no `last`"));
    }
    if offset > MAX_OFFSET {
        return Err(invalid("page", format!("pages start at most {MAX_OFFSET} records in")));
    }
    let n = first.unwrap_or(DEFAULT_PAGE_SIZE);
    let mut sql = fetch_sql(conn, model, plan, &[], false, n + 1, false);
    sql.push(&format!(" OFFSET {offset}"));
    let mut records = load_records(conn, model, sql)?;
    let has_next_page = records.len() > n;
    records.truncate(n);
    let total_count = count(conn, model, &query.filters, partition)?;
    Ok(page_of(records, query, offset > 0, has_next_page, total_count))
}

/// The SQL a filtered page runs, for EXPLAIN in tests.
#[cfg(test)]
pub(crate) fn page_sql(conn: &Conn, model: &ModelType, query: &RecordQuery) -> Result<Sql, StoreError> {
    let merchant = crate::merchant_id::MerchantId::default();
    let partition = Partition {
        livemode: query.environment.is_some_and(|e| e.livemode()),
        merchant: &merchant,
    };
    let plan = plan(conn, model, &query.filters, &query.order, partition)?;
    let mut sql = conn.sql(&format!("SELECT {}", row_json(model, "t", conn.backend())));
    sql.append(&plan.from_where);
    if let Some(cursor) = &query.after {
        let position = decode_cursor(cursor, &query.order)?;
        keyset(
            &mut sql,
            &plan,
            key_values(model, &query.order, &position)?,
            Side::After,
        );
    }
    order_by(&mut sql, &plan, false);
    sql.push(&format!(" LIMIT {}", query.first.unwrap_or(DEFAULT_PAGE_SIZE) + 1));
    Ok(sql)
}
