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
    Translation,
}

impl Kind {
    /// Folders (relative to an app or module base) and the file extension
    /// of each: payforms' own name first, then platformOS's (`views/pages`,
    /// `custom_model_types`, `graphql`, `lib` for function partials, `forms`
    /// of newer apps). An empty extension takes any file (assets).
    fn locations(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Kind::FormConfiguration => &[("form_configurations", "liquid"), ("forms", "liquid")],
            Kind::ApiCallNotification => &[("notifications/api_call_notifications", "liquid")],
            Kind::Page => &[("templates/pages", "liquid"), ("views/pages", "liquid")],
            Kind::Layout => &[("templates/layouts", "liquid"), ("views/layouts", "liquid")],
            Kind::Partial => &[
                ("templates/partials", "liquid"),
                ("views/partials", "liquid"),
                ("lib", "liquid"),
            ],
            Kind::ResponseMapper => &[("templates/response_mappers", "liquid"), ("response_mappers", "liquid")],
            Kind::WebhookProcessor => &[
                ("templates/webhook_processors", "liquid"),
                ("webhook_processors", "liquid"),
            ],
            Kind::AuthorizationPolicy => &[("authorization_policies", "liquid")],
            Kind::Schema => &[
                ("schema", "yml"),
                ("custom_model_types", "yml"),
                ("model_schemas", "yml"),
            ],
            Kind::GraphQuery => &[("graph_queries", "graphql"), ("graphql", "graphql")],
            Kind::Asset => &[("assets", "")],
            Kind::Translation => &[("translations", "yml")],
        }
    }

    pub const ALL: [Kind; 12] = [
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
        Kind::Translation,
    ];

    /// Whether `.yaml` is accepted beside `.yml`.
    fn takes_yaml(self) -> bool {
        matches!(self, Kind::Schema | Kind::Translation)
    }
}

/// platformOS folders whose files payforms does not run: reported once per
/// folder as a warning, never loaded.
const UNSUPPORTED_FOLDERS: [(&str, &str); 7] = [
    ("migrations", "platformOS migrations are not run by payforms"),
    (
        "notifications/email_notifications",
        "email notifications are not sent by payforms",
    ),
    (
        "notifications/sms_notifications",
        "SMS notifications are not sent by payforms",
    ),
    ("emails", "emails are not sent by payforms"),
    ("smses", "SMS messages are not sent by payforms"),
    ("user_profile_types", "user profiles are not part of payforms"),
    ("uploads", "uploads are not part of payforms"),
];

/// The folders of one app or module whose files are loaded, in order: the
/// base itself (payforms' layout), then platformOS's: `app/` (and the older
/// `marketplace_builder/`) for an app, `public/` and `private/` for a
/// module.
pub(crate) fn bases(root: &Path, module_dir: Option<&Path>) -> Vec<PathBuf> {
    match module_dir {
        Some(dir) => vec![dir.to_path_buf(), dir.join("public"), dir.join("private")],
        None => vec![root.to_path_buf(), root.join("marketplace_builder"), root.join("app")],
    }
}

/// The part of `parts` (an app-relative path) inside its base: the path
/// after `modules/NAME/` (and `public/`/`private/`), or after `app/`.
fn inside_base(parts: &[String]) -> &[String] {
    let rest = match parts.first().map(String::as_str) {
        Some("modules") if parts.len() > 2 => &parts[2..],
        Some("app" | "marketplace_builder") if parts.len() > 1 => &parts[1..],
        _ => parts,
    };
    match (parts.first().map(String::as_str), rest.first().map(String::as_str)) {
        (Some("modules"), Some("public" | "private")) if rest.len() > 1 => &rest[1..],
        _ => rest,
    }
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
    let joined = inside_base(&parts).join("/");
    if joined == NOTIFICATION_DEFAULTS_FILE {
        return true;
    }
    if joined
        .strip_prefix("gateways/")
        .is_some_and(|name| !name.contains('/') && name.ends_with(".yml"))
    {
        return true;
    }
    Kind::ALL.iter().any(|kind| {
        kind.locations().iter().any(|(folder, ext)| {
            let Some(inside) = joined.strip_prefix(folder).and_then(|rest| rest.strip_prefix('/')) else {
                return false;
            };
            !inside.is_empty()
                && (ext.is_empty()
                    || inside.ends_with(&format!(".{ext}"))
                    || (kind.takes_yaml() && inside.ends_with(".yaml")))
        })
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

/// What [`discover`] found: the files to load, and warnings about files
/// it leaves alone (platformOS folders payforms does not run).
#[derive(Debug, Default)]
pub struct Discovered {
    pub files: Vec<SourceFile>,
    pub warnings: Vec<LoadProblem>,
}

/// Every file of the app in `root` (modules first, then the app itself), in
/// payforms' layout and in platformOS's.
pub fn discover(root: &Path) -> Result<Discovered, Vec<LoadProblem>> {
    let mut found = Discovered::default();
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
        collect(root, &modules_dir.join(module), Some(module), &mut found, &mut problems);
    }
    collect(root, root, None, &mut found, &mut problems);
    if problems.is_empty() {
        Ok(found)
    } else {
        Err(problems)
    }
}

/// The files of one owner (a module, or the app when `module` is `None`)
/// from each of its bases.
fn collect(
    app_root: &Path,
    owner_dir: &Path,
    module: Option<&str>,
    found: &mut Discovered,
    problems: &mut Vec<LoadProblem>,
) {
    // One logical name per kind and owner: the same partial in
    // `templates/partials` and `app/views/partials` would be ambiguous.
    let mut seen: std::collections::HashMap<(Kind, String), PathBuf> = std::collections::HashMap::new();
    let module_dir = module.map(|_| owner_dir);
    for (index, base) in bases(app_root, module_dir).into_iter().enumerate() {
        if !base.is_dir() {
            continue;
        }
        // Only platformOS's own bases: payforms' layout has other folders
        // of those names (the repository's database `migrations/`).
        let platformos_base = index > 0;
        for (folder, why) in UNSUPPORTED_FOLDERS.iter().filter(|_| platformos_base) {
            let dir = base.join(folder);
            if !dir.is_dir() {
                continue;
            }
            let mut files = Vec::new();
            walk(app_root, &dir, &mut files);
            if !files.is_empty() {
                let rel = dir.strip_prefix(app_root).unwrap_or(&dir).to_path_buf();
                found.warnings.push(LoadProblem::new(
                    rel,
                    0,
                    format!("{why}: {} file(s) here are not loaded", files.len()),
                ));
            }
        }
        for kind in Kind::ALL {
            for (folder, ext) in kind.locations() {
                collect_folder(app_root, &base, module, kind, folder, ext, &mut seen, found, problems);
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn collect_folder(
    app_root: &Path,
    base: &Path,
    module: Option<&str>,
    kind: Kind,
    folder: &str,
    ext: &str,
    seen: &mut std::collections::HashMap<(Kind, String), PathBuf>,
    found: &mut Discovered,
    problems: &mut Vec<LoadProblem>,
) {
    let dir = base.join(folder);
    if !dir.is_dir() {
        return;
    }
    let mut paths = Vec::new();
    walk(app_root, &dir, &mut paths);
    paths.sort();
    for path in paths {
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
        } else if let Some(stem) = inside.strip_suffix(&format!(".{ext}")) {
            template_name(kind, stem)
        } else if let Some(stem) = inside.strip_suffix(".yaml").filter(|_| kind.takes_yaml()) {
            stem.to_string()
        } else {
            problems.push(LoadProblem::new(
                &rel,
                0,
                format!("unexpected file in {folder}/: expected a .{ext} file"),
            ));
            continue;
        };
        let name = match module {
            Some(m) => format!("modules/{m}/{local_name}"),
            None => local_name.clone(),
        };
        if let Some(first) = seen.insert((kind, name.clone()), rel.clone()) {
            problems.push(LoadProblem::new(
                &rel,
                0,
                format!(
                    "`{name}` is also defined by {}; keep one of the two files",
                    first.display()
                ),
            ));
            continue;
        }
        found.files.push(SourceFile {
            kind,
            name,
            local_name,
            module: module.map(str::to_string),
            path,
            rel,
        });
    }
}

/// A template's name from its path without `.liquid`: platformOS names
/// views by their format too (`index.html.liquid`), which is not part of
/// the name.
fn template_name(kind: Kind, stem: &str) -> String {
    match kind {
        Kind::Page | Kind::Layout | Kind::Partial => stem.strip_suffix(".html").unwrap_or(stem).to_string(),
        _ => stem.to_string(),
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
        let files = discover(dir.path()).unwrap().files;
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
        let files = discover(root).unwrap().files;
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
    fn platformos_layout_loads_beside_payforms_layout() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for rel in [
            "app/views/pages/payments/index.html.liquid",
            "app/views/partials/shared/card.liquid",
            "app/views/layouts/application.liquid",
            "app/lib/commands/charge.liquid",
            "app/schema/order.yml",
            "app/custom_model_types/invoice.yml",
            "app/graphql/orders.graphql",
            "app/graph_queries/legacy.graphql",
            "app/translations/en.yml",
            "app/forms/new_order.liquid",
            "app/assets/app.css",
            "modules/shop/public/views/partials/cart.liquid",
            "modules/shop/private/graphql/secret.graphql",
            "modules/shop/public/notifications/api_call_notifications/ping.liquid",
            "modules/shop/private/migrations/20190101_seed.liquid",
            "modules/shop/template-values.json",
            "templates/pages/checkout.liquid",
            "migrations/2026-01-01-000000_payforms/up.sql",
        ] {
            touch(root, rel);
        }
        let found = discover(root).unwrap();
        let names: Vec<_> = found.files.iter().map(|f| (f.kind, f.name.as_str())).collect();
        for expected in [
            (Kind::Page, "payments/index"),
            (Kind::Page, "checkout"),
            (Kind::Partial, "shared/card"),
            (Kind::Partial, "commands/charge"),
            (Kind::Layout, "application"),
            (Kind::Schema, "order"),
            (Kind::Schema, "invoice"),
            (Kind::GraphQuery, "orders"),
            (Kind::GraphQuery, "legacy"),
            (Kind::Translation, "en"),
            (Kind::FormConfiguration, "new_order"),
            (Kind::Asset, "app.css"),
            (Kind::Partial, "modules/shop/cart"),
            (Kind::GraphQuery, "modules/shop/secret"),
            (Kind::ApiCallNotification, "modules/shop/ping"),
        ] {
            assert!(names.contains(&expected), "{expected:?} not in {names:?}");
        }
        assert_eq!(names.len(), 15, "{names:?}");
        assert_eq!(found.warnings.len(), 1, "{:?}", found.warnings);
        assert!(found.warnings[0]
            .to_string()
            .contains("modules/shop/private/migrations"));
        assert!(found.warnings[0].message.contains("not run by payforms"));
        for rel in [
            "app/views/pages/x.liquid",
            "app/lib/commands/charge.liquid",
            "modules/shop/public/views/partials/cart.liquid",
            "modules/shop/private/graphql/secret.graphql",
            "app/translations/en.yml",
            "marketplace_builder/views/pages/old.liquid",
        ] {
            assert!(is_app_path(Path::new(rel)), "{rel}");
        }
        assert!(!is_app_path(Path::new("modules/shop/template-values.json")));
    }

    #[test]
    fn one_name_from_two_layouts_is_a_problem() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "templates/partials/card.liquid");
        touch(dir.path(), "app/views/partials/card.liquid");
        let problems = discover(dir.path()).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0]
                .message
                .contains("also defined by templates/partials/card.liquid"),
            "{}",
            problems[0]
        );
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
