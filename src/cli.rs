//! The `payforms` command line.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::app::App;
use crate::config::{Overrides, Settings};
use crate::db::Store;
use crate::instance::Instance;

#[derive(Debug, Parser)]
#[command(name = "payforms", version, about = "A runtime for low-code payments")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
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
    },
    /// Load every file of the app and print every problem as file:line: message.
    Check {
        #[arg(long, default_value = ".")]
        app: PathBuf,
    },
    /// Apply payforms' database migrations.
    Migrate {
        #[arg(long, default_value = ".")]
        app: PathBuf,
        #[arg(long)]
        database: Option<String>,
    },
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Check { app } => check(&app),
        Command::Migrate { app, database } => migrate(&app, database),
        Command::Serve {
            app,
            bind,
            database,
            no_watch,
        } => serve(&app, Overrides { database_url: database, bind }, !no_watch),
    }
}

pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PAYFORMS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,actix_server=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).try_init();
}

fn check(app_dir: &PathBuf) -> ExitCode {
    match App::load(app_dir) {
        Ok(app) => {
            println!(
                "ok: {} pages, {} forms, {} request types, {} models, {} webhook processors",
                app.pages.len(),
                app.forms.len(),
                app.notifications.len(),
                app.model_types.len(),
                app.webhook_processors.len()
            );
            ExitCode::SUCCESS
        }
        Err(problems) => {
            for problem in &problems {
                println!("{problem}");
            }
            eprintln!("{} problem(s) found", problems.len());
            ExitCode::FAILURE
        }
    }
}

fn open_store(settings: &Settings) -> Result<Store, String> {
    if let Some(parent) = std::path::Path::new(&settings.database_url).parent() {
        if !settings.database_url.contains("://") && !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
    }
    let store = Store::connect(&settings.database_url).map_err(|e| format!("database: {e}"))?;
    store.migrate().map_err(|e| format!("migrations: {e}"))?;
    Ok(store)
}

fn migrate(app_dir: &PathBuf, database: Option<String>) -> ExitCode {
    init_logging();
    let settings = match Settings::load(app_dir, &Overrides { database_url: database, bind: None }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    match open_store(&settings) {
        Ok(_) => {
            println!("migrations applied");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(app_dir: &PathBuf, overrides: Overrides, watch: bool) -> ExitCode {
    init_logging();
    let settings = match Settings::load(app_dir, &overrides) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
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
    let bind = settings.bind.clone();
    let instance = match Instance::start(settings, store) {
        Ok(instance) => instance,
        Err(problems) => {
            for problem in &problems {
                eprintln!("{problem}");
            }
            eprintln!("{} problem(s) found; fix them and start again", problems.len());
            return ExitCode::FAILURE;
        }
    };
    let _watch_guard = if watch {
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
    let listener = match TcpListener::bind(&bind) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {bind}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let address = listener.local_addr().map(|a| a.to_string()).unwrap_or(bind);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!("payforms serving {} on http://{address}", instance.settings.app_dir.display());
    match runtime.block_on(crate::api::serve(instance, listener)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server error: {e}");
            ExitCode::FAILURE
        }
    }
}
