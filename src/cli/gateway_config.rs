//! `payforms config stripe …` and `payforms secrets rotate`: the
//! configuration operations of the GraphQL API, from the command line.
//! Secrets are read from standard input (`-`), so they stay out of the
//! shell history and the process list.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use crate::config::Secret;
use crate::environment::Environment;
use crate::gateway::configuration::{self, ConfigInput, ConfigView, ConfigurationError};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Stripe keys per environment, stored encrypted in the database.
    Stripe {
        #[command(subcommand)]
        action: StripeAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum StripeAction {
    /// Store (or change) an environment's keys, then check them against Stripe.
    Set {
        /// test or live.
        #[arg(long)]
        environment: String,
        /// The secret (sk_) or restricted (rk_) key; `-` reads it from standard input.
        #[arg(long)]
        secret_key: Option<String>,
        #[arg(long)]
        publishable_key: Option<String>,
        /// The webhook signing secret (whsec_); `-` reads it from standard input.
        #[arg(long)]
        webhook_secret: Option<String>,
        #[arg(long, default_value = ".")]
        app: PathBuf,
        #[arg(long)]
        database: Option<String>,
    },
    /// Show the stored configurations (never their secrets).
    Show {
        #[arg(long, default_value = ".")]
        app: PathBuf,
        #[arg(long)]
        database: Option<String>,
    },
    /// Check an environment's stored keys against Stripe.
    Check {
        #[arg(long)]
        environment: String,
        #[arg(long, default_value = ".")]
        app: PathBuf,
        #[arg(long)]
        database: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Re-encrypt every stored secret with the current key
    /// (PAYFORMS_ENCRYPTION_KEY; the old one in PAYFORMS_PREVIOUS_ENCRYPTION_KEY).
    Rotate {
        #[arg(long, default_value = ".")]
        app: PathBuf,
        #[arg(long)]
        database: Option<String>,
    },
}

fn environment(text: &str) -> Result<Environment, String> {
    Environment::parse(text).ok_or_else(|| format!("--environment is `{text}`; it must be test or live"))
}

/// `value`, or a line of standard input when it is `-`.
fn secret_arg(value: Option<String>, stdin: &mut impl BufRead) -> Result<Option<Secret>, String> {
    match value.as_deref() {
        None => Ok(None),
        Some(text) if text != "-" => Err(
            "give secrets on standard input (`--secret-key -`): a value on the command line is visible to every \
             user of this machine (ps) and stays in the shell history"
                .into(),
        ),
        Some(_) => {
            let mut line = String::new();
            stdin
                .read_line(&mut line)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            let line = line.trim();
            if line.is_empty() {
                return Err("standard input held no secret".into());
            }
            Ok(Some(Secret::new(line)))
        }
    }
}

fn print(view: &ConfigView) {
    println!(
        "{} (id {}): publishable key {}, webhook secret {}, status {}{}{}",
        view.environment,
        view.id,
        view.publishable_key,
        if view.has_webhook_secret { "stored" } else { "none" },
        view.status,
        view.status_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default(),
        if view.in_use { ", in use" } else { "" }
    );
    println!("  webhook URL: {}", view.webhook_url);
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("{message}");
    ExitCode::FAILURE
}

pub fn config(command: ConfigCommand) -> ExitCode {
    let ConfigCommand::Stripe { action } = command;
    match action {
        StripeAction::Set {
            environment: env_text,
            secret_key,
            publishable_key,
            webhook_secret,
            app,
            database,
        } => {
            let environment = match environment(&env_text) {
                Ok(e) => e,
                Err(e) => return fail(e),
            };
            let mut stdin = std::io::stdin().lock();
            let (secret_key, webhook_secret) = match (
                secret_arg(secret_key, &mut stdin),
                secret_arg(webhook_secret, &mut stdin),
            ) {
                (Ok(s), Ok(w)) => (s, w),
                (Err(e), _) | (_, Err(e)) => return fail(e),
            };
            let input = ConfigInput {
                environment: Some(environment),
                secret_key,
                publishable_key,
                webhook_secret,
            };
            with_instance(&app, database, move |instance| {
                let (settings, store) = (&instance.settings, &instance.store);
                let exists = configuration::get(settings, store, environment)?.is_some();
                let check = |secret: &Secret| instance.gateway.check_connection(secret);
                let view = if exists {
                    configuration::update(settings, store, input, &check)?
                } else {
                    configuration::configure(settings, store, input, &check)?
                };
                println!(
                    "{} the {environment} configuration",
                    if exists { "updated" } else { "stored" }
                );
                print(&view);
                Ok(ExitCode::SUCCESS)
            })
        }
        StripeAction::Show { app, database } => with_instance(&app, database, |instance| {
            println!(
                "this instance runs in {} mode (Stripe keys from {})",
                instance.settings.environment,
                instance.settings.key_source().as_str()
            );
            for environment in Environment::ALL {
                match configuration::get(&instance.settings, &instance.store, environment)? {
                    Some(view) => print(&view),
                    None => println!("{environment}: not configured"),
                }
            }
            Ok(ExitCode::SUCCESS)
        }),
        StripeAction::Check {
            environment: env_text,
            app,
            database,
        } => match environment(&env_text) {
            Ok(environment) => with_instance(&app, database, move |instance| check(instance, environment)),
            Err(e) => fail(e),
        },
    }
}

/// Check `environment`'s stored keys, record and print the outcome.
fn check(instance: &crate::instance::Instance, environment: Environment) -> Result<ExitCode, ConfigurationError> {
    let (id, secret) = configuration::stored_secret_key(&instance.settings, &instance.store, environment)?;
    let status = instance.gateway.check_connection(&secret);
    configuration::record_status(&instance.store, id, &status)?;
    if let Some(view) = configuration::get(&instance.settings, &instance.store, environment)? {
        print(&view);
    }
    Ok(match status {
        configuration::ConnectionStatus::Connected => ExitCode::SUCCESS,
        configuration::ConnectionStatus::Failed(_) => ExitCode::FAILURE,
    })
}

pub fn secrets(command: SecretsCommand) -> ExitCode {
    let SecretsCommand::Rotate { app, database } = command;
    with_instance(&app, database, |instance| {
        let loaded = instance.current();
        let report = configuration::rotate_secrets(&instance.settings, &instance.store, &loaded.app)?;
        println!(
            "{} secret(s) re-encrypted with the current key, {} already were",
            report.reencrypted, report.current
        );
        for place in &report.skipped {
            println!("  not rotated: {place}");
        }
        let (merchants, unreadable) = match crate::merchants::rotate_secrets(&instance.settings, &instance.store) {
            Ok(done) => done,
            Err(e) => {
                eprintln!("merchant secrets not rotated: {e}");
                return Ok(ExitCode::FAILURE);
            }
        };
        println!("{merchants} merchant(s) had their secrets re-encrypted");
        for merchant in &unreadable {
            println!("  not rotated: the secrets of merchant {merchant} cannot be read with the current keys");
        }
        if !report.skipped.is_empty() || !unreadable.is_empty() {
            return Ok(ExitCode::FAILURE);
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Run `work` on the app's instance; the stored keys may be unreadable
/// (these commands are how they are repaired).
fn with_instance(
    app: &Path,
    database: Option<String>,
    work: impl FnOnce(&crate::instance::Instance) -> Result<ExitCode, ConfigurationError> + Send + 'static,
) -> ExitCode {
    super::run_offline(app, database, true, |instance| work(instance).unwrap_or_else(fail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_come_from_standard_input_with_a_dash() {
        let mut input = std::io::Cursor::new("sk_test_fromstdin\nwhsec_next\n");
        assert_eq!(
            secret_arg(Some("-".into()), &mut input).unwrap().unwrap().expose(),
            "sk_test_fromstdin"
        );
        assert_eq!(
            secret_arg(Some("-".into()), &mut input).unwrap().unwrap().expose(),
            "whsec_next"
        );
        assert!(secret_arg(Some("-".into()), &mut input).is_err());
        assert!(secret_arg(None, &mut input).unwrap().is_none());
        assert!(secret_arg(Some("sk_test_visible".into()), &mut input).is_err());
    }
}
