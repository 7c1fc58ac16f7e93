//! SQL text with bound arguments, run on either backend.
//!
//! The store's queries are built at run time (filters, keyset pagination),
//! so they are written once as SQL with typed binds; the only differences
//! between the backends (placeholders, the JSONB cast) live here.

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::pg::{Pg, PgConnection};
use diesel::query_builder::BoxedSqlQuery;
use diesel::sql_types::{BigInt, Double, Nullable, Text, Timestamp};
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
    OptTime(Option<NaiveDateTime>),
    /// JSON text stored in a JSON column (JSONB on PostgreSQL).
    Json(String),
}

/// A statement being built: text with placeholders, and its arguments.
#[derive(Debug, Clone)]
pub(crate) struct Sql {
    backend: Backend,
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    pub(crate) fn new(backend: Backend, text: &str) -> Sql {
        Sql {
            backend,
            text: text.to_string(),
            args: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Append a placeholder for `arg`.
    pub(crate) fn bind(&mut self, arg: Arg) -> &mut Sql {
        match self.backend {
            Backend::Sqlite => self.text.push('?'),
            Backend::Postgres => {
                self.text.push('$');
                self.text.push_str(&(self.args.len() + 1).to_string());
                if matches!(arg, Arg::Json(_)) {
                    self.text.push_str("::jsonb");
                }
            }
        }
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

    #[cfg(test)]
    pub(crate) fn text(&self) -> &str {
        &self.text
    }
}

/// A pooled connection of either backend.
pub(crate) enum Conn<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Text(v) => query.bind::<Text, _>(v),
                Arg::OptText(v) => query.bind::<Nullable<Text>, _>(v),
                Arg::Int(v) => query.bind::<BigInt, _>(v),
                Arg::Num(v) => query.bind::<Double, _>(v),
                Arg::OptNum(v) => query.bind::<Nullable<Double>, _>(v),
                Arg::Time(v) => query.bind::<Timestamp, _>(v),
                Arg::OptTime(v) => query.bind::<Nullable<Timestamp>, _>(v),
                Arg::Json(v) => query.bind::<Text, _>(v),
            };
        }
        query
    }};
}

fn sqlite_query(sql: Sql) -> BoxedSqlQuery<'static, Sqlite, diesel::query_builder::SqlQuery> {
    bind_all!(diesel::sql_query(sql.text).into_boxed::<Sqlite>(), sql.args)
}

fn pg_query(sql: Sql) -> BoxedSqlQuery<'static, Pg, diesel::query_builder::SqlQuery> {
    bind_all!(diesel::sql_query(sql.text).into_boxed::<Pg>(), sql.args)
}

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
        match self {
            Conn::Sqlite(c) => sqlite_query(sql).execute(*c),
            Conn::Postgres(c) => pg_query(sql).execute(*c),
        }
    }

    pub(crate) fn load<T>(&mut self, sql: Sql) -> QueryResult<Vec<T>>
    where
        T: QueryableByName<Sqlite> + QueryableByName<Pg> + 'static,
    {
        match self {
            Conn::Sqlite(c) => sqlite_query(sql).load(*c),
            Conn::Postgres(c) => pg_query(sql).load(*c),
        }
    }

    pub(crate) fn first<T>(&mut self, sql: Sql) -> QueryResult<Option<T>>
    where
        T: QueryableByName<Sqlite> + QueryableByName<Pg> + 'static,
    {
        Ok(self.load(sql)?.into_iter().next())
    }

    /// Statements without arguments (PRAGMAs, EXPLAIN setup).
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
        sqlite.bind(Arg::Int(1)).push(", ").bind(Arg::Json("{}".into()));
        assert_eq!(sqlite.text(), "SELECT ?, ?");
        let mut pg = Sql::new(Backend::Postgres, "SELECT ");
        pg.bind(Arg::Int(1)).push(", ").bind(Arg::Json("{}".into()));
        assert_eq!(pg.text(), "SELECT $1, $2::jsonb");
    }

    #[test]
    fn lists_are_parenthesised() {
        let mut pg = Sql::new(Backend::Postgres, "x IN ");
        pg.bind_list(vec![Arg::Text("a".into()), Arg::Text("b".into())]);
        assert_eq!(pg.text(), "x IN ($1, $2)");
        let mut empty = Sql::new(Backend::Sqlite, "x IN ");
        empty.bind_list(vec![]);
        assert_eq!(empty.text(), "x IN ()");
    }
}
