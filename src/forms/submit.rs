//! Handling a posted form: CSRF, signed state, editable fields, validation,
//! default_payload, idempotency, then the record (or the request type).

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::csrf;
use super::state::FormState;
use crate::access::policies;
use crate::app::templates::{self as render, RenderError};
use crate::app::FormConfiguration;
use crate::db::models::form_submission::{self, Claim};
use crate::db::models::money_journal::{self, JournalEntry, JournalOutcome, JournalStatus, Opened};
use crate::db::StoreError;
use crate::error::FieldError;
use crate::fields::coercion;
use crate::forms::feedback::Flash;
use crate::forms::feedback::SubmissionFeedback;
use crate::gateway::{Caller, DispatchFailure, DispatchOutcome, FailureKind};
use crate::instance::{AppVersion, Instance};
use crate::payments::compensation::{self, Compensator, Resolution};
use crate::signing::SignatureError;

/// What a valid or invalid submission leads to.
#[derive(Debug)]
pub enum SubmitOutcome {
    /// Stored; go to `location` with the flash notice.
    Done {
        location: String,
        flash: Flash,
        record: Value,
    },
    /// The visitor must fix something: show the page again with errors.
    Invalid {
        page: String,
        feedback: SubmissionFeedback,
        flash: Flash,
    },
}

/// A submission refused before anything is looked at or stored.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the form's CSRF token is missing or invalid; reload the page and try again")]
    Csrf,
    #[error("form `{0}` does not exist")]
    UnknownForm(String),
    #[error("the form was changed after it was rendered ({0}); nothing was stored")]
    Tampered(String),
    #[error("the form has expired; reload the page and try again")]
    Expired,
    #[error("field `{0}` was changed after the form was rendered; nothing was stored")]
    FieldChanged(String),
    #[error("you are not allowed to submit this form")]
    Forbidden {
        redirect_to: Option<String>,
        flash_alert: Option<String>,
    },
    #[error("this form is already being processed")]
    InProgress,
    /// A form whose key comes from its data (an order) was already
    /// submitted and processed: nothing is sent or stored again.
    #[error("{message}")]
    AlreadyDone { message: String, location: String },
    #[error(transparent)]
    Render(#[from] RenderError),
    /// A request type's template or the store failed (details for the log).
    #[error("request type failed: {0}")]
    Internal(DispatchFailure),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SubmitError {
    /// The HTTP status and the short code a JSON client sees.
    pub fn status_and_code(&self) -> (u16, &'static str) {
        match self {
            SubmitError::Csrf => (403, "csrf"),
            SubmitError::Forbidden { .. } => (403, "forbidden"),
            SubmitError::UnknownForm(_) => (404, "not_found"),
            SubmitError::Tampered(_) | SubmitError::FieldChanged(_) => (422, "tampered"),
            SubmitError::Expired => (422, "expired"),
            SubmitError::InProgress | SubmitError::AlreadyDone { .. } => (
                409,
                if matches!(self, SubmitError::InProgress) {
                    "in_progress"
                } else {
                    "already_done"
                },
            ),
            SubmitError::Render(_) | SubmitError::Internal(_) | SubmitError::Store(_) => (500, "internal_error"),
        }
    }

    /// What the visitor is told: the error itself, except for failures of
    /// the app or the server, whose details (files, lines) go to the log.
    pub fn visitor_message(&self) -> String {
        match self.status_and_code().0 {
            500 => "The form could not be processed; the problem was logged.".to_string(),
            _ => self.to_string(),
        }
    }
}

/// Inputs of one submission.
pub struct Submission<'a> {
    pub form_name: &'a str,
    /// Everything posted (urlencoded body, parsed).
    pub params: Map<String, Value>,
    pub visitor_id: Option<&'a str>,
    /// The `context` object for templates (params = posted params).
    pub context: Value,
}

pub fn submit(
    instance: &Arc<Instance>,
    loaded: &AppVersion,
    submission: Submission<'_>,
) -> Result<SubmitOutcome, SubmitError> {
    let settings = &instance.settings;
    let params = &submission.params;
    let token = params.get("authenticity_token").and_then(Value::as_str);
    if !csrf::verify(settings, submission.visitor_id, token) {
        return Err(SubmitError::Csrf);
    }
    let sealed = params
        .get("payforms_state")
        .and_then(Value::as_str)
        .ok_or_else(|| SubmitError::Tampered("its signed state is missing".into()))?;
    let state = FormState::open(settings, sealed, chrono::Utc::now().timestamp()).map_err(|e| match e {
        SignatureError::Expired => SubmitError::Expired,
        other => SubmitError::Tampered(other.to_string()),
    })?;
    if state.form != submission.form_name {
        return Err(SubmitError::Tampered("it was rendered for another form".into()));
    }
    if Some(state.visitor.as_str()) != submission.visitor_id {
        return Err(SubmitError::Csrf);
    }
    let form = loaded
        .app
        .form(submission.form_name)
        .cloned()
        .ok_or_else(|| SubmitError::UnknownForm(submission.form_name.to_string()))?;
    policies::check(&loaded.app, &form.authorization_policies, &submission.context).map_err(|denied| {
        SubmitError::Forbidden {
            redirect_to: denied.redirect_to,
            flash_alert: denied.flash_alert,
        }
    })?;

    let posted = match params.get("form") {
        Some(Value::Object(fields)) => platformos_properties(fields.clone()),
        _ => Map::new(),
    };
    let card_errors = coercion::card_number_errors(&posted, params);
    if !card_errors.is_empty() {
        tracing::warn!("form `{}`: a card-shaped number was posted and refused", form.name);
        let globals = json!({ "context": submission.context, "config": state.config });
        return invalid(
            &form,
            &state,
            &coercion::without_card_numbers(&posted),
            card_errors,
            &globals,
        );
    }
    let (mut payload, type_errors) = build_payload(&form, &state, &posted)?;

    let globals = json!({
        "context": submission.context,
        "data": payload,
        "config": state.config,
        "params": params,
    });
    if let Some(template) = &form.default_payload {
        match render::render_json(template, &globals)? {
            Value::Object(extra) => payload.extend(extra),
            Value::Null => {}
            _ => {
                return Err(SubmitError::Render(RenderError {
                    file: template.file.display().to_string(),
                    line: template.first_line,
                    message: "default_payload must render a JSON object".into(),
                }))
            }
        }
    }

    let mut errors: Vec<FieldError> = type_errors;
    for field in &form.fields {
        if errors.iter().any(|e| e.field == field.name) {
            continue;
        }
        errors.extend(field.rules.check(&field.name, payload.get(&field.name)));
    }
    if !errors.is_empty() {
        return invalid(&form, &state, &posted, errors, &globals);
    }
    if form.platformos_payment {
        payload = match super::platformos_payment::request_data(&payload) {
            Ok(data) => data,
            Err(error) => return invalid(&form, &state, &posted, vec![error], &globals),
        };
    }

    // One rendered form, one effect: the idempotency key is claimed in the
    // database before anything is written or sent.
    let key = state.idempotency_key.clone();
    let fingerprint = payload_fingerprint(&payload);
    match form_submission::claim(&instance.store, &key, &form.name)? {
        Claim::New => {}
        // The very same post again (a double click, a resent request) gets
        // the same answer; another attempt for an order that is already
        // done (a new render, another card) is refused.
        Claim::Done(result) if state.key_from_data && result["fingerprint"] != fingerprint.as_str() => {
            // Is what that attempt made (as it is now: webhooks move it on)
            // the end of the matter? `already_done` says so by rendering a
            // message; empty means the earlier attempt did not finish the
            // order (a failed 3-D Secure) and this one may try again.
            let current = current_record(instance, loaded, &form, &result["record"]);
            let done_globals = json!({
                "context": globals["context"], "data": payload, "config": state.config, "record": current,
            });
            let message = match &form.already_done {
                Some(t) => render::render(t, &done_globals)?.trim().to_string(),
                None => "This was already done; nothing was charged or stored again.".to_string(),
            };
            let location = result["location"].as_str().unwrap_or("/").to_string();
            if !message.is_empty() {
                return Err(SubmitError::AlreadyDone { message, location });
            }
            if !form_submission::reopen(&instance.store, &key)? {
                return Err(SubmitError::InProgress);
            }
            if let Err(why) = cancel_earlier_attempt(instance, loaded, &form, &current) {
                tracing::warn!(
                    "form `{}`: the earlier attempt could not be cancelled: {why}",
                    form.name
                );
                // Put the finished state back: the earlier attempt stands.
                form_submission::complete(&instance.store, &key, &result)?;
                return Err(SubmitError::AlreadyDone {
                    message: "An earlier payment for this is still under way (or has just gone through); nothing was charged now.".into(),
                    location,
                });
            }
        }
        Claim::Done(result) => return Ok(replay(result)),
        Claim::InProgress => return Err(SubmitError::InProgress),
    }
    // A key shared by every render of an order stays the same across
    // attempts, but the gateway must see each attempt (a declined card, then
    // another) as a new request: its key also names what was sent.
    let gateway_key = if state.key_from_data {
        format!("{key}:{fingerprint}")
    } else {
        key.clone()
    };
    // A request type that can take money is journaled before it is sent:
    // if anything after fails, the money is given back (payments::compensation).
    let (gateway_key, journal) = match journal_before_sending(instance, loaded, &form, &key, gateway_key, &payload) {
        Ok(journaled) => journaled,
        Err(e) => {
            form_submission::release(&instance.store, &key)?;
            return Err(e);
        }
    };
    let (stored, answer) = match (&journal, &form.request_type) {
        (Some(entry), Some(request_type)) => {
            let sent = dispatch_form(instance, loaded, request_type, &payload, &gateway_key);
            match after_sending(instance, loaded, entry, sent) {
                AfterSending::Kept(stored, answer) => (stored, answer),
                AfterSending::GivenBack(message) => {
                    form_submission::release(&instance.store, &key)?;
                    return invalid(&form, &state, &posted, vec![FieldError::new("base", message)], &globals);
                }
            }
        }
        _ => (store_or_dispatch(instance, loaded, &form, &payload, &gateway_key), None),
    };
    let record = match stored {
        Ok(record) => record,
        Err(StoreOrGateway::Invalid(errors)) => {
            form_submission::release(&instance.store, &key)?;
            return invalid(&form, &state, &posted, errors, &globals);
        }
        Err(StoreOrGateway::Failed(error)) => {
            form_submission::release(&instance.store, &key)?;
            return Err(error);
        }
    };

    let finished = finish(instance, &form, &state, &globals, &payload, record, &fingerprint);
    let Some(entry) = journal else {
        let (location, flash, record, result) = finished?;
        form_submission::complete(&instance.store, &key, &result)?;
        return Ok(SubmitOutcome::Done {
            location,
            flash,
            record,
        });
    };
    let (location, flash, record, result) = match finished {
        Ok(done) => done,
        Err(error) => {
            tracing::error!("form `{}`: the submission failed after the payment: {error}", form.name);
            let reason = format!("finishing the submission failed: {error}");
            let message = give_back_message(&compensate_now(instance, loaded, &entry, answer, &reason));
            form_submission::release(&instance.store, &key)?;
            return invalid(&form, &state, &posted, vec![FieldError::new("base", message)], &globals);
        }
    };
    // Settled only while still ours: another instance that found the lease
    // ended is giving the money back, so this must not report success.
    if !money_journal::settle(&instance.store, entry.id)? {
        tracing::error!(
            "form `{}`: the payment was taken over for compensation before it settled",
            form.name
        );
        form_submission::release(&instance.store, &key)?;
        let message = compensation::GIVING_BACK_MESSAGE.to_string();
        return invalid(&form, &state, &posted, vec![FieldError::new("base", message)], &globals);
    }
    form_submission::complete(&instance.store, &key, &result)?;
    Ok(SubmitOutcome::Done {
        location,
        flash,
        record,
    })
}

/// Where the visitor goes, the flash, the record and the stored result of
/// a submission whose record or request type succeeded.
type Finished = (String, Flash, Value, Value);

fn finish(
    instance: &Arc<Instance>,
    form: &FormConfiguration,
    state: &FormState,
    globals: &Value,
    payload: &Map<String, Value>,
    record: Value,
    fingerprint: &str,
) -> Result<Finished, SubmitError> {
    let globals = json!({
        "context": globals["context"],
        "data": payload,
        "config": state.config,
        "record": record,
        "form": record,
    });
    let location = match &form.redirect_to {
        Some(t) => render::render(t, &globals)?.trim().to_string(),
        None => String::new(),
    };
    // A path on this site, or the gateway's hosted page (Checkout without
    // JavaScript); anything else goes back to the form's page.
    let location = crate::access::redirect::local_path(&location)
        .or_else(|| crate::access::redirect::gateway_page(&location, &instance.settings.checkout_origins()))
        .map(str::to_string)
        .unwrap_or_else(|| state.page.clone());
    let notice = match &form.flash_notice {
        Some(t) => Some(render::render(t, &globals)?.trim().to_string()).filter(|s| !s.is_empty()),
        None => None,
    };
    let flash = Flash { notice, alert: None };
    let result = json!({ "location": location, "flash": flash, "record": record, "fingerprint": fingerprint });
    Ok((location, flash, record, result))
}

/// Give up after this many reverted attempts with one key.
const MAX_ATTEMPTS_PER_KEY: usize = 5;

/// Journal the form's request type before it is sent, when it moves money.
/// A key whose earlier attempt was given back gets a numbered successor
/// (the visitor tries again; the gateway would replay the reverted one).
fn journal_before_sending(
    instance: &Instance,
    loaded: &AppVersion,
    form: &FormConfiguration,
    submission_key: &str,
    gateway_key: String,
    payload: &Map<String, Value>,
) -> Result<(String, Option<JournalEntry>), SubmitError> {
    let notification = form
        .request_type
        .as_deref()
        .and_then(|name| crate::app::App::resolve(&loaded.app.notifications, name).map(|n| (name, n)));
    let Some((request_type, notification)) = notification.filter(|(_, n)| n.moves_money) else {
        return Ok((gateway_key, None));
    };
    let lease = compensation::open_lease(notification);
    let mut key = gateway_key.clone();
    for attempt in 2..=MAX_ATTEMPTS_PER_KEY + 1 {
        let data = Value::Object(dispatch_data(payload, &key));
        let opened = money_journal::open(&instance.store, &key, Some(submission_key), request_type, &data, lease)?;
        match opened {
            Opened::New(entry) => return Ok((key, Some(entry))),
            // Kept by an attempt that did not record its end: sending
            // again only replays it.
            Opened::Exists(entry) if entry.outcome == Some(JournalOutcome::Settled) => return Ok((key, None)),
            Opened::Exists(entry) if entry.status == JournalStatus::Closed => key = format!("{gateway_key}:{attempt}"),
            Opened::Exists(_) => return Err(SubmitError::InProgress),
        }
    }
    Err(SubmitError::InProgress)
}

/// What a journaled request type came to.
enum AfterSending {
    /// The money (if any) stays for now; the gateway's answer, to give it
    /// back should the rest of the submission fail.
    Kept(Result<Value, StoreOrGateway>, Option<(u16, Value)>),
    /// The submission failed after the money may have moved: given back
    /// (or being); the visitor's message.
    GivenBack(String),
}

fn after_sending(
    instance: &Instance,
    loaded: &AppVersion,
    entry: &JournalEntry,
    sent: Result<DispatchOutcome, DispatchFailure>,
) -> AfterSending {
    let close = |outcome| {
        if let Err(e) = money_journal::close(&instance.store, entry.id, outcome, None) {
            tracing::error!("money journal {}: {e}", entry.id);
        }
    };
    match sent {
        Ok(outcome) if outcome.errors.is_empty() => {
            let answer = answer_of(&outcome);
            AfterSending::Kept(dispatch_result(Ok(outcome)), answer)
        }
        // The mapper refused the answer (a declined card, or the app's own
        // check after the payment): whatever the gateway holds goes back.
        Ok(outcome) => {
            let answer = answer_of(&outcome);
            let reasons: Vec<&str> = outcome.errors.iter().map(|e| e.message.as_str()).collect();
            let reason = format!("the response mapper reported: {}", reasons.join("; "));
            match compensate_now(instance, loaded, entry, answer, &reason) {
                Resolution::NothingHeld | Resolution::Settled => AfterSending::Kept(dispatch_result(Ok(outcome)), None),
                // The mapper's messages are for the visitor (as a decline's are).
                other => AfterSending::GivenBack(format!("{} {}", reasons.join(" "), give_back_message(&other))),
            }
        }
        // The gateway said no: nothing was taken.
        Err(failure)
            if matches!(
                failure.kind,
                FailureKind::Declined | FailureKind::GatewayAuthentication | FailureKind::RateLimited
            ) =>
        {
            close(JournalOutcome::NothingHeld);
            AfterSending::Kept(dispatch_result(Err(failure)), None)
        }
        // No answer (or the gateway's own failure): whether it charged is
        // unknown; the compensation loop finds out later.
        Err(failure) if matches!(failure.kind, FailureKind::GatewayDown | FailureKind::GatewayError) => {
            let reason = format!("the payment service did not answer: {}", failure.message);
            let later = chrono::Utc::now() + compensation::backoff(1);
            let deferred =
                money_journal::begin_compensation(&instance.store, entry.id, &reason, compensation::claim_lease())
                    .and_then(|_| money_journal::retry_later(&instance.store, entry.id, &reason, later, None));
            if let Err(e) = deferred {
                tracing::error!("money journal {}: {e}", entry.id);
            }
            AfterSending::Kept(dispatch_result(Err(failure)), None)
        }
        // The answer could not be mapped or stored: learn what the gateway
        // holds by resending (it replays) and give it back.
        Err(failure) => {
            tracing::error!("a payment request failed after sending: {failure}");
            let reason = format!("the answer could not be mapped or stored: {}", failure.message);
            match compensate_now(instance, loaded, entry, None, &reason) {
                Resolution::NothingHeld | Resolution::Settled => {
                    AfterSending::Kept(dispatch_result(Err(failure)), None)
                }
                other => AfterSending::GivenBack(give_back_message(&other)),
            }
        }
    }
}

/// `{status, body}` of a dispatch, as compensation reads it.
fn answer_of(outcome: &DispatchOutcome) -> Option<(u16, Value)> {
    let response = outcome.response.as_ref()?;
    let status = u16::try_from(response["status"].as_u64()?).ok()?;
    Some((status, response["body"].clone()))
}

/// Compensate the submission's own journal row at once.
fn compensate_now(
    instance: &Instance,
    loaded: &AppVersion,
    entry: &JournalEntry,
    answer: Option<(u16, Value)>,
    reason: &str,
) -> Resolution {
    match money_journal::begin_compensation(&instance.store, entry.id, reason, compensation::claim_lease()) {
        Ok(true) => {}
        Ok(false) => return Resolution::Pending("another instance is resolving it".into()),
        Err(e) => {
            tracing::error!("money journal {}: {e}", entry.id);
            return Resolution::Pending(e.to_string());
        }
    }
    let compensator = Compensator {
        app: &loaded.app,
        store: &instance.store,
        gateway: instance.gateway.as_ref(),
    };
    compensator.resolve(entry, answer, reason).unwrap_or_else(|e| {
        tracing::error!("money journal {}: {e}", entry.id);
        Resolution::Pending(e.to_string())
    })
}

fn give_back_message(resolution: &Resolution) -> String {
    match resolution {
        Resolution::GivenBack(_) | Resolution::NothingHeld => compensation::GIVEN_BACK_MESSAGE,
        Resolution::Pending(_) | Resolution::Settled => compensation::GIVING_BACK_MESSAGE,
    }
    .to_string()
}

/// Signed data, plus what the visitor may type, coerced to each field's
/// type (a value that does not fit is a field error and is left out). A
/// non-editable value that differs from the signed one means the page was
/// tampered with.
/// platformOS posts a model's fields as `form[properties_attributes][NAME]`:
/// they are the fields `NAME` (a field posted both ways must agree, as any
/// signed value must).
fn platformos_properties(mut posted: Map<String, Value>) -> Map<String, Value> {
    if let Some(Value::Object(properties)) = posted.remove("properties_attributes") {
        for (name, value) in properties {
            match posted.get(&name) {
                // Both given and different: keep both apart so the
                // signed-value check refuses the post.
                Some(existing) if existing != &value => {
                    posted.insert(format!("properties_attributes[{name}]"), value);
                }
                _ => {
                    posted.insert(name, value);
                }
            }
        }
    }
    posted
}

fn build_payload(
    form: &FormConfiguration,
    state: &FormState,
    posted: &Map<String, Value>,
) -> Result<(Map<String, Value>, Vec<FieldError>), SubmitError> {
    let mut payload = match &state.data {
        Value::Object(data) => data.clone(),
        _ => Map::new(),
    };
    let mut errors = Vec::new();
    for (name, value) in posted {
        let typed = |f: &&crate::app::FormField| f.editable || (f.typed_unless_signed && !payload.contains_key(name));
        if let Some(field) = form.field(name).filter(typed) {
            match coercion::coerce(field.kind, value) {
                Ok(typed) => {
                    payload.insert(name.clone(), typed);
                }
                Err(message) => errors.push(FieldError::new(name.clone(), message)),
            }
            continue;
        }
        match payload.get(name) {
            Some(signed) if same_text(signed, value) => {}
            // The name is the visitor's too: masked like any value logged.
            _ => {
                return Err(SubmitError::FieldChanged(
                    crate::card_numbers::mask_card_numbers(name).into_owned(),
                ))
            }
        }
    }
    Ok((payload, errors))
}

/// Why an earlier attempt could not be cancelled (so it stands).
#[derive(Debug, thiserror::Error)]
enum CancelRefused {
    #[error("{}", .0.join("; "))]
    Mapper(Vec<String>),
    #[error(transparent)]
    Gateway(DispatchFailure),
}

/// Send the form's `retry_cancels` request type for the earlier attempt's
/// record, unless that record is already cancelled.
fn cancel_earlier_attempt(
    instance: &Arc<Instance>,
    loaded: &AppVersion,
    form: &FormConfiguration,
    earlier: &Value,
) -> Result<(), CancelRefused> {
    let Some(request_type) = &form.retry_cancels else {
        return Ok(());
    };
    if earlier["state"] == "canceled" {
        return Ok(());
    }
    let outcome = instance
        .gateway
        .dispatch(&loaded.app, request_type, earlier.clone(), None, Caller::Visitor);
    match outcome {
        Ok(outcome) if outcome.errors.is_empty() => Ok(()),
        Ok(outcome) => Err(CancelRefused::Mapper(
            outcome.errors.into_iter().map(|e| e.message).collect(),
        )),
        Err(failure) => {
            // Already cancelled elsewhere counts as cancelled.
            let now = current_record(instance, loaded, form, earlier);
            if now["state"] == "canceled" {
                Ok(())
            } else {
                Err(CancelRefused::Gateway(failure))
            }
        }
    }
}

/// The record an earlier submission made, read again (webhooks may have
/// moved it on since); the stored copy when it cannot be read.
fn current_record(instance: &Instance, loaded: &AppVersion, form: &FormConfiguration, stored: &Value) -> Value {
    let id = stored["id"].as_str().and_then(|id| id.parse::<i64>().ok());
    let model = loaded.app.model_type(&form.resource);
    match (id, model) {
        (Some(id), Some(model)) => match instance.store.get_record(model, id) {
            Ok(Some(record)) => record.to_liquid_json(),
            _ => stored.clone(),
        },
        _ => stored.clone(),
    }
}

/// A short digest of what a submission sends.
fn payload_fingerprint(payload: &Map<String, Value>) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(Value::Object(payload.clone()).to_string().as_bytes());
    hex::encode(&digest[..8])
}

fn same_text(signed: &Value, posted: &Value) -> bool {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    text(signed) == text(posted)
}

fn invalid(
    form: &FormConfiguration,
    state: &FormState,
    posted: &Map<String, Value>,
    errors: Vec<FieldError>,
    globals: &Value,
) -> Result<SubmitOutcome, SubmitError> {
    let alert = match &form.flash_alert {
        Some(t) => Some(render::render(t, globals)?.trim().to_string()).filter(|s| !s.is_empty()),
        None => None,
    };
    Ok(SubmitOutcome::Invalid {
        page: state.page.clone(),
        feedback: SubmissionFeedback {
            form: form.name.clone(),
            values: visitor_values(form, state, posted),
            errors,
        },
        flash: Flash { notice: None, alert },
    })
}

/// What of a failed post is shown again in the form: only the values the
/// visitor may type. A value posted for a signed field is never echoed
/// back: the form re-rendered with it would sign it (as a hidden input).
fn visitor_values(form: &FormConfiguration, state: &FormState, posted: &Map<String, Value>) -> Map<String, Value> {
    posted
        .iter()
        .filter(|(name, _)| {
            form.field(name)
                .is_some_and(|f| f.editable || (f.typed_unless_signed && state.data.get(name.as_str()).is_none()))
        })
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

fn replay(result: Value) -> SubmitOutcome {
    let location = result["location"].as_str().unwrap_or("/").to_string();
    let flash = serde_json::from_value(result["flash"].clone()).unwrap_or_default();
    SubmitOutcome::Done {
        location,
        flash,
        record: result["record"].clone(),
    }
}

enum StoreOrGateway {
    Invalid(Vec<FieldError>),
    Failed(SubmitError),
}

fn store_or_dispatch(
    instance: &Arc<Instance>,
    loaded: &AppVersion,
    form: &FormConfiguration,
    payload: &Map<String, Value>,
    idempotency_key: &str,
) -> Result<Value, StoreOrGateway> {
    if let Some(request_type) = &form.request_type {
        return dispatch_result(dispatch_form(instance, loaded, request_type, payload, idempotency_key));
    }
    let model = loaded
        .app
        .model_type(&form.resource)
        .ok_or_else(|| StoreOrGateway::Failed(SubmitError::UnknownForm(form.resource.clone())))?;
    let properties: Map<String, Value> = payload
        .iter()
        .filter(|(k, _)| model.property(k).is_some())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    match instance.store.create_record(model, properties) {
        Ok(record) => Ok(record.to_liquid_json()),
        Err(StoreError::Validation(errors)) => Err(StoreOrGateway::Invalid(errors)),
        Err(other) => Err(StoreOrGateway::Failed(other.into())),
    }
}

/// The form's data as its request type gets it: the payload and the key.
fn dispatch_data(payload: &Map<String, Value>, idempotency_key: &str) -> Map<String, Value> {
    let mut data = payload.clone();
    data.insert("idempotency_key".into(), Value::String(idempotency_key.to_string()));
    data
}

fn dispatch_form(
    instance: &Instance,
    loaded: &AppVersion,
    request_type: &str,
    payload: &Map<String, Value>,
    idempotency_key: &str,
) -> Result<DispatchOutcome, DispatchFailure> {
    instance.gateway.dispatch(
        &loaded.app,
        request_type,
        Value::Object(dispatch_data(payload, idempotency_key)),
        Some(idempotency_key.to_string()),
        Caller::Visitor,
    )
}

fn dispatch_result(outcome: Result<DispatchOutcome, DispatchFailure>) -> Result<Value, StoreOrGateway> {
    match outcome {
        Ok(outcome) if outcome.errors.is_empty() => Ok(outcome.record.unwrap_or(Value::Null)),
        Ok(outcome) => Err(StoreOrGateway::Invalid(
            outcome
                .errors
                .into_iter()
                .map(|e| FieldError::new(e.field.unwrap_or_else(|| "base".into()), e.message))
                .collect(),
        )),
        // The app's own bug (a template, a model): the visitor gets a
        // 500 and the details go to the log.
        Err(failure) if failure.kind.is_internal() => Err(StoreOrGateway::Failed(SubmitError::Internal(failure))),
        Err(failure) => Err(StoreOrGateway::Invalid(vec![FieldError::new("base", failure.message)])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posted_text_compares_with_signed_numbers() {
        assert!(same_text(&json!(599), &json!("599")));
        assert!(!same_text(&json!(599), &json!("1")));
        assert!(same_text(&json!(null), &json!("")));
    }
}
