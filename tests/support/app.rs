//! App folders: the repository's own demo app, copied so tests can edit it.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

/// What makes an app folder (DESIGN.md "An app"); build output, VCS data and
/// runtime data (`target/`, `.git/`, `data/`) are left behind.
pub const APP_ENTRIES: &[&str] = &[
    "payforms.toml",
    "form_configurations",
    "notifications",
    "templates",
    "modules",
    "schema",
    "graph_queries",
    "assets",
    "authorization_policies",
    "gateways",
    // platformOS's layout.
    "app",
];

/// The repository root, which is also the default app.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Copies the app entries of `src_dir` that exist into a fresh temp dir.
pub fn copy_app(src_dir: impl AsRef<Path>) -> TempDir {
    let src_dir = src_dir.as_ref();
    assert!(src_dir.is_dir(), "app folder {} does not exist", src_dir.display());
    let dest = tempfile::Builder::new()
        .prefix("payforms-app-")
        .tempdir()
        .expect("create temp app dir");
    for entry in APP_ENTRIES {
        let from = src_dir.join(entry);
        if from.exists() {
            copy_recursive(&from, &dest.path().join(entry));
        }
    }
    dest
}

fn copy_recursive(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("mkdir {}: {e}", to.display()));
        let entries = std::fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()));
        for entry in entries {
            let entry = entry.expect("directory entry");
            copy_recursive(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {} -> {}: {e}", from.display(), to.display()));
    }
}
