//! localstripe (PyPI), a stateful Stripe fake, one fresh instance per test.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

use super::http::{free_port, probe_client};
use super::process::{kill_and_reap, log_tail, read_log, spawn_logged, wait_ready};

/// The version scripts/test installs; the facts in TESTING.md were checked on it.
pub const LOCALSTRIPE_PIN: &str = "1.15.10";
/// localstripe accepts any `sk_test_...` / `pk_test_...`; these are the ones tests use.
pub const SECRET_KEY: &str = "sk_test_123";
pub const PUBLISHABLE_KEY: &str = "pk_test_123";

pub struct Localstripe {
    port: u16,
    child: Child,
    log: PathBuf,
    _dir: TempDir,
}

impl Localstripe {
    /// Starts `localstripe --from-scratch` on a free port and waits (30 s) until
    /// `GET /v1/customers` answers 200 with the test key.
    pub fn start() -> Localstripe {
        let dir = tempfile::Builder::new()
            .prefix("localstripe-")
            .tempdir()
            .expect("temp dir");
        let log = dir.path().join("localstripe.log");
        let port = free_port();
        let mut command = Command::new(python());
        command
            .args(["-m", "localstripe", "--from-scratch", "--port", &port.to_string()])
            // It dumps its store to /tmp/localstripe.pickle after every POST;
            // run it from its own dir so nothing else lands in the test's cwd.
            .current_dir(dir.path())
            .env("PYTHONUNBUFFERED", "1");
        let mut child = spawn_logged(&mut command, &log, "localstripe");
        let base = format!("http://127.0.0.1:{port}");
        let probe = probe_client();
        wait_ready(&mut child, "localstripe", &log, Duration::from_secs(30), || {
            probe
                .get(format!("{base}/v1/customers"))
                .bearer_auth(SECRET_KEY)
                .send()
                .map(|r| r.status().as_u16() == 200)
                .unwrap_or(false)
        });
        Localstripe {
            port,
            child,
            log,
            _dir: dir,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` — what payforms gets as STRIPE_API_BASE.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The Stripe.js mock (the trailing slash is required) — STRIPE_JS_URL.
    pub fn js_url(&self) -> String {
        format!("{}/js.stripe.com/v3/", self.base_url())
    }

    pub fn secret_key(&self) -> &'static str {
        SECRET_KEY
    }

    pub fn publishable_key(&self) -> &'static str {
        PUBLISHABLE_KEY
    }

    /// localstripe's access log (one line per request, webhook delivery results).
    pub fn log_text(&self) -> String {
        read_log(&self.log)
    }

    /// Makes localstripe POST signed events to `url` about a second after each
    /// change. `events` empty means every event type it emits. Registrations
    /// survive `flush()`; registering an `id` again replaces it.
    pub fn register_webhook(&self, id: &str, url: &str, secret: &str, events: &[&str]) {
        let mut form: Vec<(&str, &str)> = vec![("url", url), ("secret", secret)];
        form.extend(events.iter().map(|e| ("events[]", *e)));
        let response = probe_client()
            .post(format!("{}/_config/webhooks/{id}", self.base_url()))
            .form(&form)
            .send()
            .expect("POST /_config/webhooks");
        assert_eq!(
            response.status().as_u16(),
            200,
            "localstripe refused webhook config {id}"
        );
    }

    /// Deletes every object (`DELETE /_config/data`).
    pub fn flush(&self) {
        let response = probe_client()
            .delete(format!("{}/_config/data", self.base_url()))
            .send()
            .expect("DELETE /_config/data");
        assert_eq!(response.status().as_u16(), 200, "localstripe flush failed");
    }

    /// `GET /v1/...` with the secret key; returns (status, JSON body).
    pub fn get(&self, path: &str) -> (u16, Value) {
        let response = super::client()
            .get(format!("{}{path}", self.base_url()))
            .bearer_auth(SECRET_KEY)
            .send()
            .unwrap_or_else(|e| panic!("GET {path} on localstripe: {e}"));
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }

    /// `POST /v1/...` form-encoded (bracket keys as given) with the secret key.
    pub fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let response = super::client()
            .post(format!("{}{path}", self.base_url()))
            .bearer_auth(SECRET_KEY)
            .form(form)
            .send()
            .unwrap_or_else(|e| panic!("POST {path} on localstripe: {e}"));
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }

    /// Every object of a list endpoint (e.g. "/v1/charges"), following
    /// `has_more` / `starting_after` (lists default to 10 items).
    pub fn list_all(&self, path: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let page_path = match &after {
                Some(id) => format!("{path}{sep}limit=100&starting_after={id}"),
                None => format!("{path}{sep}limit=100"),
            };
            let (status, body) = self.get(&page_path);
            assert_eq!(status, 200, "GET {page_path}: {body}");
            let data = body["data"].as_array().cloned().unwrap_or_default();
            after = data.last().and_then(|o| o["id"].as_str()).map(str::to_string);
            all.extend(data);
            if body["has_more"] != Value::Bool(true) || after.is_none() {
                return all;
            }
        }
    }

    /// The last lines of the log, for assertion messages.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log, lines)
    }
}

impl Drop for Localstripe {
    fn drop(&mut self) {
        kill_and_reap(&mut self.child);
    }
}

/// The Python that has localstripe installed: $LOCALSTRIPE_PYTHON, else the
/// real interpreter behind `python3` (resolved once, skipping pyenv shims).
fn python() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| {
        if let Ok(python) = std::env::var("LOCALSTRIPE_PYTHON") {
            return python;
        }
        let output = Command::new("python3")
            .args(["-c", "import sys, localstripe; print(sys.executable)"])
            .output()
            .expect("python3 is required to run localstripe");
        assert!(
            output.status.success(),
            "localstripe is not installed for python3 (run scripts/test, or \
             pip install localstripe=={LOCALSTRIPE_PIN}): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    })
}
