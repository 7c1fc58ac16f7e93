//! An app: every YAML and Liquid file of an app folder and its modules,
//! parsed and compiled once. Requests only ever read a loaded [`App`].

pub mod definitions;
pub mod effects;
pub mod files;
pub mod front_matter;
pub mod gateway_defaults;
pub mod templates;
pub mod watch;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::db::schema::ModelType;
use crate::error::LoadProblem;

pub use definitions::{
    ApiCallNotification, AuthorizationPolicy, BodyFormat, FormCall, FormConfiguration, FormField, NotificationDefaults,
    NotificationMethod, Page, ResponseMapper, Skeleton, SkeletonPart,
};
use files::{Kind, SourceFile};
use templates::{CompiledTemplate, Output, Parsers, PartialSource};

/// A fully loaded app. Immutable; hot reload swaps in a new one.
#[derive(Default)]
pub struct App {
    pub root: PathBuf,
    pub pages: Vec<Page>,
    pub layouts: HashMap<String, CompiledTemplate>,
    pub forms: HashMap<String, Arc<FormConfiguration>>,
    pub notifications: HashMap<String, Arc<ApiCallNotification>>,
    pub response_mappers: HashMap<String, ResponseMapper>,
    pub webhook_processors: HashMap<String, CompiledTemplate>,
    pub authorization_policies: HashMap<String, AuthorizationPolicy>,
    pub model_types: HashMap<String, Arc<ModelType>>,
    pub graph_queries: HashMap<String, String>,
    /// URL path under /assets/ -> file.
    pub assets: HashMap<String, PathBuf>,
    /// Cache-busting version of each asset (from size and modification time).
    pub asset_versions: HashMap<String, String>,
    pub partial_names: Vec<String>,
    /// `gateways/NAME.yml` by gateway name (`stripe`): the app's file, else
    /// a module's.
    pub gateway_defaults: HashMap<String, gateway_defaults::GatewayDefaults>,
    /// What loads but is not (fully) honoured, as `file:line: message`:
    /// platformOS keys and folders payforms does not implement. `check`
    /// prints them; `serve` logs them.
    pub warnings: Vec<LoadProblem>,
}

impl App {
    /// Load and compile the app in `root`. Every problem in every file is
    /// returned, not just the first.
    pub fn load(root: &Path) -> Result<App, Vec<LoadProblem>> {
        let discovered = files::discover(root)?;
        let files = discovered.files;
        let mut problems = Vec::new();
        let mut app = App {
            root: root.to_path_buf(),
            warnings: discovered.warnings,
            ..App::default()
        };

        let mut sources: Vec<(SourceFile, String)> = Vec::new();
        for file in files {
            if file.kind == Kind::Asset {
                let url = asset_url_path(&file);
                if let Some(version) = asset_version(&file.path) {
                    app.asset_versions.insert(url.clone(), version);
                }
                app.assets.insert(url, file.path.clone());
                continue;
            }
            match fs::read_to_string(&file.path) {
                Ok(text) => sources.push((file, text)),
                Err(e) => problems.push(LoadProblem::new(&file.rel, 0, format!("cannot read: {e}"))),
            }
        }

        // Partials first: every other template may include them.
        let mut partials: HashMap<String, PartialSource> = HashMap::new();
        for (file, text) in sources.iter().filter(|(f, _)| f.kind == Kind::Partial) {
            match front_matter::split(&file.rel, text) {
                Ok(doc) => {
                    partials.insert(
                        file.name.clone(),
                        PartialSource {
                            name: file.name.clone(),
                            file: file.rel.clone(),
                            first_line: doc.body_line,
                            text: doc.body.to_string(),
                        },
                    );
                }
                Err(p) => problems.push(p),
            }
        }
        let partial_list: Vec<PartialSource> = partials.into_values().collect();
        app.partial_names = partial_list.iter().map(|p| p.name.clone()).collect();
        app.partial_names.sort();
        // Translations first: every template's `t` reads them.
        let mut translations = crate::liquid::translations::Translations::new();
        for (file, text) in sources.iter().filter(|(f, _)| f.kind == Kind::Translation) {
            if let Err(message) = translations.add_file(file.module.as_deref(), "translations", text) {
                problems.push(LoadProblem::new(&file.rel, 0, message));
            }
        }
        let (parsers, partial_problems) = Parsers::build(&partial_list, Arc::new(translations));
        problems.extend(partial_problems);

        let defaults = load_notification_defaults(root, &parsers, &mut problems);
        app.gateway_defaults = load_gateway_defaults(root, &mut problems);
        let mut warnings = Vec::new();
        for (file, text) in &sources {
            let result = match file.kind {
                Kind::Partial | Kind::Asset | Kind::Translation => Ok(()),
                Kind::Page => definitions::load_page(&parsers, file, text, &mut warnings).map(|page| {
                    // An app page replaces a module page at the same slug.
                    app.pages.retain(|p| !(p.slug == page.slug && p.method == page.method));
                    app.pages.push(page);
                }),
                Kind::Layout => compile_plain(&parsers, file, text, Output::Html)
                    .map(|t| drop(app.layouts.insert(file.name.clone(), t))),
                Kind::FormConfiguration => definitions::load_form(&parsers, file, text, &mut warnings)
                    .map(|form| drop(app.forms.insert(form.name.clone(), Arc::new(form)))),
                Kind::ApiCallNotification => {
                    let module_defaults = defaults.get(&file.module).cloned().unwrap_or_default();
                    definitions::load_notification(&parsers, file, text, &module_defaults, &mut warnings)
                        .map(|n| drop(app.notifications.insert(file.name.clone(), Arc::new(n))))
                }
                Kind::ResponseMapper => definitions::load_mapper(&parsers, file, text)
                    .map(|m| drop(app.response_mappers.insert(file.name.clone(), m))),
                Kind::WebhookProcessor => compile_plain(&parsers, file, text, Output::Data)
                    .map(|t| drop(app.webhook_processors.insert(file.name.clone(), t))),
                Kind::AuthorizationPolicy => definitions::load_policy(&parsers, file, text, &mut warnings)
                    .map(|p| drop(app.authorization_policies.insert(file.name.clone(), p))),
                Kind::Schema => ModelType::parse_with_warnings(&file.rel, &file.name, text)
                    .map_err(ProblemList::from)
                    .map(|(m, mut warnings)| {
                        app.warnings.append(&mut warnings);
                        let (m, kept) = crate::db::schema::keep_system_properties(m);
                        app.warnings.extend(kept);
                        app.model_types.insert(file.name.clone(), Arc::new(m));
                    }),
                Kind::GraphQuery => {
                    app.graph_queries.insert(file.name.clone(), text.clone());
                    Ok(())
                }
            };
            if let Err(mut p) = result.map_err(ProblemList::into_vec) {
                problems.append(&mut p);
            }
        }
        app.warnings.append(&mut warnings);
        app.warnings
            .sort_by(|a, b| a.file.cmp(&b.file).then(a.line.cmp(&b.line)));
        app.check_references(&mut problems);
        // Mappers, processors, and the partials they share (by convention
        // under a `mappers` or `webhooks` folder); not page partials, whose
        // `"model"` can be anything.
        let shared = |name: &str| name.split('/').any(|part| part == "mappers" || part == "webhooks");
        let mapper_sources = app
            .response_mappers
            .values()
            .map(|m| &m.template)
            .chain(app.webhook_processors.values())
            .map(|t| (t.file.clone(), t.first_line, t.source.to_string()))
            .chain(
                partial_list
                    .iter()
                    .filter(|p| shared(&p.name))
                    .map(|p| (p.file.clone(), p.first_line, p.text.clone())),
            );
        app.check_mapped_models(mapper_sources, &mut problems);
        app.check_form_currencies(&sources, &mut problems);
        app.pages.sort_by_key(|page| page.route_rank());
        let partial_texts: HashMap<String, String> =
            partial_list.iter().map(|p| (p.name.clone(), p.text.clone())).collect();
        let effects: Vec<(bool, bool)> = app
            .pages
            .iter()
            .map(|page| {
                (
                    effects::renders_from_memory(&app, &partial_texts, page),
                    effects::renders_constant(&app, &partial_texts, page),
                )
            })
            .collect();
        for (page, (from_memory, constant)) in app.pages.iter_mut().zip(effects) {
            page.renders_from_memory = from_memory;
            page.renders_constant = constant;
        }
        if problems.is_empty() {
            Ok(app)
        } else {
            problems.sort_by(|a, b| a.file.cmp(&b.file).then(a.line.cmp(&b.line)));
            problems.dedup();
            Err(problems)
        }
    }

    /// Cross-file checks: names a file refers to must exist.
    fn check_references(&self, problems: &mut Vec<LoadProblem>) {
        for page in &self.pages {
            if let Some(layout) = &page.layout {
                if !self.layouts.contains_key(layout) {
                    problems.push(LoadProblem::new(
                        &page.file,
                        page.layout_line,
                        format!("layout `{layout}` does not exist (looked for templates/layouts/{layout}.liquid and app/views/layouts/{layout}.liquid)"),
                    ));
                }
            }
            for policy in &page.authorization_policies {
                if !self.authorization_policies.contains_key(policy) {
                    problems.push(LoadProblem::new(
                        &page.file,
                        page.policies_line,
                        format!("authorization policy `{policy}` does not exist"),
                    ));
                }
            }
        }
        for form in self.forms.values() {
            if !self.model_types.contains_key(&form.resource) {
                problems.push(LoadProblem::new(
                    &form.file,
                    form.resource_line,
                    format!(
                        "resource `{}` is not a model (no schema/{}.yml)",
                        form.resource, form.resource
                    ),
                ));
            }
            if let Some(rt) = &form.request_type {
                if !self.notifications.contains_key(rt) {
                    problems.push(LoadProblem::new(
                        &form.file,
                        form.request_type_line,
                        format!("request_type `{rt}` has no API call notification (notifications/api_call_notifications/{rt}.liquid)"),
                    ));
                }
            }
            for policy in &form.authorization_policies {
                if !self.authorization_policies.contains_key(policy) {
                    problems.push(LoadProblem::new(
                        &form.file,
                        form.policies_line,
                        format!("authorization policy `{policy}` does not exist"),
                    ));
                }
            }
        }
        let mut short_names: HashMap<&str, &ModelType> = HashMap::new();
        for model in self.model_types.values() {
            let model: &ModelType = model;
            if let Some(other) = short_names.insert(model.short_name(), model) {
                let (first, second) = if other.file <= model.file {
                    (other, model)
                } else {
                    (model, other)
                };
                problems.push(LoadProblem::new(
                    &second.file,
                    1,
                    format!(
                        "model `{}` has the same GraphQL name as `{}` ({}); rename one",
                        second.name,
                        first.name,
                        first.file.display()
                    ),
                ));
            }
        }
    }

    /// Models the runtime writes for request types must exist when the app
    /// has request types, and every model a mapper (or a partial) names
    /// literally (`"model": "modules/payments/payment"`) must exist: a
    /// typo would otherwise surface only when money has already moved.
    fn check_mapped_models(
        &self,
        sources: impl Iterator<Item = (PathBuf, usize, String)>,
        problems: &mut Vec<LoadProblem>,
    ) {
        let mut needed: Vec<(&str, &Path, &str)> = Vec::new();
        let mut notifications: Vec<&ApiCallNotification> = self.notifications.values().map(Arc::as_ref).collect();
        notifications.sort_by(|a, b| a.file.cmp(&b.file));
        if let Some(first) = notifications.first() {
            needed.push((
                crate::db::schema::GATEWAY_REQUEST_MODEL,
                &first.file,
                "the request log of every request type",
            ));
        }
        if let Some(runtime_only) = notifications.iter().find(|n| n.runtime_only) {
            needed.push((
                crate::db::schema::WEBHOOK_ENDPOINT_MODEL,
                &runtime_only.file,
                "the webhook endpoint this request type creates",
            ));
        }
        for (model, file, why) in needed {
            if self.model_type(model).is_none() {
                problems.push(LoadProblem::new(
                    file,
                    1,
                    format!("model `{model}` (for {why}) does not exist; keep modules/payments or add schema for it"),
                ));
            }
        }
        let Some(literal) = mapped_model_pattern() else {
            return;
        };
        for (file, first_line, text) in sources {
            for (index, line) in text.lines().enumerate() {
                for found in literal.captures_iter(line) {
                    let Some(name) = found.get(1).or_else(|| found.get(2)).map(|m| m.as_str()) else {
                        continue;
                    };
                    if self.model_type(name).is_none() {
                        problems.push(LoadProblem::new(
                            &file,
                            first_line + index,
                            format!("model `{name}` does not exist (no schema/{name}.yml)"),
                        ));
                    }
                }
            }
        }
    }

    /// The page for `method` and `path`, with captured `:params`.
    pub fn route(&self, method: &str, path: &str) -> Option<(&Page, Vec<(String, String)>)> {
        self.pages.iter().find_map(|page| {
            if !page.method.eq_ignore_ascii_case(method) {
                return None;
            }
            page.match_path(path).map(|params| (page, params))
        })
    }

    /// True when the answer to `method` `path` is rendered from memory
    /// alone (its page, or the 404 page, never reaches the store).
    pub fn renders_from_memory(&self, method: &str, path: &str) -> bool {
        match self.route(method, path) {
            Some((page, _)) => page.renders_from_memory,
            None => self.not_found_page().is_none_or(|page| page.renders_from_memory),
        }
    }

    /// `templates/pages/404.liquid` if the app has one.
    pub fn not_found_page(&self) -> Option<&Page> {
        self.pages.iter().find(|p| p.name == "404" || p.name.ends_with("/404"))
    }

    /// Look a name up app-first, then in every module (`name`, then
    /// `modules/*/name`), as platformOS resolves unqualified names.
    pub fn resolve<'a, T>(map: &'a HashMap<String, T>, name: &str) -> Option<&'a T> {
        if let Some(found) = map.get(name) {
            return Some(found);
        }
        if name.starts_with("modules/") {
            return None;
        }
        let mut candidates: Vec<(&String, &T)> = map
            .iter()
            .filter(|(key, _)| key.starts_with("modules/") && key.splitn(3, '/').nth(2) == Some(name))
            .collect();
        candidates.sort_by(|a, b| a.0.cmp(b.0));
        candidates.first().map(|(_, v)| *v)
    }

    /// The processor for a webhook event type, app first: the exact name
    /// (`payment_intent.succeeded`, or platformOS's
    /// `payment_intent_succeeded`), then the closest wildcard
    /// (`payment_intent.*`; `customer.subscription.*` before `customer.*`).
    pub fn webhook_processor(&self, event_type: &str) -> Option<&CompiledTemplate> {
        if let Some(exact) = App::resolve(&self.webhook_processors, event_type)
            .or_else(|| App::resolve(&self.webhook_processors, &event_type.replace('.', "_")))
        {
            return Some(exact);
        }
        let mut prefix = event_type;
        while let Some((shorter, _)) = prefix.rsplit_once('.') {
            if let Some(found) = App::resolve(&self.webhook_processors, &format!("{shorter}.*")) {
                return Some(found);
            }
            prefix = shorter;
        }
        None
    }

    pub fn model_type(&self, name: &str) -> Option<&Arc<ModelType>> {
        App::resolve(&self.model_types, name)
    }

    pub fn form(&self, name: &str) -> Option<&Arc<FormConfiguration>> {
        App::resolve(&self.forms, name)
    }

    pub fn graph_query(&self, name: &str) -> Option<&String> {
        App::resolve(&self.graph_queries, name)
    }
}

/// Each module's (and the app's) `notifications/defaults.yml`, by module
/// (`None` for the app's own).
fn load_notification_defaults(
    root: &Path,
    parsers: &Parsers,
    problems: &mut Vec<LoadProblem>,
) -> HashMap<Option<String>, NotificationDefaults> {
    let mut owners: Vec<(Option<String>, Vec<PathBuf>)> = vec![(None, files::bases(root, None))];
    if let Ok(entries) = fs::read_dir(root.join("modules")) {
        for entry in entries.flatten() {
            if let Some(name) = entry.file_name().to_str().filter(|n| !n.starts_with('.')) {
                owners.push((Some(name.to_string()), files::bases(root, Some(&entry.path()))));
            }
        }
    }
    let mut found = HashMap::new();
    for (module, bases) in owners {
        // The first base that has the file (payforms' layout, then
        // platformOS's `app/` or `public/`/`private/`).
        let Some((path, text)) = bases.iter().find_map(|base| {
            let path = base.join(definitions::NOTIFICATION_DEFAULTS_FILE);
            fs::read_to_string(&path).ok().map(|text| (path, text))
        }) else {
            continue;
        };
        let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
        match definitions::load_notification_defaults(parsers, &rel, &text) {
            Ok(defaults) => {
                found.insert(module, defaults);
            }
            Err(p) => problems.extend(p.into_vec()),
        }
    }
    found
}

impl App {
    /// A form that lets a currency through which the gateway's defaults do
    /// not accept would fail at the gateway, after the visitor filled it in.
    fn check_form_currencies(&self, sources: &[(SourceFile, String)], problems: &mut Vec<LoadProblem>) {
        let Some(defaults) = self.gateway_defaults.get("stripe") else {
            return;
        };
        for form in self.forms.values() {
            let Some(allowed) = form
                .fields
                .iter()
                .find(|f| f.name == "currency")
                .and_then(|f| f.rules.inclusion())
            else {
                continue;
            };
            let refused: Vec<&str> = allowed
                .iter()
                .map(String::as_str)
                .filter(|c| !defaults.accepts_currency(c))
                .collect();
            if refused.is_empty() {
                continue;
            }
            let line = sources
                .iter()
                .find(|(file, _)| file.rel == form.file)
                .and_then(|(_, text)| text.lines().position(|l| l.trim_start().starts_with("currency:")))
                .map_or(1, |n| n + 1);
            problems.push(LoadProblem::new(
                &form.file,
                line,
                format!(
                    "field `currency` accepts {}, which {} does not accept (currencies: {})",
                    refused.join(", "),
                    defaults.file,
                    defaults.currencies.join(", ")
                ),
            ));
        }
    }
}

/// Every `gateways/NAME.yml` of the modules, then the app's (which win).
fn load_gateway_defaults(
    root: &Path,
    problems: &mut Vec<LoadProblem>,
) -> HashMap<String, gateway_defaults::GatewayDefaults> {
    let mut bases: Vec<PathBuf> = Vec::new();
    if let Ok(entries) = fs::read_dir(root.join("modules")) {
        let mut modules: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| e.file_name().to_str().is_some_and(|n| !n.starts_with('.')))
            .map(|e| e.path())
            .collect();
        modules.sort();
        bases.extend(modules);
    }
    bases.push(root.to_path_buf());
    let mut found = HashMap::new();
    for base in bases {
        let Ok(entries) = fs::read_dir(base.join(gateway_defaults::GATEWAYS_DIR)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for path in files {
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".yml"))
                .map(str::to_string)
            else {
                continue;
            };
            let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
            match fs::read_to_string(&path) {
                Ok(text) if text.len() <= 64 * 1024 => match gateway_defaults::parse(&rel, &text) {
                    Ok(defaults) => {
                        found.insert(name, defaults);
                    }
                    Err(problem) => problems.push(problem),
                },
                Ok(_) => problems.push(LoadProblem::new(&rel, 0, "larger than 64 KiB")),
                Err(e) => problems.push(LoadProblem::new(&rel, 0, format!("cannot read: {e}"))),
            }
        }
    }
    found
}

/// `"model": "name"` or `{% record r = 'name'` with a literal name.
fn mapped_model_pattern() -> Option<&'static regex::Regex> {
    static PATTERN: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    PATTERN
        .get_or_init(|| {
            regex::Regex::new(r#""model"\s*:\s*"([A-Za-z0-9_/]+)"|\{%-?\s*record\s+\w+\s*=\s*['"]([A-Za-z0-9_/]+)['"]"#)
                .ok()
        })
        .as_ref()
}

fn compile_plain(
    parsers: &Parsers,
    file: &SourceFile,
    text: &str,
    output: Output,
) -> Result<CompiledTemplate, ProblemList> {
    let doc = front_matter::split(&file.rel, text)?;
    if !doc.yaml.trim().is_empty() {
        return Err(LoadProblem::new(&file.rel, doc.yaml_line, "this kind of file takes no front matter").into());
    }
    Ok(parsers.compile(&file.rel, doc.body_line, doc.body, output)?)
}

fn asset_version(path: &Path) -> Option<String> {
    let meta = fs::metadata(path).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(format!("{:x}", modified ^ (meta.len() << 32)))
}

fn asset_url_path(file: &SourceFile) -> String {
    match &file.module {
        Some(m) => format!("modules/{m}/{}", file.local_name),
        None => file.local_name.clone(),
    }
}

/// One or more problems of one file.
#[derive(Debug)]
pub struct ProblemList(pub Vec<LoadProblem>);

impl ProblemList {
    fn into_vec(self) -> Vec<LoadProblem> {
        self.0
    }
}

impl From<LoadProblem> for ProblemList {
    fn from(p: LoadProblem) -> Self {
        ProblemList(vec![p])
    }
}

impl From<Vec<LoadProblem>> for ProblemList {
    fn from(p: Vec<LoadProblem>) -> Self {
        ProblemList(p)
    }
}
