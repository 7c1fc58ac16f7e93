//! Hot reload: watch the app folder and reload on change.
//!
//! Changes are debounced (editors write several events per save); a reload
//! that finds problems logs each as `file:line: message` and keeps the last
//! good app serving.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

/// Folders inside an app that are not app files.
const IGNORED: [&str; 4] = ["data", "target", ".git", "node_modules"];

/// Keeps the watcher alive; dropping it stops watching.
pub struct WatchGuard {
    _watcher: notify::RecommendedWatcher,
}

/// Start watching `root`; `reload` runs on a background thread after each
/// burst of changes.
pub fn watch(root: &Path, reload: impl Fn() + Send + 'static) -> notify::Result<WatchGuard> {
    let (tx, rx) = mpsc::channel::<PathBuf>();
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
        .spawn(move || {
            while rx.recv().is_ok() {
                // Collect the rest of the burst, then reload once.
                while rx.recv_timeout(Duration::from_millis(60)).is_ok() {}
                reload();
            }
        })
        .map_err(|e| notify::Error::generic(&e.to_string()))?;
    Ok(WatchGuard { _watcher: watcher })
}

fn is_app_file(root: &Path, path: &Path) -> bool {
    let Ok(rel) = path.strip_prefix(root) else {
        return false;
    };
    let mut parts = rel.components();
    match parts.next() {
        Some(first) => {
            let first = first.as_os_str().to_string_lossy();
            !IGNORED.contains(&first.as_ref())
                && !rel
                    .file_name()
                    .map(|n| n.to_string_lossy().starts_with('.'))
                    .unwrap_or(false)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignores_data_and_hidden_files() {
        let root = Path::new("/app");
        assert!(is_app_file(root, Path::new("/app/templates/pages/index.liquid")));
        assert!(!is_app_file(root, Path::new("/app/data/payforms.sqlite3")));
        assert!(!is_app_file(root, Path::new("/app/templates/pages/.index.liquid.swp")));
        assert!(!is_app_file(root, Path::new("/elsewhere/x")));
    }
}
