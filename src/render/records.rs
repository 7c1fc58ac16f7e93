//! Record writes asked for by templates (the `record` tag), with the rule
//! that keeps webhook-driven records from moving backwards.

use serde_json::{Map, Value};

use crate::db::schema::ModelType;
use crate::db::{Store, StoreError};
use crate::instance::AppVersion;
use crate::liquid::host::{HostError, RecordWrite};

/// Property holding the `created` time of the gateway event that last wrote
/// a record. A write carrying an older one is skipped: Stripe does not
/// deliver events in order, and a late `processing` must not undo `succeeded`.
pub const EVENT_CREATED: &str = "event_created";

pub fn write(store: &Store, loaded: &AppVersion, mut request: RecordWrite) -> Result<Value, HostError> {
    // As for response mappers: null is "not given", `unset` clears.
    request.properties.retain(|_, value| !value.is_null());
    for name in std::mem::take(&mut request.unset) {
        request.properties.insert(name, Value::Null);
    }
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
    let id = request.id.as_ref().and_then(|v| match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    });
    let existing = match (id, &request.matching) {
        (Some(id), _) => store.get_record(&model, id).map_err(host_error)?,
        (None, Some(matching)) if !matching.is_empty() => store.find_record(&model, matching).map_err(host_error)?,
        _ => None,
    };
    if let Some(current) = &existing {
        if is_stale(&current.properties, &request.properties) {
            tracing::info!(
                "skipped a stale write to {} {}: its event is older than the record's",
                model.name,
                current.id
            );
            return Ok(current.to_liquid_json());
        }
    }
    let record = match request.operation.as_str() {
        "create" => store.create_record(&model, request.properties),
        "update" => match existing {
            Some(current) => store.update_record(&model, current.id, request.properties),
            None => return Ok(Value::Null),
        },
        "upsert" => match (&request.matching, existing) {
            // Decided again inside the write's transaction: two processes
            // handling events of one record cannot both pass the check.
            (Some(matching), _) if !matching.is_empty() => {
                let incoming = request.properties.clone();
                let (record, written) = store
                    .upsert_record_unless(&model, matching, request.properties, &|current| {
                        is_stale(&current.properties, &incoming)
                    })
                    .map_err(host_error)?;
                if !written {
                    tracing::info!("skipped a stale write to {} {}", model.name, record.id);
                }
                return Ok(record.to_liquid_json());
            }
            (_, Some(current)) => store.update_record(&model, current.id, request.properties),
            (_, None) => upsert(store, &model, request.matching.unwrap_or_default(), request.properties),
        },
        "delete" => match existing {
            Some(current) => store.delete_record(&model, current.id),
            None => return Ok(Value::Null),
        },
        other => {
            return Err(HostError(format!(
                "operation `{other}` is not one of create, update, upsert, delete"
            )))
        }
    }
    .map_err(host_error)?;
    Ok(record.to_liquid_json())
}

fn upsert(
    store: &Store,
    model: &ModelType,
    matching: Map<String, Value>,
    properties: Map<String, Value>,
) -> Result<crate::db::Record, StoreError> {
    if matching.is_empty() {
        store.create_record(model, properties)
    } else {
        store.upsert_record(model, &matching, properties)
    }
}

fn event_time(properties: &Map<String, Value>) -> Option<i64> {
    match properties.get(EVENT_CREATED)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// True when the incoming write comes from an older event than the one the
/// record already reflects.
pub fn is_stale(current: &Map<String, Value>, incoming: &Map<String, Value>) -> bool {
    match (event_time(current), event_time(incoming)) {
        (Some(have), Some(new)) => new < have,
        _ => false,
    }
}

fn host_error(e: StoreError) -> HostError {
    HostError(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn older_events_are_stale() {
        let current = props(json!({"state": "succeeded", "event_created": 200}));
        assert!(is_stale(
            &current,
            &props(json!({"state": "processing", "event_created": 100}))
        ));
        assert!(!is_stale(
            &current,
            &props(json!({"state": "refunded", "event_created": 300}))
        ));
        assert!(!is_stale(
            &current,
            &props(json!({"state": "x", "event_created": "200"}))
        ));
        assert!(!is_stale(&props(json!({})), &props(json!({"event_created": 1}))));
        assert!(!is_stale(&current, &props(json!({"state": "from a form"}))));
    }
}
