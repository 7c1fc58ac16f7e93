//! `gateway_configs`: a gateway's keys per environment, stored at run time.
//! Secrets arrive here already encrypted by the caller; this table never
//! sees them in clear.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
use diesel::QueryableByName;

use crate::db::sql::{Arg, Conn};
use crate::db::{Store, StoreError};
use crate::environment::Environment;

#[derive(Debug, Clone, PartialEq)]
pub struct GatewayConfig {
    pub id: i64,
    pub gateway: String,
    pub environment: Environment,
    pub publishable_key: String,
    pub secret_key_encrypted: String,
    pub webhook_secret_encrypted: Option<String>,
    /// `unchecked`, `connected`, or `failed` (with `status_reason`).
    pub status: String,
    pub status_reason: Option<String>,
    pub checked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The columns a write sets.
#[derive(Debug, Clone)]
pub struct NewGatewayConfig {
    pub gateway: String,
    pub environment: Environment,
    pub publishable_key: String,
    pub secret_key_encrypted: String,
    pub webhook_secret_encrypted: Option<String>,
}

const COLUMNS: &str = "id, gateway, environment, publishable_key, secret_key_encrypted, webhook_secret_encrypted, \
                       status, status_reason, checked_at, created_at, updated_at";

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    gateway: String,
    #[diesel(sql_type = Text)]
    environment: String,
    #[diesel(sql_type = Text)]
    publishable_key: String,
    #[diesel(sql_type = Text)]
    secret_key_encrypted: String,
    #[diesel(sql_type = Nullable<Text>)]
    webhook_secret_encrypted: Option<String>,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<Text>)]
    status_reason: Option<String>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    checked_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Timestamp)]
    created_at: NaiveDateTime,
    #[diesel(sql_type = Timestamp)]
    updated_at: NaiveDateTime,
}

impl Row {
    fn into_config(self) -> Result<GatewayConfig, StoreError> {
        let environment = Environment::parse(&self.environment).ok_or_else(|| {
            StoreError::Database(format!(
                "gateway configuration {} has environment `{}`",
                self.id, self.environment
            ))
        })?;
        Ok(GatewayConfig {
            id: self.id,
            gateway: self.gateway,
            environment,
            publishable_key: self.publishable_key,
            secret_key_encrypted: self.secret_key_encrypted,
            webhook_secret_encrypted: self.webhook_secret_encrypted,
            status: self.status,
            status_reason: self.status_reason,
            checked_at: self.checked_at.map(|t| t.and_utc()),
            created_at: self.created_at.and_utc(),
            updated_at: self.updated_at.and_utc(),
        })
    }
}

fn select(conn: &mut Conn, gateway: &str, environment: Environment) -> Result<Option<GatewayConfig>, StoreError> {
    let mut sql = conn.sql(&format!("SELECT {COLUMNS} FROM gateway_configs WHERE gateway = "));
    sql.bind(Arg::Text(gateway.to_string()))
        .push(" AND environment = ")
        .bind(Arg::Text(environment.as_str().to_string()));
    conn.first::<Row>(sql)?.map(Row::into_config).transpose()
}

pub fn get(store: &Store, gateway: &str, environment: Environment) -> Result<Option<GatewayConfig>, StoreError> {
    store.database().with_conn(|conn| select(conn, gateway, environment))
}

/// Every stored configuration (for rotation and listings).
pub fn all(store: &Store) -> Result<Vec<GatewayConfig>, StoreError> {
    store.database().with_conn(|conn| {
        let sql = conn.sql(&format!(
            "SELECT {COLUMNS} FROM gateway_configs ORDER BY gateway, environment"
        ));
        conn.load::<Row>(sql)?.into_iter().map(Row::into_config).collect()
    })
}

/// Insert a configuration; None when one exists for this gateway and
/// environment (it is left as it is).
pub fn insert(store: &Store, new: &NewGatewayConfig) -> Result<Option<GatewayConfig>, StoreError> {
    store.database().with_transaction(|conn| {
        if select(conn, &new.gateway, new.environment)?.is_some() {
            return Ok(None);
        }
        let now = Utc::now().naive_utc();
        let mut sql = conn.sql(
            "INSERT INTO gateway_configs (gateway, environment, publishable_key, secret_key_encrypted, \
             webhook_secret_encrypted, created_at, updated_at) VALUES ",
        );
        sql.bind_list(vec![
            Arg::Text(new.gateway.clone()),
            Arg::Text(new.environment.as_str().to_string()),
            Arg::Text(new.publishable_key.clone()),
            Arg::Text(new.secret_key_encrypted.clone()),
            Arg::OptText(new.webhook_secret_encrypted.clone()),
            Arg::Time(now),
            Arg::Time(now),
        ])
        // Two instances configuring at once: the second finds the first's.
        .push(" ON CONFLICT (gateway, environment) DO NOTHING");
        if conn.execute(sql)? == 0 {
            return Ok(None);
        }
        select(conn, &new.gateway, new.environment)
    })
}

/// Replace the keys of configuration `id`; the connection status goes back
/// to `unchecked` until checked again.
pub fn update_keys(store: &Store, id: i64, keys: &NewGatewayConfig) -> Result<Option<GatewayConfig>, StoreError> {
    store.database().with_transaction(|conn| {
        let mut sql = conn.sql("UPDATE gateway_configs SET publishable_key = ");
        sql.bind(Arg::Text(keys.publishable_key.clone()))
            .push(", secret_key_encrypted = ")
            .bind(Arg::Text(keys.secret_key_encrypted.clone()))
            .push(", webhook_secret_encrypted = ")
            .bind(Arg::OptText(keys.webhook_secret_encrypted.clone()))
            .push(", status = 'unchecked', status_reason = NULL, checked_at = NULL, updated_at = ")
            .bind(Arg::Time(Utc::now().naive_utc()))
            .push(" WHERE id = ")
            .bind(Arg::Int(id));
        if conn.execute(sql)? == 0 {
            return Ok(None);
        }
        select(conn, &keys.gateway, keys.environment)
    })
}

/// Re-encrypted secrets of `config` (key rotation): the clear values and
/// the status do not change. Written only if the row still holds what was
/// read, so a key changed meanwhile is never put back; false then.
pub fn replace_ciphertexts(
    store: &Store,
    config: &GatewayConfig,
    secret_key_encrypted: &str,
    webhook_secret_encrypted: Option<&str>,
) -> Result<bool, StoreError> {
    store.database().with_conn(|conn| {
        let mut sql = conn.sql("UPDATE gateway_configs SET secret_key_encrypted = ");
        sql.bind(Arg::Text(secret_key_encrypted.to_string()))
            .push(", webhook_secret_encrypted = ")
            .bind(Arg::OptText(webhook_secret_encrypted.map(str::to_string)))
            .push(" WHERE id = ")
            .bind(Arg::Int(config.id))
            .push(" AND secret_key_encrypted = ")
            .bind(Arg::Text(config.secret_key_encrypted.clone()));
        match &config.webhook_secret_encrypted {
            Some(old) => {
                sql.push(" AND webhook_secret_encrypted = ")
                    .bind(Arg::Text(old.clone()));
            }
            None => {
                sql.push(" AND webhook_secret_encrypted IS NULL");
            }
        }
        Ok(conn.execute(sql)? == 1)
    })
}

/// Record the outcome of a connection check.
pub fn set_status(store: &Store, id: i64, status: &str, reason: Option<&str>) -> Result<(), StoreError> {
    store.database().with_conn(|conn| {
        let mut sql = conn.sql("UPDATE gateway_configs SET status = ");
        sql.bind(Arg::Text(status.to_string()))
            .push(", status_reason = ")
            .bind(Arg::OptText(reason.map(str::to_string)))
            .push(", checked_at = ")
            .bind(Arg::Time(Utc::now().naive_utc()))
            .push(" WHERE id = ")
            .bind(Arg::Int(id));
        conn.execute(sql)?;
        Ok(())
    })
}
