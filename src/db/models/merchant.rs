//! `merchants` and `api_keys`: who may call the REST and GraphQL APIs, and
//! whose records, credentials and notification URL a call works with.
//! Secrets arrive already encrypted and key hashes already hashed: these
//! tables never see either in clear.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};
use diesel::QueryableByName;

use crate::db::sql::{Arg, Conn};
use crate::db::{Store, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct MerchantRow {
    pub id: String,
    pub name: String,
    pub stripe_secret_key_encrypted: Option<String>,
    pub stripe_webhook_secret_encrypted: Option<String>,
    pub webhook_url: Option<String>,
    pub webhook_signing_secret_encrypted: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const MERCHANT_COLUMNS: &str = "id, name, stripe_secret_key_encrypted, stripe_webhook_secret_encrypted, webhook_url, \
                                webhook_signing_secret_encrypted, created_at, updated_at";

#[derive(QueryableByName)]
struct MerchantSql {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Nullable<Text>)]
    stripe_secret_key_encrypted: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    stripe_webhook_secret_encrypted: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    webhook_url: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    webhook_signing_secret_encrypted: Option<String>,
    #[diesel(sql_type = Timestamp)]
    created_at: NaiveDateTime,
    #[diesel(sql_type = Timestamp)]
    updated_at: NaiveDateTime,
}

impl From<MerchantSql> for MerchantRow {
    fn from(row: MerchantSql) -> MerchantRow {
        MerchantRow {
            id: row.id,
            name: row.name,
            stripe_secret_key_encrypted: row.stripe_secret_key_encrypted,
            stripe_webhook_secret_encrypted: row.stripe_webhook_secret_encrypted,
            webhook_url: row.webhook_url,
            webhook_signing_secret_encrypted: row.webhook_signing_secret_encrypted,
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        }
    }
}

fn select_merchant(conn: &mut Conn, id: &str) -> Result<Option<MerchantRow>, StoreError> {
    let mut sql = conn.sql(&format!("SELECT {MERCHANT_COLUMNS} FROM merchants WHERE id = "));
    sql.bind(Arg::Text(id.to_string()));
    // One shape, read for every notification and merchant request: kept
    // prepared rather than parsed and planned each time.
    Ok(conn.first::<MerchantSql>(sql.keep_prepared())?.map(MerchantRow::from))
}

pub fn get(store: &Store, id: &str) -> Result<Option<MerchantRow>, StoreError> {
    store.database().with_conn(|conn| select_merchant(conn, id))
}

/// Every merchant, oldest first.
pub fn all(store: &Store) -> Result<Vec<MerchantRow>, StoreError> {
    store.database().with_conn(|conn| {
        let sql = conn.sql(&format!(
            "SELECT {MERCHANT_COLUMNS} FROM merchants ORDER BY created_at, id"
        ));
        Ok(conn
            .load::<MerchantSql>(sql)?
            .into_iter()
            .map(MerchantRow::from)
            .collect())
    })
}

/// The merchants that have a notification URL (the delivery loop's list).
pub fn with_webhook_url(store: &Store) -> Result<Vec<MerchantRow>, StoreError> {
    store.database().with_conn(|conn| {
        let sql = conn.sql(&format!(
            "SELECT {MERCHANT_COLUMNS} FROM merchants WHERE webhook_url IS NOT NULL ORDER BY id"
        ));
        Ok(conn
            .load::<MerchantSql>(sql)?
            .into_iter()
            .map(MerchantRow::from)
            .collect())
    })
}

/// The merchant `id`, created with `name` if it is not there; whether it
/// was created.
pub fn ensure(store: &Store, id: &str, name: &str) -> Result<(MerchantRow, bool), StoreError> {
    store.database().with_transaction(|conn| {
        let now = Utc::now().naive_utc();
        let mut sql = conn.sql("INSERT INTO merchants (id, name, created_at, updated_at) VALUES ");
        sql.bind_list(vec![
            Arg::Text(id.to_string()),
            Arg::Text(name.to_string()),
            Arg::Time(now),
            Arg::Time(now),
        ])
        .push(" ON CONFLICT (id) DO NOTHING");
        let created = conn.execute(sql)? == 1;
        let row = select_merchant(conn, id)?
            .ok_or_else(|| StoreError::Database("the merchant vanished after it was stored".into()))?;
        Ok((row, created))
    })
}

/// Replace the merchant's Stripe credentials (already encrypted).
pub fn set_stripe_credentials(
    store: &Store,
    id: &str,
    secret_key_encrypted: &str,
    webhook_secret_encrypted: Option<&str>,
) -> Result<Option<MerchantRow>, StoreError> {
    store.database().with_transaction(|conn| {
        let mut sql = conn.sql("UPDATE merchants SET stripe_secret_key_encrypted = ");
        sql.bind(Arg::Text(secret_key_encrypted.to_string()))
            .push(", stripe_webhook_secret_encrypted = ")
            .bind(Arg::OptText(webhook_secret_encrypted.map(str::to_string)))
            .push(", updated_at = ")
            .bind(Arg::Time(Utc::now().naive_utc()))
            .push(" WHERE id = ")
            .bind(Arg::Text(id.to_string()));
        if conn.execute(sql)? == 0 {
            return Ok(None);
        }
        select_merchant(conn, id)
    })
}

/// Set (or clear, with None) the merchant's notification URL and its
/// signing secret (already encrypted).
pub fn set_webhook(
    store: &Store,
    id: &str,
    url: Option<&str>,
    signing_secret_encrypted: Option<&str>,
) -> Result<Option<MerchantRow>, StoreError> {
    store.database().with_transaction(|conn| {
        let mut sql = conn.sql("UPDATE merchants SET webhook_url = ");
        sql.bind(Arg::OptText(url.map(str::to_string)))
            .push(", webhook_signing_secret_encrypted = ")
            .bind(Arg::OptText(signing_secret_encrypted.map(str::to_string)))
            .push(", updated_at = ")
            .bind(Arg::Time(Utc::now().naive_utc()))
            .push(" WHERE id = ")
            .bind(Arg::Text(id.to_string()));
        if conn.execute(sql)? == 0 {
            return Ok(None);
        }
        select_merchant(conn, id)
    })
}

/// Re-encrypted secrets (key rotation), written only if the row still holds
/// what was read; false when it changed meanwhile.
pub fn replace_ciphertexts(store: &Store, read: &MerchantRow, new: &MerchantRow) -> Result<bool, StoreError> {
    store.database().with_conn(|conn| {
        let mut sql = conn.sql("UPDATE merchants SET stripe_secret_key_encrypted = ");
        sql.bind(Arg::OptText(new.stripe_secret_key_encrypted.clone()))
            .push(", stripe_webhook_secret_encrypted = ")
            .bind(Arg::OptText(new.stripe_webhook_secret_encrypted.clone()))
            .push(", webhook_signing_secret_encrypted = ")
            .bind(Arg::OptText(new.webhook_signing_secret_encrypted.clone()))
            .push(" WHERE id = ")
            .bind(Arg::Text(read.id.clone()))
            .push(" AND updated_at = ")
            .bind(Arg::Time(read.updated_at.naive_utc()));
        Ok(conn.execute(sql)? == 1)
    })
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRow {
    pub id: i64,
    /// The public part of the key (`pfk_<key_id>_…`), shown in listings.
    pub key_id: String,
    pub merchant_id: String,
    pub name: Option<String>,
    /// Space-separated scopes.
    pub scopes: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

const KEY_COLUMNS: &str = "id, key_id, merchant_id, name, scopes, created_at, revoked_at, last_used_at";

#[derive(QueryableByName)]
struct ApiKeySql {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    key_id: String,
    #[diesel(sql_type = Text)]
    merchant_id: String,
    #[diesel(sql_type = Nullable<Text>)]
    name: Option<String>,
    #[diesel(sql_type = Text)]
    scopes: String,
    #[diesel(sql_type = Timestamp)]
    created_at: NaiveDateTime,
    #[diesel(sql_type = Nullable<Timestamp>)]
    revoked_at: Option<NaiveDateTime>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    last_used_at: Option<NaiveDateTime>,
}

impl From<ApiKeySql> for ApiKeyRow {
    fn from(row: ApiKeySql) -> ApiKeyRow {
        ApiKeyRow {
            id: row.id,
            key_id: row.key_id,
            merchant_id: row.merchant_id,
            name: row.name,
            scopes: row.scopes,
            created_at: row.created_at.and_utc(),
            revoked_at: row.revoked_at.map(|t| t.and_utc()),
            last_used_at: row.last_used_at.map(|t| t.and_utc()),
        }
    }
}

/// The columns of a new key; `key_hash` is the hex SHA-256 of the key.
#[derive(Debug, Clone)]
pub struct NewApiKey<'a> {
    pub key_id: &'a str,
    pub merchant_id: &'a str,
    pub name: Option<&'a str>,
    pub key_hash: &'a str,
    pub scopes: &'a str,
}

pub fn insert_key(store: &Store, new: &NewApiKey<'_>) -> Result<ApiKeyRow, StoreError> {
    store.database().with_transaction(|conn| {
        let mut sql =
            conn.sql("INSERT INTO api_keys (key_id, merchant_id, name, key_hash, scopes, created_at) VALUES ");
        sql.bind_list(vec![
            Arg::Text(new.key_id.to_string()),
            Arg::Text(new.merchant_id.to_string()),
            Arg::OptText(new.name.map(str::to_string)),
            Arg::Text(new.key_hash.to_string()),
            Arg::Text(new.scopes.to_string()),
            Arg::Time(Utc::now().naive_utc()),
        ]);
        conn.execute(sql)?;
        let mut sql = conn.sql(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_id = "));
        sql.bind(Arg::Text(new.key_id.to_string()));
        conn.first::<ApiKeySql>(sql)?
            .map(ApiKeyRow::from)
            .ok_or_else(|| StoreError::Database("the API key vanished after it was stored".into()))
    })
}

/// The key (not revoked) whose hash is `key_hash`.
pub fn find_active_by_hash(store: &Store, key_hash: &str) -> Result<Option<ApiKeyRow>, StoreError> {
    store.database().with_conn(|conn| {
        let mut sql = conn.sql(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = "));
        sql.bind(Arg::Text(key_hash.to_string()))
            .push(" AND revoked_at IS NULL");
        Ok(conn.first::<ApiKeySql>(sql)?.map(ApiKeyRow::from))
    })
}

/// Keys of one merchant, or of all, oldest first.
pub fn list_keys(store: &Store, merchant_id: Option<&str>) -> Result<Vec<ApiKeyRow>, StoreError> {
    store.database().with_conn(|conn| {
        let mut sql = conn.sql(&format!("SELECT {KEY_COLUMNS} FROM api_keys"));
        if let Some(merchant) = merchant_id {
            sql.push(" WHERE merchant_id = ").bind(Arg::Text(merchant.to_string()));
        }
        sql.push(" ORDER BY id");
        Ok(conn.load::<ApiKeySql>(sql)?.into_iter().map(ApiKeyRow::from).collect())
    })
}

/// Revoke the key `key_id`; false when there is no such key or it was
/// revoked before.
pub fn revoke_key(store: &Store, key_id: &str) -> Result<bool, StoreError> {
    store.database().with_conn(|conn| {
        let mut sql = conn.sql("UPDATE api_keys SET revoked_at = ");
        sql.bind(Arg::Time(Utc::now().naive_utc()))
            .push(" WHERE key_id = ")
            .bind(Arg::Text(key_id.to_string()))
            .push(" AND revoked_at IS NULL");
        Ok(conn.execute(sql)? == 1)
    })
}

/// Note that the key was used (at most once a minute per key, so a busy
/// key does not write on every request).
pub fn touch_key(store: &Store, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
    store.database().with_conn(|conn| {
        let mut sql = conn.sql("UPDATE api_keys SET last_used_at = ");
        sql.bind(Arg::Time(now.naive_utc()))
            .push(" WHERE id = ")
            .bind(Arg::Int(id))
            .push(" AND (last_used_at IS NULL OR last_used_at < ")
            .bind(Arg::Time((now - chrono::Duration::seconds(60)).naive_utc()))
            .push(")");
        conn.execute(sql)?;
        Ok(())
    })
}
