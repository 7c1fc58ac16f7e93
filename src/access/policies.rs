//! Authorization policies: a template that renders `true` to allow.

use serde_json::{json, Value};

use crate::app::App;

/// A policy said no.
#[derive(Debug, Clone)]
pub struct Denied {
    pub policy: String,
    pub redirect_to: Option<String>,
    pub flash_alert: Option<String>,
}

/// Check `names` in order; the first policy that does not render `true` denies.
pub fn check(app: &App, names: &[String], context: &Value) -> Result<(), Denied> {
    for name in names {
        let Some(policy) = App::resolve(&app.authorization_policies, name) else {
            // Load-time checks make this unreachable for pages and forms;
            // deny rather than allow if it ever happens.
            return Err(Denied {
                policy: name.clone(),
                redirect_to: None,
                flash_alert: None,
            });
        };
        let allowed = match crate::app::templates::render(&policy.template, &json!({ "context": context })) {
            Ok(text) => text.trim() == "true",
            Err(e) => {
                tracing::error!("{e}");
                false
            }
        };
        if !allowed {
            return Err(Denied {
                policy: name.clone(),
                redirect_to: policy.redirect_to.clone(),
                flash_alert: policy.flash_alert.clone(),
            });
        }
    }
    Ok(())
}
