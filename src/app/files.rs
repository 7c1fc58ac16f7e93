//! Finding an app's files and giving each its logical name.
//!
//! `templates/partials/card.liquid` is `card`; the same file inside
//! `modules/stripe/` is `modules/stripe/card`. Module files are listed first
//! and app files last, so an app file with a module file's name overrides it.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::LoadProblem;

/// Where a module's (or the app's) notification defaults live.
pub const NOTIFICATION_DEFAULTS_FILE: &str = "notifications/defaults.yml";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    FormConfiguration,
    ApiCallNotification,
    Page,
    Layout,
    Partial,
    ResponseMapper,
    WebhookProcessor,
    AuthorizationPolicy,
    Schema,
    GraphQuery,
    Asset,
}

impl Kind {
    /// Folder (relative to an app or module root) and file extension.
    fn location(self) -> (&'static str, &'static str) {
        match self {
            Kind::FormConfiguration => ("form_configurations", "liquid"),
            Kind::ApiCallNotification => ("notifications/api_call_notifications", "liquid"),
            Kind::Page => ("templates/pages", "liquid"),
            Kind::Layout => ("templates/layouts", "liquid"),
            Kind::Partial => ("templates/partials", "liquid"),
            Kind::ResponseMapper => ("templates/response_mappers", "liquid"),
            Kind::WebhookProcessor => ("templates/webhook_processors", "liquid"),
            Kind::AuthorizationPolicy => ("authorization_policies", "liquid"),
            Kind::Schema => ("schema", "yml"),
            Kind::GraphQuery => ("graph_queries", "graphql"),
            Kind::Asset => ("assets", ""),
        }
    }

    pub const ALL: [Kind; 11] = [
        Kind::FormConfiguration,
        Kind::ApiCallNotification,
        Kind::Page,
        Kind::Layout,
        Kind::Partial,
        Kind::ResponseMapper,
        Kind::WebhookProcessor,
        Kind::AuthorizationPolicy,
        Kind::Schema,
        Kind::GraphQuery,
        Kind::Asset,
    ];
}

/// True when `rel` (a path relative to the app root) is a file the loader
/// reads: inside one kind's folder with that kind's extension (any file for
/// assets), at the app's root or a module's, or `payforms.toml`. Hot reload
/// reacts to these only, so logs or databases written into the app folder
/// never trigger a reload.
pub fn is_app_path(rel: &Path) -> bool {
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.iter().any(|part| part.starts_with('.')) {
        return false;
    }
    if parts.len() == 1 && parts[0] == "payforms.toml" {
        return true;
    }
    let inside_base_text = match parts.first().map(String::as_str) {
        Some("modules") if parts.len() > 2 => parts[2..].join("/"),
        _ => parts.join("/"),
    };
    if inside_base_text == NOTIFICATION_DEFAULTS_FILE {
        return true;
    }
    if inside_base_text
        .strip_prefix("gateways/")
        .is_some_and(|name| !name.contains('/') && name.ends_with(".yml"))
    {
        return true;
    }
    let inside_base = match parts.first().map(String::as_str) {
        Some("modules") if parts.len() > 2 => &parts[2..],
        _ => &parts[..],
    };
    let joined = inside_base.join("/");
    Kind::ALL.iter().any(|kind| {
        let (folder, ext) = kind.location();
        let Some(inside) = joined.strip_prefix(folder).and_then(|rest| rest.strip_prefix('/')) else {
            return false;
        };
        !inside.is_empty()
            && (ext.is_empty()
                || inside.ends_with(&format!(".{ext}"))
                || (*kind == Kind::Schema && inside.ends_with(".yaml")))
    })
}

/// One file of the app.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub kind: Kind,
    /// Logical name: `modules/stripe/create_payment`, `index`, `payments/list`.
    pub name: String,
    /// Path inside its kind's folder without extension (`payments/index`).
    pub local_name: String,
    pub module: Option<String>,
    pub path: PathBuf,
    /// Relative to the app root, for messages.
    pub rel: PathBuf,
}

/// Every file of the app in `root` (modules first, then the app itself).
pub fn discover(root: &Path) -> Result<Vec<SourceFile>, Vec<LoadProblem>> {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let modules_dir = root.join("modules");
    let mut modules: Vec<String> = match fs::read_dir(&modules_dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|name| !name.starts_with('.'))
            .collect(),
        Err(_) => Vec::new(),
    };
    modules.sort();
    for module in &modules {
        collect(root, &modules_dir.join(module), Some(module), &mut files, &mut problems);
    }
    collect(root, root, None, &mut files, &mut problems);
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(problems)
    }
}

fn collect(
    app_root: &Path,
    base: &Path,
    module: Option<&str>,
    files: &mut Vec<SourceFile>,
    problems: &mut Vec<LoadProblem>,
) {
    for kind in Kind::ALL {
        let (folder, ext) = kind.location();
        let dir = base.join(folder);
        if !dir.is_dir() {
            continue;
        }
        let mut found = Vec::new();
        walk(app_root, &dir, &mut found);
        found.sort();
        for path in found {
            let rel = path.strip_prefix(app_root).unwrap_or(&path).to_path_buf();
            let Ok(inside) = path.strip_prefix(&dir) else {
                continue;
            };
            let inside = inside.to_string_lossy().replace('\\', "/");
            if inside.split('/').any(|part| part.starts_with('.')) {
                continue; // editor swap files, .DS_Store
            }
            let local_name = if ext.is_empty() {
                inside.clone()
            } else {
                match inside.strip_suffix(&format!(".{ext}")) {
                    Some(stem) => stem.to_string(),
                    None => {
                        if kind == Kind::Schema && inside.ends_with(".yaml") {
                            inside.trim_end_matches(".yaml").to_string()
                        } else {
                            problems.push(LoadProblem::new(
                                &rel,
                                0,
                                format!("unexpected file in {folder}/: expected a .{ext} file"),
                            ));
                            continue;
                        }
                    }
                }
            };
            let name = match module {
                Some(m) => format!("modules/{m}/{local_name}"),
                None => local_name.clone(),
            };
            files.push(SourceFile {
                kind,
                name,
                local_name,
                module: module.map(str::to_string),
                path,
                rel,
            });
        }
    }
}

/// How deep folders may nest inside one kind's folder.
const MAX_FOLDER_DEPTH: usize = 32;

/// Every file under `dir`, without following links out of the app: a
/// symbolic link is taken only when it is a file whose real path is inside
/// `app_root` (so `assets/x -> /etc/passwd` is never served), and linked
/// folders are not entered (no loops). Iterative, bounded in depth.
fn walk(app_root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let real_root = fs::canonicalize(app_root).unwrap_or_else(|_| app_root.to_path_buf());
    let mut pending = vec![(dir.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            if file_type.is_dir() {
                if depth < MAX_FOLDER_DEPTH {
                    pending.push((path, depth + 1));
                } else {
                    tracing::warn!(
                        "{}: folders nested deeper than {MAX_FOLDER_DEPTH} are not loaded",
                        path.display()
                    );
                }
            } else if file_type.is_symlink() {
                match fs::canonicalize(&path) {
                    Ok(target) if target.starts_with(&real_root) && target.is_file() => out.push(path),
                    _ => tracing::warn!(
                        "{}: a symbolic link to a folder or to a file outside the app is not loaded",
                        path.display()
                    ),
                }
            } else {
                out.push(path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, rel: &str) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, "x").unwrap();
    }

    #[test]
    fn names_are_namespaced_and_app_comes_last() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "modules/stripe/templates/partials/card.liquid");
        touch(dir.path(), "templates/partials/modules/stripe/card.liquid");
        touch(dir.path(), "templates/pages/payments/index.liquid");
        touch(dir.path(), "modules/payments/schema/payment.yml");
        touch(dir.path(), "templates/pages/.index.liquid.swp");
        let files = discover(dir.path()).unwrap();
        let names: Vec<_> = files.iter().map(|f| (f.kind, f.name.as_str())).collect();
        let module_card = names
            .iter()
            .position(|n| *n == (Kind::Partial, "modules/stripe/card"))
            .unwrap();
        let app_card = names
            .iter()
            .rposition(|n| *n == (Kind::Partial, "modules/stripe/card"))
            .unwrap();
        assert!(module_card < app_card, "app file must come after the module's");
        assert!(names.contains(&(Kind::Page, "payments/index")));
        assert!(names.contains(&(Kind::Schema, "modules/payments/payment")));
        assert_eq!(files.iter().filter(|f| f.kind == Kind::Page).count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn links_out_of_the_app_are_not_loaded() {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret.txt"), "top secret").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch(root, "assets/app.css");
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), root.join("assets/secret.txt")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("assets/elsewhere")).unwrap();
        std::os::unix::fs::symlink(root.join("assets/app.css"), root.join("assets/alias.css")).unwrap();
        // A link to its own folder would loop forever if followed.
        std::os::unix::fs::symlink(root.join("assets"), root.join("assets/loop")).unwrap();
        let files = discover(root).unwrap();
        let mut names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        names.sort();
        assert_eq!(names, vec!["alias.css", "app.css"]);
    }

    #[test]
    fn app_paths_are_the_files_the_loader_reads() {
        for rel in [
            "payforms.toml",
            "templates/pages/index.liquid",
            "templates/pages/shop/cart.liquid",
            "schema/payment.yml",
            "schema/payment.yaml",
            "graph_queries/payments.graphql",
            "assets/app.css",
            "assets/img/logo.png",
            "modules/stripe/notifications/api_call_notifications/create_payment.liquid",
            "modules/stripe/assets/payforms-stripe.js",
        ] {
            assert!(is_app_path(Path::new(rel)), "{rel}");
        }
        for rel in [
            "server.log",
            "data/payforms.sqlite3",
            "data/payforms.sqlite3-wal",
            "templates/pages/.index.liquid.swp",
            "templates/pages/index.liquid~",
            "templates/pages",
            "README.md",
            "target/debug/payforms",
            "modules/stripe/README.md",
            "modules/stripe/server.log",
            "logs/templates/pages/x.liquid",
            "form_configurations/x.yml",
        ] {
            assert!(!is_app_path(Path::new(rel)), "{rel}");
        }
    }

    #[test]
    fn wrong_extension_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "templates/pages/index.html");
        let problems = discover(dir.path()).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].to_string().contains("templates/pages/index.html"));
    }
}
