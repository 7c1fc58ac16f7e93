//! Finding an app's files and giving each its logical name.
//!
//! `templates/partials/card.liquid` is `card`; the same file inside
//! `modules/stripe/` is `modules/stripe/card`. Module files are listed first
//! and app files last, so an app file with a module file's name overrides it.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::LoadProblem;

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
        walk(&dir, &mut found);
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

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
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

    #[test]
    fn wrong_extension_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "templates/pages/index.html");
        let problems = discover(dir.path()).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].to_string().contains("templates/pages/index.html"));
    }
}
