//! Resending a request with its first idempotency key, unmapped: how an
//! unfinished charge is looked up after a failure or a restart (the gateway
//! replays its stored answer, so nothing is charged twice).

use serde_json::Value;

use super::contract::{DispatchFailure, FailureKind, Resent};
use super::Tenant;
use super::{inputs, request, request_log, transport, Gateway, GATEWAY_REQUEST_MODEL};
use crate::app::App;

impl Gateway {
    pub(crate) fn resend_unmapped(
        &self,
        app: &App,
        request_type: &str,
        data: Value,
        key: &str,
    ) -> Result<Resent, DispatchFailure> {
        let Some(notification) = App::resolve(&app.notifications, request_type) else {
            return Ok(Resent::NotSent(DispatchFailure::new(
                FailureKind::NotFound,
                format!("unknown request type `{request_type}`"),
            )));
        };
        // Rendered as the first time (the same inputs, the same templates).
        let data = match inputs::coerce(notification, data) {
            Ok(data) => data,
            Err(failure) => return Ok(Resent::NotSent(failure)),
        };
        let globals = super::request_globals(data, self.scope(app, &Tenant::default()));
        // Skipped the first time, so never sent: nothing to learn.
        match request::should_send(notification, &globals) {
            Ok(true) => {}
            Ok(false) => {
                return Ok(Resent::NotSent(super::DispatchFailure::new(
                    super::FailureKind::NotFound,
                    format!("request type `{request_type}` is not sent: its trigger_condition is not `true`"),
                )))
            }
            Err(failure) => return Ok(Resent::NotSent(failure)),
        }
        if !notification.enabled {
            return Ok(Resent::NotSent(super::DispatchFailure::new(
                super::FailureKind::Forbidden,
                format!("request type `{request_type}` is turned off (`enabled: false`)"),
            )));
        }
        let request = match request::render_request(notification, &globals, Some(key.to_string())) {
            Ok(request) => request,
            Err(failure) => return Ok(Resent::NotSent(failure)),
        };
        let secrets = self.secret_values(&Tenant::default());
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let log = request_log::RequestLog {
            store: &self.store,
            model: app.model_type(GATEWAY_REQUEST_MODEL).map(|m| m.as_ref()),
            request_type,
            secrets: &secrets,
        };
        let response = self.runtime.block_on(transport::send(&self.http, &request, &log))?;
        Ok(Resent::Answered {
            status: response.status,
            body: response.body,
        })
    }
}
