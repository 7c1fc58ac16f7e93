//! Taking an event in: size limit, signature, shape. Storing it durably
//! is the ingest module's job.

use super::signature::{self, SignatureError};
use crate::config::Secret;
use crate::instance::Instance;

/// Largest event body accepted; Stripe's events are far smaller.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Stored endpoint secrets are read again on a mismatch at most this often.
const STORED_SECRETS_MIN_AGE: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    #[error("unknown gateway `{0}`")]
    UnknownGateway(String),
    #[error("body too large")]
    TooLarge,
    #[error("signature: {0}")]
    Signature(#[from] SignatureError),
    #[error("the body is not a JSON event with `id` and `type`")]
    NotAnEvent,
}

/// A delivery whose signature and shape are right, ready to be stored.
#[derive(Debug)]
pub struct Checked {
    pub gateway: String,
    pub event_id: String,
    pub event_type: String,
    /// The raw body as received.
    pub payload: String,
    /// The object it is about (`data.object.id`), when it names one.
    pub object_id: Option<String>,
}

/// Just what the inbox needs of an event; the rest is checked to be JSON
/// and skipped.
#[derive(serde::Deserialize)]
struct EventHead<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
    #[serde(borrow, rename = "type")]
    event_type: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    data: Option<EventData<'a>>,
}

/// The event's id and type alone.
#[derive(serde::Deserialize)]
struct BareHead<'a> {
    #[serde(borrow)]
    id: std::borrow::Cow<'a, str>,
    #[serde(borrow, rename = "type")]
    event_type: std::borrow::Cow<'a, str>,
}

#[derive(serde::Deserialize)]
struct EventData<'a> {
    #[serde(borrow)]
    object: Option<ObjectHead<'a>>,
}

#[derive(serde::Deserialize)]
struct ObjectHead<'a> {
    #[serde(borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
}

/// Verify one delivery: size, signature, shape. CPU only, except reading
/// the endpoints' secrets again when the cache is old (every 30 s) or none
/// fits.
pub fn check(
    instance: &Instance,
    gateway: &str,
    signature_header: Option<&str>,
    body: &[u8],
) -> Result<Checked, Rejection> {
    if gateway != "stripe" {
        return Err(Rejection::UnknownGateway(gateway.to_string()));
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(Rejection::TooLarge);
    }
    // Settings' secrets (several while rotating) and those of the endpoints
    // payforms subscribed (cached; read again at once when none fits, so an
    // endpoint another instance just created is known).
    let now = chrono::Utc::now().timestamp();
    let configured = instance.settings.stripe_webhook_secrets();
    let verify = |stored: &[Secret]| {
        let secrets: Vec<&str> = configured.iter().chain(stored).map(Secret::expose).collect();
        signature::verify(signature_header, body, &secrets, now)
    };
    let load = || super::subscribe::stored_secrets(instance);
    match verify(&instance.endpoint_secrets.get(load)) {
        Err(SignatureError::Mismatch | SignatureError::NoSecret) => {
            match instance.endpoint_secrets.refresh(STORED_SECRETS_MIN_AGE, load) {
                Some(fresh) => verify(&fresh)?,
                None => verify(&[])?,
            };
        }
        checked => {
            checked?;
        }
    }
    shape(gateway, body)
}

/// Verify a delivery to a merchant's own endpoint with that merchant's
/// webhook secret (`None`: it has none, so nothing is accepted).
pub fn check_merchant(
    secret: Option<&Secret>,
    signature_header: Option<&str>,
    body: &[u8],
) -> Result<Checked, Rejection> {
    if body.len() > MAX_BODY_BYTES {
        return Err(Rejection::TooLarge);
    }
    let secrets: Vec<&str> = secret.map(Secret::expose).into_iter().collect();
    signature::verify(signature_header, body, &secrets, chrono::Utc::now().timestamp())?;
    shape("stripe", body)
}

/// The event's id and type, checked; the body kept as received.
fn shape(gateway: &str, body: &[u8]) -> Result<Checked, Rejection> {
    // An odd `data.object` (not an object, an id that is not text) never
    // refuses an event that is otherwise one: it is stored without an
    // object id. Only such a body is read a second time.
    let event: EventHead<'_> = match serde_json::from_slice(body) {
        Ok(event) => event,
        Err(_) => {
            let bare: BareHead<'_> = serde_json::from_slice(body).map_err(|_| Rejection::NotAnEvent)?;
            EventHead {
                id: bare.id,
                event_type: bare.event_type,
                data: None,
            }
        }
    };
    let object_id = event
        .data
        .and_then(|data| data.object)
        .and_then(|object| object.id)
        .filter(|id| crate::db::models::webhook_event::is_object_id(id))
        .map(std::borrow::Cow::into_owned);
    let (id, event_type) = (event.id, event.event_type);
    if id.is_empty() || id.len() > 255 || event_type.is_empty() || event_type.len() > 255 {
        return Err(Rejection::NotAnEvent);
    }
    Ok(Checked {
        gateway: gateway.to_string(),
        event_id: id.into_owned(),
        event_type: event_type.into_owned(),
        payload: String::from_utf8_lossy(body).into_owned(),
        object_id,
    })
}

#[cfg(test)]
mod tests {
    use super::shape;

    #[test]
    fn the_object_id_is_kept_only_when_it_is_a_short_printable_id() {
        let object_id = |body: &str| shape("stripe", body.as_bytes()).map(|c| c.object_id);
        let event = |object: &str| format!(r#"{{"id": "evt_1", "type": "x.y", "data": {{"object": {object}}}}}"#);
        assert_eq!(
            object_id(&event(r#"{"id": "pi_1"}"#)).ok().flatten().as_deref(),
            Some("pi_1")
        );
        let long = format!(r#"{{"id": "{}"}}"#, "p".repeat(300));
        for hostile in [
            long.as_str(),
            r#"{"id": "pi 1\u0000"}"#,
            r#"{"id": 42}"#,
            r#"{"id": ""}"#,
            "[1, 2]",
            "null",
        ] {
            let answer = object_id(&event(hostile));
            // A strange object never refuses the event; it is stored without one.
            assert!(matches!(answer, Ok(None)), "{hostile}: {:?}", answer.is_ok());
        }
        assert!(matches!(object_id(r#"{"id": "evt_2", "type": "x.y"}"#), Ok(None)));
    }
}
