//! `settings_kv`: small named values. Gateway secrets arrive here already
//! encrypted by the caller; this table never sees clear secrets.

use diesel::sql_types::Text;
use diesel::QueryableByName;

use crate::db::sql::{Arg, Conn};
use crate::db::{Store, StoreError};

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    value: String,
}

fn load(conn: &mut Conn, key: &str) -> Result<Option<String>, StoreError> {
    let mut sql = conn.sql("SELECT \"value\" FROM settings_kv WHERE \"key\" = ");
    sql.bind(Arg::Text(key.to_string()));
    Ok(conn.first::<Row>(sql)?.map(|row| row.value))
}

pub fn get(store: &Store, key: &str) -> Result<Option<String>, StoreError> {
    store.database().with_conn(|conn| load(conn, key))
}

/// Insert or replace.
pub fn set(store: &Store, key: &str, value: &str) -> Result<(), StoreError> {
    store.database().with_conn(|conn| {
        let mut sql = conn.sql("INSERT INTO settings_kv (\"key\", \"value\") VALUES ");
        sql.bind_list(vec![Arg::Text(key.to_string()), Arg::Text(value.to_string())])
            .push(" ON CONFLICT (\"key\") DO UPDATE SET \"value\" = excluded.\"value\"");
        conn.execute(sql)?;
        Ok(())
    })
}

/// Store `value` under `key` unless a value is there; returns the value
/// that is stored (ours, or the one another instance stored first).
pub fn get_or_insert(store: &Store, key: &str, value: &str) -> Result<String, StoreError> {
    store.database().with_transaction(|conn| {
        let mut sql = conn.sql("INSERT INTO settings_kv (\"key\", \"value\") VALUES ");
        sql.bind_list(vec![Arg::Text(key.to_string()), Arg::Text(value.to_string())])
            .push(" ON CONFLICT (\"key\") DO NOTHING");
        conn.execute(sql)?;
        load(conn, key)?.ok_or_else(|| StoreError::Database(format!("setting `{key}` vanished")))
    })
}

/// Remove `key`; says whether it was there.
pub fn delete(store: &Store, key: &str) -> Result<bool, StoreError> {
    store.database().with_conn(|conn| {
        let mut sql = conn.sql("DELETE FROM settings_kv WHERE \"key\" = ");
        sql.bind(Arg::Text(key.to_string()));
        Ok(conn.execute(sql)? > 0)
    })
}
