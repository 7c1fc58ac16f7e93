//! What the HTTP benchmarks share: free ports, a child process stopped on
//! drop, and running wrk (same settings for payforms and its anchor).

#![allow(dead_code)] // each bench uses its part

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command};

/// wrk's load: 2 threads, 32 connections, 8 seconds (the 2-core machine
/// shares its cores between wrk and the server).
pub const WRK_ARGS: [&str; 4] = ["-t2", "-c32", "-d8s", "--latency"];

/// A server process, killed when dropped.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub fn wrk_installed() -> bool {
    Command::new("wrk").arg("--version").output().is_ok()
}

/// What wrk measured.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub requests_per_sec: f64,
    pub p99_ms: f64,
    /// Answers that were not 2xx or 3xx.
    pub not_ok: u64,
}

/// Load `url` with wrk, optionally through a Lua script and its arguments.
pub fn wrk(url: &str, script: Option<(&Path, &[&str])>) -> Load {
    let mut command = Command::new("wrk");
    command.args(WRK_ARGS);
    if let Some((path, _)) = script {
        command.arg("-s").arg(path);
    }
    command.arg(url);
    if let Some((_, args)) = script {
        command.arg("--").args(args);
    }
    let output = command.output().expect("run wrk");
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |prefix: &str| {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(prefix).map(|rest| rest.trim().to_string()))
    };
    let requests_per_sec = field("Requests/sec:").and_then(|n| n.parse().ok()).unwrap_or_else(|| {
        panic!(
            "wrk printed no rate:\n{text}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let p99_ms = field("99%").map(|v| duration_ms(&v)).unwrap_or(f64::NAN);
    let not_ok = field("Non-2xx or 3xx responses:")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    Load {
        requests_per_sec,
        p99_ms,
        not_ok,
    }
}

/// wrk's "1.23ms", "450.00us", "1.10s" in milliseconds.
fn duration_ms(text: &str) -> f64 {
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (text, f64::NAN)
    };
    number.trim().parse::<f64>().map(|n| n * factor).unwrap_or(f64::NAN)
}

pub fn report(name: &str, load: &Load) {
    println!(
        "  {name:<34} {:>9.0} requests/s   p99 {:>7.2} ms   non-2xx {}",
        load.requests_per_sec, load.p99_ms, load.not_ok
    );
}
