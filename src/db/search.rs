//! Turning a RecordQuery into SQL: filters become conditions on the typed
//! side table `record_values` (one of them drives the query through an
//! index), the order becomes a sort key, and cursors become keyset
//! conditions on that key (`(k1, k2) > (?, ?)`), ties broken by id.

use serde_json::Value;

use super::models::record::Record;
use super::models::record::{RecordRow, RECORD_COLUMNS};
use super::query::{cursor_of, decode_cursor, Filter, FilterOp, Order, OrderField, Position, RecordPage, RecordQuery};
use super::query::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use super::schema::{ModelType, PropertyType};
use super::sql::{Arg, Conn, IntRow, Sql};
use super::typing::{coerce, index_key};
use super::StoreError;
use crate::error::FieldError;

/// A test on one `record_values` row.
#[derive(Debug, Clone, PartialEq)]
enum ValueTest {
    Any,
    TextEq(String),
    TextIn(Vec<String>),
    NumEq(f64),
    NumIn(Vec<f64>),
    NumCmp(&'static str, f64),
}

impl ValueTest {
    /// Tests that narrow an index range (worth driving the query).
    fn is_selective(&self) -> bool {
        !matches!(self, ValueTest::Any)
    }

    fn write(&self, sql: &mut Sql, alias: &str) {
        match self {
            ValueTest::Any => {
                sql.push("1 = 1");
            }
            ValueTest::TextEq(text) => {
                sql.push(&format!("{alias}.text_value = "))
                    .bind(Arg::Text(text.clone()));
            }
            ValueTest::TextIn(texts) => {
                sql.push(&format!("{alias}.text_value IN "))
                    .bind_list(texts.iter().cloned().map(Arg::Text).collect());
            }
            ValueTest::NumEq(num) => {
                sql.push(&format!("{alias}.num_value = ")).bind(Arg::Num(*num));
            }
            ValueTest::NumIn(nums) => {
                sql.push(&format!("{alias}.num_value IN "))
                    .bind_list(nums.iter().copied().map(Arg::Num).collect());
            }
            ValueTest::NumCmp(op, num) => {
                sql.push(&format!("{alias}.num_value {op} ")).bind(Arg::Num(*num));
            }
        }
    }
}

/// One filter, compiled.
#[derive(Debug, Clone, PartialEq)]
enum Cond {
    /// Matches nothing (an empty `in`, `id` not existing).
    Never,
    /// On the record id.
    Id(&'static str, i64),
    IdIn(Vec<i64>),
    /// Has a value row passing the test.
    Has(String, ValueTest),
    /// Has no value row passing the test (`ne`, `exists: false`).
    HasNot(String, ValueTest),
}

fn invalid(field: &str, message: impl Into<String>) -> StoreError {
    StoreError::Validation(vec![FieldError::new(field, message)])
}

fn compile(model: &ModelType, filter: &Filter) -> Result<Cond, StoreError> {
    let name = filter.property.as_str();
    if name == "id" {
        return compile_id(filter);
    }
    let def = model
        .property(name)
        .ok_or_else(|| invalid(name, format!("is not a property of {}", model.short_name())))?;
    let kind = def.kind;
    // A filter value typed like a stored one; null/blank means "absent".
    let typed = |value: &Value| -> Result<Option<ValueTest>, StoreError> {
        let stored = coerce(kind, value).map_err(|why| invalid(name, why.to_string()))?;
        let Some(key) = index_key(kind, &stored) else {
            return Ok(None);
        };
        Ok(Some(match (kind, key.text, key.num) {
            (PropertyType::Float | PropertyType::Datetime, _, Some(num)) => ValueTest::NumEq(num),
            (_, Some(text), _) => ValueTest::TextEq(text),
            _ => return Err(invalid(name, "cannot be compared")),
        }))
    };
    let cond = match &filter.op {
        FilterOp::Exists(true) => Cond::Has(name.into(), ValueTest::Any),
        FilterOp::Exists(false) => Cond::HasNot(name.into(), ValueTest::Any),
        FilterOp::Eq(value) => match typed(value)? {
            Some(test) => Cond::Has(name.into(), test),
            None => Cond::HasNot(name.into(), ValueTest::Any),
        },
        FilterOp::Ne(value) => match typed(value)? {
            Some(test) => Cond::HasNot(name.into(), test),
            None => Cond::Has(name.into(), ValueTest::Any),
        },
        FilterOp::In(values) => {
            let mut texts = Vec::new();
            let mut nums = Vec::new();
            for value in values {
                match typed(value)? {
                    Some(ValueTest::TextEq(t)) => texts.push(t),
                    Some(ValueTest::NumEq(n)) => nums.push(n),
                    _ => return Err(invalid(name, "`in` cannot contain null")),
                }
            }
            match (texts.is_empty(), nums.is_empty()) {
                (true, true) => Cond::Never,
                (false, _) => Cond::Has(name.into(), ValueTest::TextIn(texts)),
                (true, false) => Cond::Has(name.into(), ValueTest::NumIn(nums)),
            }
        }
        FilterOp::Gt(value) | FilterOp::Gte(value) | FilterOp::Lt(value) | FilterOp::Lte(value) => {
            if !matches!(
                kind,
                PropertyType::Integer | PropertyType::Float | PropertyType::Datetime
            ) {
                return Err(invalid(
                    name,
                    format!("is a {kind} and cannot be compared with a range"),
                ));
            }
            let stored = coerce(kind, value).map_err(|why| invalid(name, why.to_string()))?;
            let num = index_key(kind, &stored)
                .and_then(|k| k.num)
                .ok_or_else(|| invalid(name, "a range needs a value"))?;
            Cond::Has(name.into(), ValueTest::NumCmp(range_op(&filter.op), num))
        }
    };
    Ok(cond)
}

fn range_op(op: &FilterOp) -> &'static str {
    match op {
        FilterOp::Gt(_) => ">",
        FilterOp::Gte(_) => ">=",
        FilterOp::Lt(_) => "<",
        _ => "<=",
    }
}

fn compile_id(filter: &Filter) -> Result<Cond, StoreError> {
    let id = |value: &Value| -> Result<i64, StoreError> {
        match value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| invalid("id", "must be an integer"))
    };
    Ok(match &filter.op {
        FilterOp::Exists(true) => Cond::Id(">", i64::MIN),
        FilterOp::Exists(false) => Cond::Never,
        FilterOp::Eq(v) => Cond::Id("=", id(v)?),
        FilterOp::Ne(v) => Cond::Id("<>", id(v)?),
        FilterOp::In(values) if values.is_empty() => Cond::Never,
        FilterOp::In(values) => Cond::IdIn(values.iter().map(id).collect::<Result<_, _>>()?),
        op @ (FilterOp::Gt(v) | FilterOp::Gte(v) | FilterOp::Lt(v) | FilterOp::Lte(v)) => {
            Cond::Id(range_op(op), id(v)?)
        }
    })
}

/// One column of the sort key and how a cursor value binds to it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum KeyKind {
    Int,
    Num,
    Text,
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

fn plan(
    conn: &Conn,
    model: &ModelType,
    filters: &[Filter],
    order: &Order,
    for_count: bool,
) -> Result<Plan, StoreError> {
    let conds = filters
        .iter()
        .map(|f| compile(model, f))
        .collect::<Result<Vec<_>, _>>()?;
    // The most selective value test drives the query through an index.
    let driver = conds
        .iter()
        .position(|c| matches!(c, Cond::Has(_, ValueTest::TextEq(_))))
        .or_else(|| {
            conds
                .iter()
                .position(|c| matches!(c, Cond::Has(_, t) if t.is_selective()))
        });

    let mut sql = conn.sql("");
    match driver.map(|i| &conds[i]) {
        Some(Cond::Has(property, test)) => {
            // A count needs only the value rows: no join to records.
            if for_count {
                sql.push(" FROM record_values d");
            } else {
                sql.push(" FROM record_values d JOIN records r ON r.id = d.record_id");
                order_join(&mut sql, model, order)?;
            }
            sql.push(" WHERE d.model = ")
                .bind(Arg::Text(model.name.clone()))
                .push(" AND d.property = ")
                .bind(Arg::Text(property.clone()))
                .push(" AND ");
            test.write(&mut sql, "d");
        }
        _ => {
            sql.push(" FROM records r");
            if !for_count {
                order_join(&mut sql, model, order)?;
            }
            sql.push(" WHERE r.model = ").bind(Arg::Text(model.name.clone()));
        }
    }
    let id = if for_count && driver.is_some() {
        "d.record_id"
    } else {
        "r.id"
    };
    for (i, cond) in conds.iter().enumerate() {
        if Some(i) == driver {
            continue;
        }
        sql.push(" AND ");
        match cond {
            Cond::Never => {
                sql.push("1 = 0");
            }
            Cond::Id(op, value) => {
                sql.push(&format!("{id} {op} ")).bind(Arg::Int(*value));
            }
            Cond::IdIn(ids) => {
                sql.push(&format!("{id} IN "))
                    .bind_list(ids.iter().copied().map(Arg::Int).collect());
            }
            Cond::Has(property, test) | Cond::HasNot(property, test) => {
                if matches!(cond, Cond::HasNot(..)) {
                    sql.push("NOT ");
                }
                sql.push(&format!(
                    "EXISTS (SELECT 1 FROM record_values v WHERE v.record_id = {id} AND v.property = "
                ))
                .bind(Arg::Text(property.clone()))
                .push(" AND ");
                test.write(&mut sql, "v");
                sql.push(")");
            }
        }
    }

    let driven = driver.is_some();
    let keys = match &order.field {
        OrderField::Id => vec![("r.id".to_string(), KeyKind::Int)],
        // created_at is copied into the value rows: ordering on the driving
        // row's copy reads the index in order, with no sort.
        OrderField::CreatedAt if driven => vec![
            ("d.created_at".to_string(), KeyKind::Time),
            ("d.record_id".to_string(), KeyKind::Int),
        ],
        OrderField::CreatedAt => vec![("r.created_at".into(), KeyKind::Time), ("r.id".into(), KeyKind::Int)],
        OrderField::UpdatedAt => vec![("r.updated_at".into(), KeyKind::Time), ("r.id".into(), KeyKind::Int)],
        OrderField::Property(name) => {
            let (column, kind) = match property_sort_kind(model, name)? {
                KeyKind::Num => ("COALESCE(o.num_value, 0)", KeyKind::Num),
                _ => ("COALESCE(o.text_value, '')", KeyKind::Text),
            };
            vec![
                (
                    "CASE WHEN o.record_id IS NULL THEN 1 ELSE 0 END".to_string(),
                    KeyKind::Int,
                ),
                (column.to_string(), kind),
                ("r.id".to_string(), KeyKind::Int),
            ]
        }
    };
    Ok(Plan {
        from_where: sql,
        keys,
        descending: order.descending,
    })
}

fn property_sort_kind(model: &ModelType, name: &str) -> Result<KeyKind, StoreError> {
    let def = model
        .property(name)
        .ok_or_else(|| invalid("order", format!("`{name}` is not a property of {}", model.short_name())))?;
    Ok(match def.kind {
        PropertyType::Integer | PropertyType::Float | PropertyType::Datetime => KeyKind::Num,
        _ => KeyKind::Text,
    })
}

/// Ordering by a property joins its value row (absent for missing values).
fn order_join(sql: &mut Sql, model: &ModelType, order: &Order) -> Result<(), StoreError> {
    if let OrderField::Property(name) = &order.field {
        property_sort_kind(model, name)?;
        sql.push(" LEFT JOIN record_values o ON o.record_id = r.id AND o.property = ")
            .bind(Arg::Text(name.clone()));
    }
    Ok(())
}

/// The sort key values of a cursor position.
fn key_values(model: &ModelType, order: &Order, position: &Position) -> Result<Vec<Arg>, StoreError> {
    Ok(match &order.field {
        OrderField::Id => vec![Arg::Int(position.id)],
        OrderField::CreatedAt | OrderField::UpdatedAt => {
            vec![Arg::Time(position.timestamp()?.naive_utc()), Arg::Int(position.id)]
        }
        OrderField::Property(name) => {
            let kind = property_sort_kind(model, name)?;
            let def_kind = model.property(name).map(|d| d.kind).unwrap_or(PropertyType::String);
            let stored = coerce(def_kind, &position.value)
                .map_err(|_| StoreError::InvalidCursor("the cursor's value does not fit the property".into()))?;
            match (index_key(def_kind, &stored), kind) {
                (None, KeyKind::Num) => vec![Arg::Int(1), Arg::Num(0.0), Arg::Int(position.id)],
                (None, _) => vec![Arg::Int(1), Arg::Text(String::new()), Arg::Int(position.id)],
                (Some(key), KeyKind::Num) => {
                    vec![Arg::Int(0), Arg::Num(key.num.unwrap_or(0.0)), Arg::Int(position.id)]
                }
                (Some(key), _) => vec![
                    Arg::Int(0),
                    Arg::Text(key.text.unwrap_or_default()),
                    Arg::Int(position.id),
                ],
            }
        }
    })
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

/// Rows of the plan beyond/before optional cursors, in order (or reversed).
fn fetch(
    conn: &mut Conn,
    model: &ModelType,
    plan: &Plan,
    bounds: &[(Vec<Arg>, Side)],
    reverse: bool,
    limit: usize,
) -> Result<Vec<Record>, StoreError> {
    let mut sql = conn.sql(&format!("SELECT {RECORD_COLUMNS}"));
    append(&mut sql, &plan.from_where);
    for (values, side) in bounds {
        keyset(&mut sql, plan, values.clone(), *side);
    }
    order_by(&mut sql, plan, reverse);
    sql.push(&format!(" LIMIT {limit}"));
    conn.load::<RecordRow>(sql)?
        .into_iter()
        .map(|row| row.into_record(model))
        .collect()
}

/// Is there any row on `side` of `values`?
fn any_beyond(conn: &mut Conn, plan: &Plan, values: Vec<Arg>, side: Side) -> Result<bool, StoreError> {
    let mut sql = conn.sql("SELECT CAST(1 AS BIGINT) AS n");
    append(&mut sql, &plan.from_where);
    keyset(&mut sql, plan, values, side);
    sql.push(" LIMIT 1");
    Ok(!conn.load::<IntRow>(sql)?.is_empty())
}

fn append(sql: &mut Sql, tail: &Sql) {
    sql.append(tail);
}

/// Records matching `filters`.
pub(crate) fn count(conn: &mut Conn, model: &ModelType, filters: &[Filter]) -> Result<i64, StoreError> {
    let plan = plan(conn, model, filters, &Order::default(), true)?;
    let mut sql = conn.sql("SELECT COUNT(*) AS n");
    append(&mut sql, &plan.from_where);
    Ok(conn.first::<IntRow>(sql)?.map_or(0, |row| row.n))
}

/// Just the records of the first page (no counts, no page info).
pub(crate) fn first_page(conn: &mut Conn, model: &ModelType, query: &RecordQuery) -> Result<Vec<Record>, StoreError> {
    let plan = plan(conn, model, &query.filters, &query.order, false)?;
    fetch(conn, model, &plan, &[], false, query.first.unwrap_or(DEFAULT_PAGE_SIZE))
}

fn page_size(field: &str, size: Option<usize>) -> Result<Option<usize>, StoreError> {
    match size {
        Some(n) if n > MAX_PAGE_SIZE => Err(invalid(field, format!("must be at most {MAX_PAGE_SIZE}"))),
        other => Ok(other),
    }
}

/// A Relay page: `first` (after `after`) or `last` (before `before`).
pub(crate) fn page(conn: &mut Conn, model: &ModelType, query: &RecordQuery) -> Result<RecordPage, StoreError> {
    let first = page_size("first", query.first)?;
    let last = page_size("last", query.last)?;
    let plan = plan(conn, model, &query.filters, &query.order, false)?;
    let decode = |cursor: &Option<String>| -> Result<Option<Vec<Arg>>, StoreError> {
        cursor
            .as_deref()
            .map(|c| decode_cursor(c, &query.order).and_then(|p| key_values(model, &query.order, &p)))
            .transpose()
    };
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
        let mut records = fetch(conn, model, &plan, &bounds, true, n + 1)?;
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
        let mut records = fetch(conn, model, &plan, &bounds, false, n + 1)?;
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
    let total_count = count(conn, model, &query.filters)?;
    Ok(RecordPage {
        start_cursor: records.first().map(|r| cursor_of(r, &query.order)),
        end_cursor: records.last().map(|r| cursor_of(r, &query.order)),
        records,
        has_next_page,
        has_previous_page,
        total_count,
    })
}

/// The SQL a filtered page runs, for EXPLAIN in tests.
#[cfg(test)]
pub(crate) fn page_sql(conn: &Conn, model: &ModelType, query: &RecordQuery) -> Result<Sql, StoreError> {
    let plan = plan(conn, model, &query.filters, &query.order, false)?;
    let mut sql = conn.sql(&format!("SELECT {RECORD_COLUMNS}"));
    append(&mut sql, &plan.from_where);
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
