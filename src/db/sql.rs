//! SQL text with bound arguments, run on either backend.
//!
//! The store's queries are built at run time (filters, keyset pagination),
//! so they are written once as SQL with typed binds; the only differences
//! between the backends (placeholders, the JSONB cast) live here.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::pg::{Pg, PgConnection};
use diesel::query_builder::BoxedSqlQuery;
use diesel::sql_types::{BigInt, Bool, Double, Nullable, Text, Timestamp, Timestamptz};
use diesel::sqlite::{Sqlite, SqliteConnection};
use diesel::{QueryResult, QueryableByName, RunQueryDsl};

use super::Backend;

/// One bound value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    Num(f64),
    OptNum(Option<f64>),
    Time(NaiveDateTime),
    /// JSON text stored in a JSON column (JSONB on PostgreSQL).
    OptJson(Option<String>),
    OptInt(Option<i64>),
    OptBool(Option<bool>),
    /// A time in a model table: `timestamptz` on PostgreSQL, fixed-width
    /// ISO text on SQLite (so text order is time order).
    Instant(Option<DateTime<Utc>>),
}

/// How SQLite keeps an [`Arg::Instant`]: always microseconds and `Z`, so
/// comparing the text compares the times.
pub(crate) fn instant_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// A statement being built: text with placeholder marks, and its arguments.
/// Marks become `?` or `$n` only when run, so statements can be joined.
#[derive(Debug, Clone)]
pub(crate) struct Sql {
    backend: Backend,
    text: String,
    args: Vec<Arg>,
    /// Keep the statement prepared on the connection (see [`Prepared`]).
    prepared: bool,
}

/// Stands for a placeholder until the statement is rendered.
const MARK: char = '\u{1}';

impl Sql {
    pub(crate) fn new(backend: Backend, text: &str) -> Sql {
        Sql {
            backend,
            text: text.to_string(),
            args: Vec::new(),
            prepared: false,
        }
    }

    /// Keep this statement prepared on the connection, keyed by its text.
    /// Only for statements whose shape the schema decides (a model's
    /// insert, update, read by id), never one a caller's filters shape, so
    /// the cache stays as small as the models.
    pub(crate) fn keep_prepared(mut self) -> Sql {
        self.prepared = true;
        self
    }

    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Append a placeholder for `arg`.
    pub(crate) fn bind(&mut self, arg: Arg) -> &mut Sql {
        self.text.push(MARK);
        self.args.push(arg);
        self
    }

    /// Append `(?, ?, ...)` for `args`.
    pub(crate) fn bind_list(&mut self, args: Vec<Arg>) -> &mut Sql {
        self.push("(");
        for (i, arg) in args.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(arg);
        }
        self.push(")")
    }

    /// Append another statement's text and arguments.
    pub(crate) fn append(&mut self, tail: &Sql) -> &mut Sql {
        self.text.push_str(&tail.text);
        self.args.extend(tail.args.iter().cloned());
        self
    }

    /// The text for the backend, with its placeholders.
    pub(crate) fn render(&self) -> String {
        let mut out = String::with_capacity(self.text.len() + 4 * self.args.len());
        let mut index = 0;
        for c in self.text.chars() {
            if c != MARK {
                out.push(c);
                continue;
            }
            match self.backend {
                Backend::Sqlite => out.push('?'),
                Backend::Postgres => {
                    out.push('$');
                    out.push_str(&(index + 1).to_string());
                    if matches!(self.args.get(index), Some(Arg::OptJson(_))) {
                        out.push_str("::jsonb");
                    }
                }
            }
            index += 1;
        }
        out
    }

    pub(crate) fn into_parts(self) -> (String, Vec<Arg>) {
        (self.render(), self.args)
    }

    /// The arguments, for EXPLAIN in tests.
    #[cfg(test)]
    pub(crate) fn args(&self) -> &[Arg] {
        &self.args
    }
}

/// A pooled connection of either backend.
pub(crate) enum Conn<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

macro_rules! bind_common {
    ($query:expr, $arg:expr, $instant:expr) => {{
        let query = $query;
        match $arg {
            Arg::Text(v) => query.bind::<Text, _>(v),
            Arg::OptText(v) => query.bind::<Nullable<Text>, _>(v),
            Arg::Int(v) => query.bind::<BigInt, _>(v),
            Arg::Num(v) => query.bind::<Double, _>(v),
            Arg::OptNum(v) => query.bind::<Nullable<Double>, _>(v),
            Arg::Time(v) => query.bind::<Timestamp, _>(v),
            Arg::OptJson(v) => query.bind::<Nullable<Text>, _>(v),
            Arg::OptInt(v) => query.bind::<Nullable<BigInt>, _>(v),
            Arg::OptBool(v) => query.bind::<Nullable<Bool>, _>(v),
            Arg::Instant(v) => $instant(query, v),
        }
    }};
}

fn sqlite_query(sql: Sql) -> BoxedSqlQuery<'static, Sqlite, diesel::query_builder::SqlQuery> {
    let (text, args) = sql.into_parts();
    let mut query = diesel::sql_query(text).into_boxed::<Sqlite>();
    for arg in args {
        query = bind_common!(
            query,
            arg,
            |q: BoxedSqlQuery<'static, Sqlite, _>, v: Option<DateTime<Utc>>| q
                .bind::<Nullable<Text>, _>(v.map(instant_text))
        );
    }
    query
}

fn pg_query(sql: Sql) -> BoxedSqlQuery<'static, Pg, diesel::query_builder::SqlQuery> {
    let (text, args) = sql.into_parts();
    let mut query = diesel::sql_query(text).into_boxed::<Pg>();
    for arg in args {
        query = bind_common!(
            query,
            arg,
            |q: BoxedSqlQuery<'static, Pg, _>, v: Option<DateTime<Utc>>| q.bind::<Nullable<Timestamptz>, _>(v)
        );
    }
    query
}

/// A statement diesel keeps prepared per connection (a plain `sql_query` is
/// prepared again on every run): the text between the binds, and the binds.
pub(crate) struct Prepared {
    parts: Vec<String>,
    args: Vec<Arg>,
}

impl Prepared {
    fn new(sql: Sql) -> Prepared {
        let backend = sql.backend;
        let parts = sql.text.split(MARK).map(str::to_string).collect();
        let args = sql
            .args
            .into_iter()
            .map(|arg| match (backend, arg) {
                (Backend::Sqlite, Arg::Instant(v)) => Arg::OptText(v.map(instant_text)),
                (_, arg) => arg,
            })
            .collect();
        Prepared { parts, args }
    }
}

impl diesel::query_builder::QueryId for Prepared {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::Query for Prepared {
    type SqlType = diesel::sql_types::Untyped;
}

impl<C: diesel::Connection> RunQueryDsl<C> for Prepared {}

macro_rules! walk_prepared {
    ($backend:ty, $json_cast:expr, |$out:ident, $v:ident| $instant:expr) => {
        impl diesel::query_builder::QueryFragment<$backend> for Prepared {
            fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, $backend>) -> QueryResult<()> {
                for (i, part) in self.parts.iter().enumerate() {
                    out.push_sql(part);
                    let Some(arg) = self.args.get(i) else {
                        continue;
                    };
                    match arg {
                        Arg::Text(v) => out.push_bind_param::<Text, _>(v)?,
                        Arg::OptText(v) => out.push_bind_param::<Nullable<Text>, _>(v)?,
                        Arg::Int(v) => out.push_bind_param::<BigInt, _>(v)?,
                        Arg::Num(v) => out.push_bind_param::<Double, _>(v)?,
                        Arg::OptNum(v) => out.push_bind_param::<Nullable<Double>, _>(v)?,
                        Arg::Time(v) => out.push_bind_param::<Timestamp, _>(v)?,
                        Arg::OptJson(v) => {
                            out.push_bind_param::<Nullable<Text>, _>(v)?;
                            out.push_sql($json_cast);
                        }
                        Arg::OptInt(v) => out.push_bind_param::<Nullable<BigInt>, _>(v)?,
                        Arg::OptBool(v) => out.push_bind_param::<Nullable<Bool>, _>(v)?,
                        Arg::Instant($v) => {
                            let $out = &mut out;
                            $instant
                        }
                    }
                }
                Ok(())
            }
        }
    };
}

// SQLite's instants were turned into text by `Prepared::new`.
walk_prepared!(Sqlite, "", |_out, _v| {
    return Err(diesel::result::Error::QueryBuilderError(
        "an instant must be text on SQLite".into(),
    ));
});
walk_prepared!(Pg, "::jsonb", |out, v| out
    .push_bind_param::<Nullable<Timestamptz>, _>(v)?);

impl Conn<'_> {
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Conn::Sqlite(_) => Backend::Sqlite,
            Conn::Postgres(_) => Backend::Postgres,
        }
    }

    /// Start a statement for this connection's backend.
    pub(crate) fn sql(&self, text: &str) -> Sql {
        Sql::new(self.backend(), text)
    }

    pub(crate) fn execute(&mut self, sql: Sql) -> QueryResult<usize> {
        match (self, sql.prepared) {
            (Conn::Sqlite(c), true) => Prepared::new(sql).execute(*c),
            (Conn::Postgres(c), true) => Prepared::new(sql).execute(*c),
            (Conn::Sqlite(c), false) => sqlite_query(sql).execute(*c),
            (Conn::Postgres(c), false) => pg_query(sql).execute(*c),
        }
    }

    pub(crate) fn load<T>(&mut self, sql: Sql) -> QueryResult<Vec<T>>
    where
        T: QueryableByName<Sqlite> + QueryableByName<Pg> + 'static,
    {
        match (self, sql.prepared) {
            (Conn::Sqlite(c), true) => Prepared::new(sql).load(*c),
            (Conn::Postgres(c), true) => Prepared::new(sql).load(*c),
            (Conn::Sqlite(c), false) => sqlite_query(sql).load(*c),
            (Conn::Postgres(c), false) => pg_query(sql).load(*c),
        }
    }

    pub(crate) fn first<T>(&mut self, sql: Sql) -> QueryResult<Option<T>>
    where
        T: QueryableByName<Sqlite> + QueryableByName<Pg> + 'static,
    {
        Ok(self.load(sql)?.into_iter().next())
    }

    /// Statements without arguments (DDL, ANALYZE).
    pub(crate) fn batch(&mut self, text: &str) -> QueryResult<()> {
        match self {
            Conn::Sqlite(c) => c.batch_execute(text),
            Conn::Postgres(c) => c.batch_execute(text),
        }
    }
}

/// Rows of one integer column named `n`.
#[derive(QueryableByName, Debug)]
pub(crate) struct IntRow {
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// Rows of one text column named `t`.
#[cfg(test)]
#[derive(QueryableByName, Debug)]
pub(crate) struct TextRow {
    #[diesel(sql_type = Text)]
    pub t: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_backend() {
        let mut sqlite = Sql::new(Backend::Sqlite, "SELECT ");
        sqlite
            .bind(Arg::Int(1))
            .push(", ")
            .bind(Arg::OptJson(Some("{}".into())));
        assert_eq!(sqlite.render(), "SELECT ?, ?");
        let mut pg = Sql::new(Backend::Postgres, "SELECT ");
        pg.bind(Arg::Int(1)).push(", ").bind(Arg::OptJson(Some("{}".into())));
        assert_eq!(pg.render(), "SELECT $1, $2::jsonb");
    }

    #[test]
    fn lists_are_parenthesised() {
        let mut pg = Sql::new(Backend::Postgres, "x IN ");
        pg.bind_list(vec![Arg::Text("a".into()), Arg::Text("b".into())]);
        assert_eq!(pg.render(), "x IN ($1, $2)");
        let mut empty = Sql::new(Backend::Sqlite, "x IN ");
        empty.bind_list(vec![]);
        assert_eq!(empty.render(), "x IN ()");
    }

    #[test]
    fn appended_statements_are_numbered_as_one() {
        let mut head = Sql::new(Backend::Postgres, "SELECT ");
        head.bind(Arg::Int(1));
        let mut tail = Sql::new(Backend::Postgres, " WHERE a = ");
        tail.bind(Arg::Text("x".into())).push(" AND b = ").bind(Arg::Num(2.0));
        head.append(&tail);
        assert_eq!(head.render(), "SELECT $1 WHERE a = $2 AND b = $3");
        assert_eq!(head.args().len(), 3);
    }
}
