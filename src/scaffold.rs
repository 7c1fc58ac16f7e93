//! `payforms new request-type MODULE/NAME`: the three files of a request type.

use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("`{0}` is not MODULE/NAME (letters, digits and _ only), e.g. stripe/create_coupon")]
    BadName(String),
    #[error("{0} already exists; nothing was written")]
    Exists(String),
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Write the notification, response mapper and form partial of a new request
/// type into `app_dir/modules/MODULE/...` (and `schema/NOUN.yml` for the
/// record it stores, when absent); returns the files written.
pub fn new_request_type(app_dir: &Path, spec: &str) -> Result<Vec<PathBuf>, ScaffoldError> {
    let spec = spec.trim().trim_start_matches("modules/");
    let (module, name) = spec
        .split_once('/')
        .ok_or_else(|| ScaffoldError::BadName(spec.to_string()))?;
    let valid = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid(module) || !valid(name) {
        return Err(ScaffoldError::BadName(spec.to_string()));
    }
    let base = app_dir.join("modules").join(module);
    let files = [
        (
            base.join("notifications/api_call_notifications")
                .join(format!("{name}.liquid")),
            notification(name),
        ),
        (
            base.join("templates/response_mappers").join(format!("{name}.liquid")),
            mapper(module, name),
        ),
        (
            base.join("templates/partials/forms").join(format!("{name}.liquid")),
            partial(module, name),
        ),
    ];
    let noun = resource_path(name).trim_end_matches('s').to_string();
    let schema = app_dir.join("schema").join(format!("{noun}.yml"));
    let mut files = files.to_vec();
    // A new module gets the headers every Stripe call needs, once.
    let defaults = base.join("notifications/defaults.yml");
    if !defaults.exists() {
        files.push((defaults, DEFAULTS.to_string()));
    }
    if !schema.exists() {
        files.push((
            schema,
            format!("name: {noun}\nproperties:\n  - {{ name: gateway_id, type: string, unique: true }}\n  - {{ name: name, type: string }}\n  - {{ name: metadata, type: json }}\n"),
        ));
    }
    for (path, _) in &files {
        if path.exists() {
            return Err(ScaffoldError::Exists(path.display().to_string()));
        }
    }
    let mut written = Vec::new();
    for (path, contents) in files {
        let io = |source| ScaffoldError::Io {
            path: path.display().to_string(),
            source,
        };
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io)?;
        }
        fs::write(&path, contents).map_err(io)?;
        written.push(path);
    }
    Ok(written)
}

fn resource_path(name: &str) -> String {
    // create_coupon -> coupons
    let noun = name.split_once('_').map(|(_, rest)| rest).unwrap_or(name);
    format!("{noun}s")
}

/// `notifications/defaults.yml` of a new module: Stripe's form encoding, the
/// secret key from settings and the pinned API version.
const DEFAULTS: &str = r#"# What every request type of this module has unless its own front matter
# says otherwise. A null header is not sent.
format: form
headers: >-
  {
    "Authorization": {{ gateway.secret_key | prepend: "Bearer " | json }},
    "Stripe-Version": "{% include 'modules/stripe/api_version' %}",
    "Stripe-Account": {{ data.stripe_account | json }}
  }
"#;

fn notification(name: &str) -> String {
    format!(
        r#"---
# POST {{{{ gateway.api_base }}}}/v1/{path} — change the URL and method to the API call you need.
to: '{{{{ gateway.api_base }}}}/v1/{path}'
request_type: POST
# Typed inputs (optional; without them the GraphQL input is a Map): values
# are coerced to these types, and blank ones are left out of the body.
fields:
  name: string
  metadata: json
---
{{
  "name": {{{{ data.name | json }}}},
  "metadata": {{{{ data.metadata | json }}}}
}}
"#,
        path = resource_path(name)
    )
}

fn mapper(module: &str, name: &str) -> String {
    let _ = module;
    format!(
        r#"{{% comment %}}
  Response mapper for {name}: `response` (status, headers, body), `data` and
  `config` are in scope. It runs for 2xx answers only (front matter
  `map_errors: true` to see the others). Render the record to write; a null
  property is "not given". See README "A new request type".
{{% endcomment %}}
{{
  "model": "{noun}",
  "operation": "upsert",
  "match": {{ "gateway_id": {{{{ response.body.id | json }}}} }},
  "properties": {{
    "gateway_id": {{{{ response.body.id | json }}}},
    "metadata": {{{{ response.body.metadata | json }}}}
  }}
}}
"#,
        noun = resource_path(name).trim_end_matches('s')
    )
}

fn partial(module: &str, name: &str) -> String {
    format!(
        r#"{{% comment %}}
  Form fields for modules/{module}/{name}. A form configuration with
  `request_type: modules/{module}/{name}` includes this partial
  ('modules/{module}/forms/{name}') inside its form block.
{{% endcomment %}}
<label>Name <input type="text" name="{{{{ form_builder.fields.name.name }}}}" value="{{{{ form_builder.fields.name.value }}}}"></label>
<button type="submit">{{{{ config.button | default: "Save" }}}}</button>
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_three_files_once() {
        let dir = tempfile::tempdir().unwrap();
        let files = new_request_type(dir.path(), "stripe/create_coupon").unwrap();
        assert_eq!(
            files.len(),
            5,
            "notification, mapper, partial, the module's defaults and the model's schema"
        );
        let notification = fs::read_to_string(&files[0]).unwrap();
        assert!(
            notification.contains("to: '{{ gateway.api_base }}/v1/coupons'"),
            "{notification}"
        );
        assert!(
            notification.contains(r#""name": {{ data.name | json }}"#),
            "{notification}"
        );
        let mapper = fs::read_to_string(&files[1]).unwrap();
        assert!(mapper.contains(r#""model": "coupon""#), "{mapper}");
        assert!(dir.path().join("schema/coupon.yml").exists());
        // What was written loads.
        let problems = match crate::app::App::load(dir.path()) {
            Ok(_) => Vec::new(),
            Err(problems) => problems.iter().map(ToString::to_string).collect(),
        };
        // (This bare folder lacks modules/payments and modules/stripe.)
        assert!(
            problems
                .iter()
                .all(|p| p.contains("gateway_request") || p.contains("api_version")),
            "{problems:?}"
        );
        assert!(matches!(
            new_request_type(dir.path(), "stripe/create_coupon"),
            Err(ScaffoldError::Exists(_))
        ));
    }

    #[test]
    fn rejects_bad_names() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            new_request_type(dir.path(), "create_coupon"),
            Err(ScaffoldError::BadName(_))
        ));
        assert!(matches!(
            new_request_type(dir.path(), "../x/y"),
            Err(ScaffoldError::BadName(_))
        ));
    }
}
