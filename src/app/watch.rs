//! Hot reload: watch the app folder and reload on change.
//!
//! Changes are debounced (editors write several events per save); a reload
//! that finds problems logs each as `file:line: message` and keeps the last
//! good app serving.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};

/// A burst of changes ends after this long without another one.
const QUIET: Duration = Duration::from_millis(60);
/// Reload at most this long after the first change of a burst, even if
/// changes keep coming (an editor saving many files, a generator).
const MAX_DELAY: Duration = Duration::from_millis(150);

/// Keeps the watcher alive; dropping it stops watching.
pub struct WatchGuard {
    _watcher: notify::RecommendedWatcher,
}

/// Start watching `root`; `reload` runs on a background thread after each
/// burst of changes.
pub fn watch(root: &Path, reload: impl Fn() + Send + 'static) -> notify::Result<WatchGuard> {
    let (tx, rx) = mpsc::channel::<PathBuf>();
    // Events name files by absolute path: a relative root (`--app .`, the
    // default) would match none of them.
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let root = root.as_path();
    let root_owned = root.to_path_buf();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            // Reading files (as a reload does) raises access events; only
            // real changes count, or every reload would trigger the next.
            let changes = matches!(
                event.kind,
                notify::EventKind::Create(_) | notify::EventKind::Modify(_) | notify::EventKind::Remove(_)
            );
            if !changes {
                return;
            }
            for path in event.paths {
                if is_app_file(&root_owned, &path) {
                    let _ = tx.send(path);
                }
            }
        }
    })?;
    watcher.watch(root, RecursiveMode::Recursive)?;
    std::thread::Builder::new()
        .name("payforms-reload".into())
        // A reload parses every template, as the main thread does at start.
        .stack_size(8 << 20)
        .spawn(move || {
            while rx.recv().is_ok() {
                drain_burst(&rx, Instant::now());
                reload();
            }
        })
        .map_err(|e| notify::Error::generic(&e.to_string()))?;
    Ok(WatchGuard { _watcher: watcher })
}

fn is_app_file(root: &Path, path: &Path) -> bool {
    path.strip_prefix(root).is_ok_and(super::files::is_app_path)
}

/// Take the rest of a burst that started at `first`: until QUIET passes
/// without a change, but never past `first + MAX_DELAY`.
fn drain_burst<T>(rx: &mpsc::Receiver<T>, first: Instant) {
    let deadline = first + MAX_DELAY;
    loop {
        let now = Instant::now();
        if now >= deadline {
            // Whatever is queued now is part of this reload.
            while rx.try_recv().is_ok() {}
            return;
        }
        match rx.recv_timeout(QUIET.min(deadline - now)) {
            Ok(_) => continue,
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignores_data_logs_and_hidden_files() {
        let root = Path::new("/app");
        assert!(is_app_file(root, Path::new("/app/templates/pages/index.liquid")));
        assert!(!is_app_file(root, Path::new("/app/data/payforms.sqlite3")));
        assert!(!is_app_file(root, Path::new("/app/server.log")));
        assert!(!is_app_file(root, Path::new("/app/templates/pages/.index.liquid.swp")));
        assert!(!is_app_file(root, Path::new("/elsewhere/x")));
    }

    #[test]
    fn a_burst_that_never_ends_is_cut_at_the_maximum_delay() {
        let (tx, rx) = mpsc::channel::<u32>();
        let writer = std::thread::spawn(move || {
            // A change every 10 ms for a second: never QUIET.
            for i in 0..100 {
                if tx.send(i).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        let first = Instant::now();
        drain_burst(&rx, first);
        let waited = first.elapsed();
        drop(rx);
        let _ = writer.join();
        assert!(waited >= MAX_DELAY, "returned after {waited:?}");
        // Well under the second the writer goes on for.
        assert!(waited < Duration::from_millis(900), "returned after {waited:?}");
    }

    #[test]
    fn a_quiet_channel_ends_the_burst_at_once() {
        let (tx, rx) = mpsc::channel::<u32>();
        tx.send(1).unwrap();
        let first = Instant::now();
        drain_burst(&rx, first);
        assert!(first.elapsed() < Duration::from_secs(1));
    }
}
