//! Stripe-Signature headers from an implementation independent of payforms:
//! tests/tools/sign_webhook.py (Python's hmac module).

use std::io::Write;
use std::process::{Command, Stdio};

/// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<payload>">`.
pub fn stripe_signature_header(payload: &str, secret: &str, timestamp: i64) -> String {
    let script = super::repo_root().join("tests/tools/sign_webhook.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .args(["sign", "--secret", secret, "--timestamp", &timestamp.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run python3 {}: {e}", script.display()));
    child
        .stdin
        .take()
        .expect("stdin of sign_webhook.py")
        .write_all(payload.as_bytes())
        .expect("write payload to sign_webhook.py");
    let output = child.wait_with_output().expect("wait for sign_webhook.py");
    assert!(
        output.status.success(),
        "sign_webhook.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("utf-8 header")
        .trim()
        .to_string()
}

/// The header with the current time as timestamp (what a fresh delivery carries).
pub fn stripe_signature_header_now(payload: &str, secret: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64;
    stripe_signature_header(payload, secret, now)
}

/// Signs many bodies with one run of tests/tools/sign_webhooks_batch.py.
pub fn sign_batch(bodies: &[String], secret: &str) -> Vec<String> {
    let script = super::repo_root().join("tests/tools/sign_webhooks_batch.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .args(["--secret", secret])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sign_webhooks_batch.py");
    let input = serde_json::to_vec(bodies).expect("bodies as JSON");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(&input).expect("write bodies"));
    let output = child.wait_with_output().expect("sign_webhooks_batch.py");
    writer.join().expect("writer");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let headers: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(headers.len(), bodies.len());
    headers
}
