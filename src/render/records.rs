//! Record writes asked for by templates (the `record` tag): the model must
//! exist and not be one of the runtime's own; the write itself is the
//! store's one write path, with the model's declared rules.

use serde_json::Value;

use crate::db::write::RecordWrite;
use crate::db::{Store, StoreError};
use crate::instance::AppVersion;
use crate::liquid::host::{HostError, RecordRequest};

/// Run the write; the record as written (or as kept, when a rule refused
/// the write), or null when an update or delete found nothing.
pub fn write(store: &Store, loaded: &AppVersion, request: RecordRequest) -> Result<Value, HostError> {
    let model = loaded
        .app
        .model_type(&request.model)
        .cloned()
        .ok_or_else(|| HostError(format!("model `{}` does not exist", request.model)))?;
    // Templates (pages, processors) may not forge the runtime's own records:
    // its request log, deliveries and webhook endpoints (with their secrets).
    if crate::db::schema::is_system_model(&model.name) {
        return Err(HostError(format!(
            "model `{}` is written only by payforms itself",
            model.name
        )));
    }
    let write = RecordWrite::from_template(
        request.operation.as_deref(),
        request.id.as_ref(),
        request.matching,
        request.properties,
        request.unset,
    )
    .map_err(host_error)?;
    let Some(write) = write else {
        return Ok(Value::Null);
    };
    let result = store.write(&model, write).map_err(host_error)?;
    Ok(result.record().map_or(Value::Null, |r| r.to_liquid_json()))
}

fn host_error(e: StoreError) -> HostError {
    HostError(e.to_string())
}
