//! The payforms binary under test: `payforms serve` on a free port.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::http::{free_port, probe_client};
use super::localstripe::Localstripe;
use super::process::{kill_and_reap, log_tail, random_hex, read_log, spawn_logged};

/// How long `payforms serve` may take to answer `GET /healthz` with 200.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Inherited variables that would make a test depend on the developer's shell.
const SCRUBBED_ENV_PREFIXES: &[&str] = &["PAYFORMS_", "STRIPE_", "DATABASE_URL"];

/// The binary: $PAYFORMS_TEST_BIN, else the one cargo built for this test run.
pub fn payforms_bin() -> PathBuf {
    std::env::var_os("PAYFORMS_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_payforms")))
}

/// How to start the server. `ServerOptions::new(app)` sets a random
/// PAYFORMS_SECRET (so nothing is generated into the app folder) and a SQLite
/// database in the server's temp dir; chain the setters for the rest.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    pub app: PathBuf,
    /// `--database`; None = a SQLite file in the server's temp dir.
    pub database: Option<String>,
    /// Environment for the server (PAYFORMS_*, STRIPE_*, DATABASE_URL are not inherited).
    pub env: BTreeMap<String, String>,
    /// Reload on file changes (no `--no-watch`).
    pub watch: bool,
    /// Extra `serve` arguments, e.g. `--sandbox`.
    pub args: Vec<String>,
}

impl Default for ServerOptions {
    /// The repository's demo app, served in place (use `copy_app` to edit files).
    fn default() -> Self {
        ServerOptions::new(super::repo_root())
    }
}

impl ServerOptions {
    pub fn new(app: impl Into<PathBuf>) -> Self {
        let mut env = BTreeMap::new();
        env.insert("PAYFORMS_SECRET".to_string(), format!("test-secret-{}", random_hex(16)));
        ServerOptions {
            app: app.into(),
            database: None,
            env,
            watch: false,
            args: Vec::new(),
        }
    }

    pub fn database(mut self, url: impl Into<String>) -> Self {
        self.database = Some(url.into());
        self
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    pub fn without_env(mut self, key: &str) -> Self {
        self.env.remove(key);
        self
    }

    pub fn watch(mut self, on: bool) -> Self {
        self.watch = on;
        self
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Points payforms at `localstripe`: STRIPE_API_BASE, STRIPE_JS_URL and the test keys.
    pub fn stripe(self, localstripe: &Localstripe) -> Self {
        self.env("STRIPE_API_BASE", localstripe.base_url())
            .env("STRIPE_JS_URL", localstripe.js_url())
            .env("STRIPE_SECRET_KEY", localstripe.secret_key())
            .env("STRIPE_PUBLISHABLE_KEY", localstripe.publishable_key())
    }

    /// STRIPE_WEBHOOK_SECRET (comma-separated for several).
    pub fn webhook_secret(self, secret: impl Into<String>) -> Self {
        self.env("STRIPE_WEBHOOK_SECRET", secret)
    }

    /// The PAYFORMS_SECRET the server gets, e.g. to grep for it in the logs.
    pub fn secret(&self) -> Option<&str> {
        self.env.get("PAYFORMS_SECRET").map(String::as_str)
    }
}

pub struct TestServer {
    opts: ServerOptions,
    port: u16,
    database: String,
    log: PathBuf,
    child: Option<Child>,
    dir: TempDir,
}

impl TestServer {
    /// Starts `payforms serve` and waits until `GET /healthz` answers 200
    /// (30 s, then panics with the log tail).
    pub fn start(opts: ServerOptions) -> TestServer {
        let dir = tempfile::Builder::new()
            .prefix("payforms-server-")
            .tempdir()
            .expect("temp dir");
        let database = opts
            .database
            .clone()
            .unwrap_or_else(|| dir.path().join("payforms.sqlite3").display().to_string());
        let log = dir.path().join("server.log");
        let mut server = TestServer {
            opts,
            port: free_port(),
            database,
            log,
            child: None,
            dir,
        };
        server.spawn_and_wait();
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT` + `path` (path starts with '/').
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// The `--database` value the server runs with.
    pub fn database_url(&self) -> &str {
        &self.database
    }

    pub fn options(&self) -> &ServerOptions {
        &self.opts
    }

    /// The server's temp dir (log, default SQLite file); deleted on Drop.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Everything the server wrote to stdout and stderr, across restarts.
    pub fn log_text(&self) -> String {
        read_log(&self.log)
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// SIGKILL: the process dies at once, mid-request if need be.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_and_reap(&mut child);
        }
    }

    /// SIGTERM and wait up to 10 s (then SIGKILL); returns how it exited.
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        kill_and_reap(&mut child);
        None
    }

    /// Stops the server if running and starts it again on the same port with
    /// the same database, app and environment.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn_and_wait();
    }

    fn spawn_and_wait(&mut self) {
        // A just-killed server's port can be briefly unavailable: retry a few times.
        for attempt in 1..=5 {
            let mut child = spawn_logged(&mut self.command(), &self.log, "payforms serve");
            let exited_early = self.wait_healthy_or_exit(&mut child);
            if !exited_early {
                self.child = Some(child);
                return;
            }
            let tail = log_tail(&self.log, 5).to_lowercase();
            if attempt < 5 && tail.contains("in use") {
                std::thread::sleep(Duration::from_millis(200 * attempt));
                continue;
            }
            panic!(
                "payforms serve exited during start-up; log {}:\n{}",
                self.log.display(),
                log_tail(&self.log, 60)
            );
        }
    }

    /// Waits for `/healthz` 200; true if the process exited first.
    fn wait_healthy_or_exit(&self, child: &mut Child) -> bool {
        let probe = probe_client();
        let health = self.url("/healthz");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return true;
            }
            if probe
                .get(&health)
                .send()
                .map(|r| r.status().as_u16() == 200)
                .unwrap_or(false)
            {
                return false;
            }
            if Instant::now() >= deadline {
                kill_and_reap(child);
                panic!(
                    "payforms serve did not answer 200 on /healthz within {START_TIMEOUT:?}; log {}:\n{}",
                    self.log.display(),
                    log_tail(&self.log, 60)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn command(&self) -> Command {
        let mut command = Command::new(payforms_bin());
        command
            .arg("serve")
            .arg("--app")
            .arg(&self.opts.app)
            .arg("--bind")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--database")
            .arg(&self.database);
        if !self.opts.watch {
            command.arg("--no-watch");
        }
        command.args(&self.opts.args);
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if SCRUBBED_ENV_PREFIXES.iter().any(|p| key.starts_with(p)) {
                command.env_remove(key.as_ref());
            }
        }
        command.envs(&self.opts.env).current_dir(self.dir.path());
        command
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// `query` posted to the server's `/api/graphql` with API key `key`; the
/// JSON answer, errors included.
pub fn graphql_as(server: &TestServer, key: &str, query: &str) -> serde_json::Value {
    super::client()
        .post(server.url("/api/graphql"))
        .bearer_auth(key)
        .json(&serde_json::json!({ "query": query }))
        .send()
        .expect("POST /api/graphql")
        .json()
        .expect("a JSON answer")
}
