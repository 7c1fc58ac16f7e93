//! Child processes whose output goes to a log file, and start-up waits.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `bytes` random bytes from the OS, hex encoded (unique database names, secrets).
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("read /dev/urandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Spawns `command` with stdin closed and stdout + stderr appended to `log`.
pub(crate) fn spawn_logged(command: &mut Command, log: &Path, what: &str) -> Child {
    let mut out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap_or_else(|e| panic!("open log {}: {e}", log.display()));
    // Program and arguments only: Command's Debug would print the
    // environment, secrets included.
    let args: Vec<_> = command.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
    writeln!(
        out,
        "=== harness: starting {what}: {} {}",
        command.get_program().to_string_lossy(),
        args.join(" ")
    )
    .expect("write log");
    let err = out.try_clone().expect("clone log handle");
    command
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what} ({:?}): {e}", command.get_program()))
}

pub(crate) fn read_log(log: &Path) -> String {
    std::fs::read(log)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// The last `lines` lines of the log, for panic messages.
pub(crate) fn log_tail(log: &Path, lines: usize) -> String {
    let text = read_log(log);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Waits until `ready()` is true; panics with the log tail if the child
/// exits first or `timeout` passes.
pub(crate) fn wait_ready(
    child: &mut Child,
    what: &str,
    log: &Path,
    timeout: Duration,
    mut ready: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{what} exited during start-up ({status}); log {}:\n{}",
                log.display(),
                log_tail(log, 60)
            );
        }
        if ready() {
            return;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} not ready after {timeout:?}; log {}:\n{}",
                log.display(),
                log_tail(log, 60)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGKILL and reap; quiet if the child is already gone.
pub(crate) fn kill_and_reap(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}
