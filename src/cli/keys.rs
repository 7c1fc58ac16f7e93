//! `payforms keys create|list|revoke`: API keys of merchants, with scopes.
//! A new key is printed once; only its hash is stored.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use crate::config::{Overrides, Settings};
use crate::merchant_id::MerchantId;
use crate::merchants::keys;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it (once). The merchant is created if new.
    Create {
        /// The merchant the key acts for (a-z, 0-9, _); the default merchant
        /// (the app's own pages and forms) when not given.
        #[arg(long)]
        merchant: Option<String>,
        /// Comma-separated: payments:read, payments:write, refunds:write,
        /// merchant:read, merchant:write, webhooks:read, or `all`.
        #[arg(long)]
        scopes: String,
        /// A name to tell the key apart in listings.
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = ".")]
        app: PathBuf,
        #[arg(long)]
        database: Option<String>,
    },
    /// List keys (never the keys themselves): id, merchant, scopes, use.
    List {
        #[arg(long)]
        merchant: Option<String>,
        #[arg(long, default_value = ".")]
        app: PathBuf,
        #[arg(long)]
        database: Option<String>,
    },
    /// Revoke a key by its id (`pfk_<id>_…` or the id alone); at once.
    Revoke {
        key_id: String,
        #[arg(long, default_value = ".")]
        app: PathBuf,
        #[arg(long)]
        database: Option<String>,
    },
}

fn store(app: &Path, database: Option<String>) -> Result<crate::db::Store, String> {
    let settings = Settings::load(
        app,
        &Overrides {
            database_url: database,
            bind: None,
        },
    )
    .map_err(|e| e.to_string())?;
    super::open_store(&settings).map_err(|e| e.to_string())
}

fn merchant_arg(text: Option<&str>) -> Result<Option<MerchantId>, String> {
    text.map(|m| MerchantId::parse(m).ok_or_else(|| "a merchant id is 1 to 64 of a-z, 0-9 and _".to_string()))
        .transpose()
}

pub fn run(command: KeysCommand) -> ExitCode {
    let result = match command {
        KeysCommand::Create {
            merchant,
            scopes,
            name,
            app,
            database,
        } => create(&app, database, merchant.as_deref(), &scopes, name.as_deref()),
        KeysCommand::List {
            merchant,
            app,
            database,
        } => list(&app, database, merchant.as_deref()),
        KeysCommand::Revoke { key_id, app, database } => revoke(&app, database, &key_id),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

fn create(
    app: &Path,
    database: Option<String>,
    merchant: Option<&str>,
    scopes: &str,
    name: Option<&str>,
) -> Result<ExitCode, String> {
    let merchant = merchant_arg(merchant)?.unwrap_or_default();
    let scopes = keys::parse_scopes(scopes)?;
    if name.is_some_and(|n| n.chars().count() > 100 || n.chars().any(char::is_control)) {
        return Err("a key's name is at most 100 characters".into());
    }
    let store = store(app, database)?;
    let (row, key) = keys::create(&store, &merchant, &scopes, name).map_err(|e| e.to_string())?;
    eprintln!(
        "API key {} for merchant {} with scopes {} — shown once, store it now:",
        row.key_id,
        row.merchant_id,
        scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
    );
    // Only the key on standard output, so `KEY=$(payforms keys create …)` works.
    println!("{key}");
    Ok(ExitCode::SUCCESS)
}

fn list(app: &Path, database: Option<String>, merchant: Option<&str>) -> Result<ExitCode, String> {
    let merchant = merchant_arg(merchant)?;
    let store = store(app, database)?;
    let rows = keys::list(&store, merchant.as_ref()).map_err(|e| e.to_string())?;
    if rows.is_empty() {
        println!("no API keys");
    }
    for row in rows {
        let state = match row.revoked_at {
            Some(at) => format!("revoked {}", at.format("%Y-%m-%d %H:%M")),
            None => "active".into(),
        };
        let used = row.last_used_at.map_or_else(
            || "never used".to_string(),
            |t| format!("last used {}", t.format("%Y-%m-%d %H:%M")),
        );
        println!(
            "pfk_{}_…  merchant {}  [{}]  {}  {}  {}",
            row.key_id,
            row.merchant_id,
            row.scopes.replace(' ', ","),
            state,
            used,
            row.name.unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn revoke(app: &Path, database: Option<String>, key_id: &str) -> Result<ExitCode, String> {
    let store = store(app, database)?;
    if keys::revoke(&store, key_id).map_err(|e| e.to_string())? {
        println!("revoked");
        Ok(ExitCode::SUCCESS)
    } else {
        Err("no active key with that id".into())
    }
}
