//! The `payforms` command line.

mod gateway_config;
mod keys;
mod reconcile;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::app::App;
use crate::config::{Overrides, Settings};
use crate::db::migrate::{MigrateError, MigrateOptions};
use crate::db::Store;
use crate::instance::Instance;

#[derive(Debug, Parser)]
#[command(name = "payforms", version, about = "A runtime for low-code payments")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum NewCommand {
    /// `payforms new request-type stripe/create_coupon`
    RequestType {
        /// MODULE/NAME
        name: String,
        #[arg(long, default_value = ".")]
        app: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Process a stored event again (EVENT_ID), or every failed one (--failed).
    Replay {
        /// The gateway's event id, e.g. evt_123.
        #[arg(required_unless_present = "failed", conflicts_with = "failed")]
        event_id: Option<String>,
        #[arg(long)]
        failed: bool,
        #[arg(long, default_value = ".")]
        app: PathBuf,
        #[arg(long)]
        database: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the app over HTTP.
    Serve {
        /// The app folder (default: the current directory).
        #[arg(long, default_value = ".")]
        app: PathBuf,
        /// Address to listen on (default 127.0.0.1:8080, or PAYFORMS_BIND).
        #[arg(long)]
        bind: Option<String>,
        /// Database URL: postgres://..., sqlite://PATH or a file path.
        #[arg(long)]
        database: Option<String>,
        /// Do not reload the app when its files change.
        #[arg(long)]
        no_watch: bool,
        /// Only take requests (store webhook events, answer pages and forms):
        /// processing events and sending merchant notifications is left to
        /// other instances on the same database.
        #[arg(long)]
        no_worker: bool,
        /// Run against the built-in Stripe sandbox (offline demo; no Stripe account needed).
        #[arg(long)]
        sandbox: bool,
        /// With --sandbox, allow an address other machines can reach (the
        /// sandbox takes any test card, so it stays on loopback by default).
        #[arg(long)]
        allow_public_bind: bool,
    },
    /// Run the Stripe-compatible test server on its own.
    Sandbox {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:12111")]
        bind: String,
        /// Deliver signed events to this URL as well (with --webhook-secret).
        #[arg(long)]
        webhook_url: Option<String>,
        #[arg(long, requires = "webhook_url")]
        webhook_secret: Option<String>,
        /// Allow an address other machines can reach.
        #[arg(long)]
        allow_public_bind: bool,
    },
    /// Gateway configuration per environment (keys stored encrypted).
    Config {
        #[command(subcommand)]
        what: gateway_config::ConfigCommand,
    },
    /// API keys of merchants, with scopes (printed once, stored hashed).
    Keys {
        #[command(subcommand)]
        what: keys::KeysCommand,
    },
    /// Secrets stored at rest.
    Secrets {
        #[command(subcommand)]
        what: gateway_config::SecretsCommand,
    },
    /// Compare Stripe's payment intents, refunds and disputes with the
    /// stored records; repair what a missed webhook left behind.
    Reconcile {
        /// Only objects created since this date (2026-12-01) or time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value = ".")]
        app: PathBuf,
        #[arg(long)]
        database: Option<String>,
    },
    /// Stored webhook events.
    Webhooks {
        #[command(subcommand)]
        what: WebhooksCommand,
    },
    /// Write the files of a new request type: notification, response mapper, form partial.
    New {
        #[command(subcommand)]
        what: NewCommand,
    },
    /// Load every file of the app and print every problem as file:line: message.
    Check {
        #[arg(long, default_value = ".")]
        app: PathBuf,
    },
    /// Bring the database in line with the app: payforms' own tables, then
    /// a table per model from the schema files (additive changes only,
    /// unless told otherwise).
    Migrate {
        #[arg(long, default_value = ".")]
        app: PathBuf,
        #[arg(long)]
        database: Option<String>,
        /// Print the plan as SQL and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also apply changes that lose data: removed properties or models,
        /// changed types.
        #[arg(long)]
        allow_destructive: bool,
        /// Drop the tables of the pre-table store (records, record_values,
        /// record_uniques) once their records are copied.
        #[arg(long)]
        drop_legacy: bool,
    },
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Check { app } => check(&app),
        Command::Config { what } => gateway_config::config(what),
        Command::Reconcile { since, app, database } => reconcile::run(&app, database, since),
        Command::Secrets { what } => gateway_config::secrets(what),
        Command::Keys { what } => keys::run(what),
        Command::Migrate {
            app,
            database,
            dry_run,
            allow_destructive,
            drop_legacy,
        } => migrate(
            &app,
            database,
            MigrateOptions {
                allow_destructive,
                drop_legacy,
                dry_run,
            },
        ),
        Command::Serve {
            app,
            bind,
            database,
            no_watch,
            no_worker,
            sandbox,
            allow_public_bind,
        } => serve(
            &app,
            Overrides {
                database_url: database,
                bind,
            },
            ServeMode {
                watch: !no_watch,
                worker: !no_worker,
            },
            sandbox.then_some(SandboxBind { allow_public_bind }),
        ),
        Command::Sandbox {
            bind,
            webhook_url,
            webhook_secret,
            allow_public_bind,
        } => run_sandbox(&bind, webhook_url, webhook_secret, SandboxBind { allow_public_bind }),
        Command::Webhooks {
            what:
                WebhooksCommand::Replay {
                    event_id,
                    failed,
                    app,
                    database,
                },
        } => replay(&app, database, event_id, failed),
        Command::New {
            what: NewCommand::RequestType { name, app },
        } => match crate::scaffold::new_request_type(&app, &name) {
            Ok(files) => {
                for file in files {
                    println!("created {}", file.display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
    }
}

pub fn init_logging() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PAYFORMS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,actix_server=warn"));
    // Lines go to stdout from a writer thread, in order; a request hands its
    // access-log line over instead of making a write system call. Not lossy:
    // when the thread falls behind, callers wait. The guard flushes at exit.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stdout());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(writer)
        .try_init()
        .ok()
        .map(|()| guard)
}

fn check(app_dir: &Path) -> ExitCode {
    let problems = match App::load(app_dir) {
        Ok(app) => match schema_problems(&app) {
            Ok(()) => {
                for warning in &app.warnings {
                    println!("warning: {warning}");
                }
                println!(
                    "ok: {} pages, {} forms, {} request types, {} models, {} webhook processors{}",
                    app.pages.len(),
                    app.forms.len(),
                    app.notifications.len(),
                    app.model_types.len(),
                    app.webhook_processors.len(),
                    match app.warnings.len() {
                        0 => String::new(),
                        n => format!("; {n} warning(s)"),
                    }
                );
                return ExitCode::SUCCESS;
            }
            Err(problems) => problems,
        },
        Err(problems) => problems,
    };
    for problem in &problems {
        println!("{problem}");
    }
    eprintln!("{} problem(s) found", problems.len());
    ExitCode::FAILURE
}

/// Build the GraphQL schema as `serve` would, so `check` also reports
/// naming clashes. The schema needs a store value, not data: a throwaway
/// SQLite file stands in.
fn schema_problems(app: &App) -> Result<(), Vec<crate::error::LoadProblem>> {
    let scratch = std::env::temp_dir().join(format!(
        "payforms-check-{}.sqlite3",
        crate::forms::csrf::new_visitor_id()
    ));
    let result = match Store::connect(&scratch.display().to_string()) {
        Ok(store) => crate::instance::build_graphql(app, &store, None).map(drop),
        Err(e) => Err(vec![crate::error::LoadProblem::new("(database)", 0, e.to_string())]),
    };
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", scratch.display()));
    }
    result
}

/// Why a command could not start.
#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error(transparent)]
    Settings(#[from] crate::config::ConfigError),
    #[error("cannot create {0}: {1}")]
    Folder(std::path::PathBuf, std::io::Error),
    #[error("database: {0}")]
    Database(crate::db::StoreError),
    #[error("migrations: {0}")]
    Migrations(crate::db::StoreError),
    #[error(transparent)]
    Gateway(#[from] crate::gateway::GatewayStartError),
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    App(Vec<crate::error::LoadProblem>),
    #[error(
        "{command} will not listen on {address}: other machines could reach the sandbox, which takes \
             any test card. Bind to a loopback address (--bind 127.0.0.1:PORT), or pass --allow-public-bind \
             if that is really what you want."
    )]
    PublicSandbox {
        command: String,
        address: std::net::SocketAddr,
    },
    #[error("{0}: {1}")]
    Listen(String, std::io::Error),
    #[cfg(feature = "sandbox")]
    #[error(
        "the sandbox plays Stripe in test mode only; PAYFORMS_ENVIRONMENT is live. Run serve without --sandbox, \
         with live keys"
    )]
    SandboxInLive,
    #[error("Stripe configuration: {0}")]
    Configuration(String),
    #[cfg(not(feature = "sandbox"))]
    #[error("{NO_SANDBOX}")]
    NoSandbox,
}

fn open_store(settings: &Settings) -> Result<Store, StartError> {
    if let Some(parent) = std::path::Path::new(&settings.database_url).parent() {
        if !settings.database_url.contains("://") && !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(|e| StartError::Folder(parent.to_path_buf(), e))?;
        }
    }
    // The store writes and reads the active environment's records only.
    let store = Store::connect(&settings.database_url)
        .map_err(StartError::Database)?
        .with_environment(settings.environment);
    store.migrate().map_err(StartError::Migrations)?;
    Ok(store)
}

fn migrate(app_dir: &Path, database: Option<String>, options: MigrateOptions) -> ExitCode {
    let _log_guard = init_logging();
    let settings = match Settings::load(
        app_dir,
        &Overrides {
            database_url: database,
            bind: None,
        },
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let app = match App::load(&settings.app_dir) {
        Ok(app) => app,
        Err(problems) => {
            for problem in &problems {
                eprintln!("{problem}");
            }
            eprintln!("{} problem(s) found; nothing was migrated", problems.len());
            return ExitCode::FAILURE;
        }
    };
    let store = match open_store(&settings) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let models: Vec<&crate::db::schema::ModelType> = app.model_types.values().map(|m| m.as_ref()).collect();
    match store.migrate_models(&models, options) {
        Ok(report) if options.dry_run => {
            if report.changes.is_empty() {
                println!("-- the database matches the schema files");
            }
            print!("{}", report.sql(store.backend()));
            ExitCode::SUCCESS
        }
        Ok(report) => {
            for change in &report.changes {
                println!("applied: {}", change.description);
            }
            for note in &report.notes {
                println!("note: {note}");
            }
            if report.changes.is_empty() {
                println!("the database matches the schema files");
            }
            ExitCode::SUCCESS
        }
        Err(MigrateError::Refused(problems)) => {
            for problem in &problems {
                eprintln!("{problem}");
            }
            eprintln!(
                "{} change(s) would lose data; nothing was migrated (see `payforms migrate --dry-run \
                 --allow-destructive` for the SQL)",
                problems.len()
            );
            ExitCode::FAILURE
        }
        Err(MigrateError::Store(e)) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Load settings, store, app and gateway for a command that works on the
/// instance without serving it.
fn offline_instance(
    app_dir: &Path,
    database: Option<String>,
    runtime: &tokio::runtime::Runtime,
    keys_optional: bool,
) -> Result<Arc<Instance>, StartError> {
    let settings = Settings::load(
        app_dir,
        &Overrides {
            database_url: database,
            bind: None,
        },
    )?;
    let store = open_store(&settings)?;
    match crate::gateway::configuration::install_active(&settings, &store) {
        Ok(_) => {}
        // The configuration commands must still run to repair it.
        Err(e) if keys_optional => tracing::warn!("the stored Stripe configuration is not in use: {e}"),
        Err(e) => return Err(StartError::Configuration(e.to_string())),
    }
    let gateway = crate::gateway::Gateway::new(&settings, store.clone(), runtime.handle().clone())?;
    Instance::start(settings, store, Arc::new(gateway)).map_err(StartError::App)
}

/// Run `work` on the app's instance (not serving), off the async runtime
/// (gateway calls wait on it); `keys_optional` as for [`offline_instance`].
fn run_offline(
    app: &Path,
    database: Option<String>,
    keys_optional: bool,
    work: impl FnOnce(&Arc<Instance>) -> ExitCode + Send + 'static,
) -> ExitCode {
    let _log_guard = init_logging();
    let runtime = match tokio_runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let instance = match offline_instance(app, database, &runtime, keys_optional) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(async move { tokio::task::spawn_blocking(move || work(&instance)).await }) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("the command failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn replay(app_dir: &Path, database: Option<String>, event_id: Option<String>, failed: bool) -> ExitCode {
    let _log_guard = init_logging();
    let runtime = match tokio_runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let instance = match offline_instance(app_dir, database, &runtime, false) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let worker_instance = instance.clone();
    let result = runtime.block_on(async move {
        tokio::task::spawn_blocking(move || {
            crate::webhooks::replay::replay(&worker_instance, event_id.as_deref(), failed)
        })
        .await
    });
    match result {
        Ok(Ok(report)) => {
            for line in report {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("replay failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn tokio_runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("cannot start the async runtime: {e}");
            ExitCode::FAILURE
        })
}

/// Where a sandbox may listen.
#[derive(Debug, Clone, Copy)]
struct SandboxBind {
    allow_public_bind: bool,
}

impl SandboxBind {
    /// The sandbox accepts any test card and (for `serve --sandbox`) serves
    /// the demo's pages: refuse an address other machines can reach unless
    /// the operator asked for it.
    fn check(&self, listener: &TcpListener, command: &str) -> Result<(), StartError> {
        let address = listener
            .local_addr()
            .map_err(|e| StartError::Listen(command.to_string(), e))?;
        if self.allow_public_bind || is_loopback(address.ip()) {
            return Ok(());
        }
        Err(StartError::PublicSandbox {
            command: command.to_string(),
            address,
        })
    }
}

fn is_loopback(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        std::net::IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

/// Said by a build without the sandbox when asked for it.
#[cfg(not(feature = "sandbox"))]
const NO_SANDBOX: &str = "this payforms was built without the Stripe sandbox (--no-default-features), \
as production builds are; build it with the default features (`cargo build --release`) to get \
`serve --sandbox` and `payforms sandbox`";

#[cfg(not(feature = "sandbox"))]
fn run_sandbox(_: &str, _: Option<String>, _: Option<String>, _: SandboxBind) -> ExitCode {
    eprintln!("{NO_SANDBOX}");
    ExitCode::FAILURE
}

#[cfg(not(feature = "sandbox"))]
fn attach_sandbox(_: &tokio::runtime::Runtime, _: &mut Settings, _: &str) -> Result<(), StartError> {
    Err(StartError::NoSandbox)
}

#[cfg(feature = "sandbox")]
fn run_sandbox(
    bind: &str,
    webhook_url: Option<String>,
    webhook_secret: Option<String>,
    sandbox_bind: SandboxBind,
) -> ExitCode {
    let _log_guard = init_logging();
    let runtime = match tokio_runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let listener = match TcpListener::bind(bind) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {bind}: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = sandbox_bind.check(&listener, "payforms sandbox") {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    let webhook_targets = match (webhook_url, webhook_secret) {
        (Some(url), Some(secret)) => vec![crate::sandbox::WebhookTarget { url, secret }],
        _ => Vec::new(),
    };
    let address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| bind.to_string());
    // Standalone, the sandbox plays Stripe for tools that bring their own
    // test keys: any sk_test_/pk_test_ key is accepted.
    let sandbox = crate::sandbox::Sandbox::new(crate::sandbox::SandboxOptions {
        webhook_targets,
        secret_key: String::new(),
        publishable_key: String::new(),
        public_base: Some(format!("http://{address}")),
        accounts_per_key: false,
    });
    tracing::info!("Stripe sandbox on http://{address} (any sk_test_ key; Stripe.js at /js.stripe.com/v3/)");
    match runtime.block_on(sandbox.serve(listener)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sandbox error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(feature = "sandbox")]
/// The in-process sandbox's key pair: derived from PAYFORMS_SECRET and the
/// database, so it is unguessable, differs per database and stays the same
/// across restarts of one app on one database.
fn sandbox_keys(settings: &Settings) -> (String, String) {
    let key = settings.derived_key(&format!("sandbox-keys:{}", settings.database_url));
    let secret = hex::encode(&key[..16]);
    let publishable = hex::encode(&key[16..]);
    (format!("sk_test_{secret}"), format!("pk_test_{publishable}"))
}

/// Start the sandbox in-process and point the Stripe settings at it.
#[cfg(feature = "sandbox")]
fn attach_sandbox(
    runtime: &tokio::runtime::Runtime,
    settings: &mut Settings,
    app_address: &str,
) -> Result<(), StartError> {
    if settings.environment == crate::environment::Environment::Live {
        return Err(StartError::SandboxInLive);
    }
    let sandbox_error = |e| StartError::Listen("sandbox".to_string(), e);
    let listener = TcpListener::bind("127.0.0.1:0").map_err(sandbox_error)?;
    let address = listener.local_addr().map_err(sandbox_error)?;
    let webhook_secret = format!("whsec_{}", crate::forms::csrf::new_visitor_id());
    let (secret_key, publishable_key) = sandbox_keys(settings);
    let sandbox = crate::sandbox::Sandbox::new(crate::sandbox::SandboxOptions {
        webhook_targets: vec![crate::sandbox::WebhookTarget {
            url: format!("http://{app_address}/webhooks/stripe"),
            secret: webhook_secret.clone(),
        }],
        secret_key: secret_key.clone(),
        publishable_key: publishable_key.clone(),
        public_base: Some(format!("http://{address}")),
        // Merchants with keys of their own get accounts of their own.
        accounts_per_key: true,
    });
    runtime.spawn(async move {
        if let Err(e) = sandbox.serve(listener).await {
            tracing::error!("sandbox stopped: {e}");
        }
    });
    let stripe = &mut settings.stripe;
    stripe.api_base = format!("http://{address}");
    stripe.js_url = format!("http://{address}/js.stripe.com/v3/");
    stripe.secret_key = Some(crate::config::Secret::new(secret_key));
    stripe.publishable_key = publishable_key;
    stripe.webhook_secrets.push(crate::config::Secret::new(webhook_secret));
    settings.sandbox = true;
    tracing::info!("using the built-in Stripe sandbox at http://{address}");
    Ok(())
}

/// What `serve` runs beside the HTTP server.
struct ServeMode {
    /// Reload the app when its files change.
    watch: bool,
    /// Process webhook events and send merchant notifications.
    worker: bool,
}

fn serve(app_dir: &Path, overrides: Overrides, mode: ServeMode, sandbox: Option<SandboxBind>) -> ExitCode {
    let _log_guard = init_logging();
    let mut settings = match Settings::load(app_dir, &overrides) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio_runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let listener = match TcpListener::bind(&settings.bind) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {}: {e}", settings.bind);
            return ExitCode::FAILURE;
        }
    };
    let address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| settings.bind.clone());
    if let Some(sandbox_bind) = sandbox {
        if let Err(e) = sandbox_bind
            .check(&listener, "serve --sandbox")
            .and_then(|()| attach_sandbox(&runtime, &mut settings, &address))
        {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    }
    let store = match open_store(&settings) {
        Ok(store) => store,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = crate::gateway::configuration::install_active(&settings, &store)
        .and_then(|_| crate::gateway::configuration::environment_is_deliberate(&settings, &store))
    {
        eprintln!("Stripe configuration of the {} environment: {e}", settings.environment);
        return ExitCode::FAILURE;
    }
    tracing::info!(
        "environment: {} (Stripe keys from {})",
        settings.environment,
        settings.key_source().as_str()
    );
    let gateway = match crate::gateway::Gateway::new(&settings, store.clone(), runtime.handle().clone()) {
        Ok(gateway) => Arc::new(gateway),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let instance = match Instance::start(settings, store, gateway) {
        Ok(instance) => instance,
        Err(problems) => {
            for problem in &problems {
                eprintln!("{problem}");
            }
            eprintln!("{} problem(s) found; fix them and start again", problems.len());
            return ExitCode::FAILURE;
        }
    };
    instance.watch_stored_keys(runtime.handle());
    let _watch_guard = if mode.watch {
        let reloading = instance.clone();
        match crate::app::watch::watch(&instance.settings.app_dir, move || reloading.reload_and_log()) {
            Ok(guard) => Some(guard),
            Err(e) => {
                tracing::warn!("hot reload is off: {e}");
                None
            }
        }
    } else {
        None
    };
    let subscribing = instance.clone();
    runtime.spawn_blocking(
        move || match crate::webhooks::subscribe::ensure_subscribed(&subscribing) {
            Ok(crate::webhooks::subscribe::Subscription::NotConfigured) => {}
            Ok(outcome) => tracing::info!("Stripe webhooks: {outcome:?}"),
            Err(e) => tracing::warn!("Stripe webhooks: {e}"),
        },
    );
    let signal = if mode.worker {
        crate::webhooks::merchant::start(instance.clone(), runtime.handle());
        crate::payments::worker::start(instance.clone(), runtime.handle());
        crate::db::models::api_idempotency::start_purger(instance.store.clone(), runtime.handle());
        crate::webhooks::worker::start(instance.clone(), runtime.handle())
    } else {
        tracing::info!("--no-worker: events are stored here and processed by other instances");
        crate::webhooks::worker::WorkerSignal::default()
    };
    tracing::info!(
        "payforms serving {} on http://{address}",
        instance.settings.app_dir.display()
    );
    match runtime.block_on(async move { crate::api::serve(instance, signal, listener)?.await }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server error: {e}");
            ExitCode::FAILURE
        }
    }
}
