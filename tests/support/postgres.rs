//! A fresh PostgreSQL database per test, created and dropped with psql.

use std::process::Command;

use super::process::random_hex;

/// Where the tests' PostgreSQL is when PAYFORMS_TEST_PG is not set.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// $PAYFORMS_TEST_PG or [`DEFAULT_ADMIN_URL`]: the database psql connects to
/// to create and drop the per-test databases.
pub fn admin_url() -> String {
    std::env::var("PAYFORMS_TEST_PG")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_ADMIN_URL.to_string())
}

pub struct PgDatabase {
    name: String,
    url: String,
    admin_url: String,
}

impl PgDatabase {
    /// Creates `payforms_t_<random>`. Panics if PostgreSQL is unreachable:
    /// the PostgreSQL half of the suite must run, never skip.
    pub fn fresh() -> PgDatabase {
        let admin_url = admin_url();
        let name = format!("payforms_t_{}", random_hex(8));
        psql(&admin_url, &format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url} is required (PAYFORMS_TEST_PG): {e}"));
        let url = with_database(&admin_url, &name);
        PgDatabase { name, url, admin_url }
    }

    /// `postgres://...` of the new database (same server, user and query as the admin URL).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs SQL in this database and returns psql's unaligned, tuples-only
    /// output (`|`-separated columns), e.g. to look at rows behind payforms' back.
    pub fn query(&self, sql: &str) -> String {
        psql(&self.url, sql).unwrap_or_else(|e| panic!("psql on {}: {e}", self.name))
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Best effort; FORCE ends connections a killed server left behind (PG 13+).
        let _ = psql(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

fn psql(url: &str, sql: &str) -> Result<String, String> {
    let output = Command::new("psql")
        .args([url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim_end().to_string())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
    }
}

/// `url` with its path (the database name) replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let mut parsed = url::Url::parse(url).unwrap_or_else(|e| panic!("PAYFORMS_TEST_PG is not a URL ({e})"));
    parsed.set_path(&format!("/{name}"));
    parsed.to_string()
}
