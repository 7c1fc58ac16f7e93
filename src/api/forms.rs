//! `POST /forms/{name}`: a form submission. HTML gets redirects and the page
//! again with errors; `Accept: application/json` gets JSON.

use super::origin::same_origin;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use super::pages::{internal_error, redirect_with_flash, render_route, simple_page, simple_page_with_link, with_flash};
use super::reply::Reply;
use crate::forms::feedback::Flash;
use crate::forms::submit::{submit, Submission, SubmitError, SubmitOutcome};
use crate::instance::Instance;
use crate::render::context::{parse_params, RequestInfo};
use crate::render::host::escape_attr;

pub async fn submit_form(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    instance: web::Data<Arc<Instance>>,
) -> HttpResponse {
    let instance = instance.get_ref().clone();
    let form_name = path.into_inner();
    let wants_json = req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if !same_origin(&req) {
        return refuse(
            wants_json,
            StatusCode::FORBIDDEN,
            "csrf",
            &SubmitError::Csrf.to_string(),
        )
        .into_response();
    }
    let info = super::request_info::request_info(&req, &instance);
    let visitor = if info.new_visitor {
        None
    } else {
        Some(info.visitor_id.clone())
    };
    let params = match parse_params(&String::from_utf8_lossy(&body)) {
        Ok(params) => params,
        Err(e) => return refuse(wants_json, StatusCode::BAD_REQUEST, "bad_params", &e.to_string()).into_response(),
    };
    let result = web::block(move || {
        let loaded = instance.current();
        let context = info.context(params.clone(), &instance.settings, json!({}));
        let outcome = submit(
            &instance,
            &loaded,
            Submission {
                form_name: &form_name,
                params,
                visitor_id: visitor.as_deref(),
                context,
            },
        );
        respond(&instance, &loaded, info, outcome, wants_json)
    })
    .await;
    result
        .unwrap_or_else(|e| internal_error(&format!("form task failed: {e}")))
        .into_response()
}

fn respond(
    instance: &Arc<Instance>,
    loaded: &Arc<crate::instance::AppVersion>,
    info: RequestInfo,
    outcome: Result<SubmitOutcome, SubmitError>,
    wants_json: bool,
) -> Reply {
    match outcome {
        Ok(SubmitOutcome::Done {
            location,
            flash,
            record,
        }) => {
            if wants_json {
                // Scripts go on to `redirect_to` themselves; the page there
                // shows the flash as after a plain post.
                let reply = Reply::json(
                    StatusCode::CREATED,
                    &json!({ "record": record, "redirect_to": location, "flash": flash }),
                );
                with_flash(reply, instance, &info, &flash)
            } else if location.starts_with('/') {
                redirect_with_flash(instance, &info, &location, &flash)
            } else {
                // The gateway's hosted page, vetted when the form was
                // submitted (render::redirect::gateway_page).
                let reply = Reply::new(StatusCode::SEE_OTHER).header("location", location.clone());
                with_flash(reply, instance, &info, &Flash::default())
            }
        }
        Ok(SubmitOutcome::Invalid { page, feedback, flash }) => {
            if wants_json {
                let mut errors: Map<String, Value> = Map::new();
                for e in &feedback.errors {
                    let entry = errors.entry(e.field.clone()).or_insert_with(|| json!([]));
                    if let Value::Array(list) = entry {
                        list.push(Value::String(e.message.clone()));
                    }
                }
                return Reply::json(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &json!({ "errors": errors, "flash": flash }),
                );
            }
            // Show the page the form came from again, with the visitor's
            // values and the messages.
            let (path, query) = match page.split_once('?') {
                Some((p, q)) => (p.to_string(), q.to_string()),
                None => (page.clone(), String::new()),
            };
            let mut info = info;
            info.flash = flash;
            info.path = path.clone();
            info.query = query.clone();
            render_route(
                instance,
                loaded,
                "get",
                &path,
                info,
                // The query is payforms' own (a form's `error_page`).
                parse_params(&query).unwrap_or_default(),
                Some(feedback),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(SubmitError::Forbidden {
            redirect_to: Some(location),
            flash_alert,
        }) if !wants_json => {
            let flash = crate::forms::feedback::Flash {
                notice: None,
                alert: flash_alert,
            };
            redirect_with_flash(instance, &info, &location, &flash)
        }
        Err(SubmitError::AlreadyDone { message, location }) => {
            if wants_json {
                Reply::json(
                    StatusCode::CONFLICT,
                    &json!({ "error": { "code": "already_done", "message": message }, "location": location }),
                )
            } else {
                Reply::html(
                    StatusCode::CONFLICT,
                    simple_page_with_link("Already done", &escape_attr(&message), &location),
                )
            }
        }
        Err(e) => {
            let (status, code) = e.status_and_code();
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if status.is_server_error() {
                tracing::error!("form submission failed: {e}");
            } else {
                tracing::warn!("form submission refused: {e}");
            }
            refuse(wants_json, status, code, &e.visitor_message())
        }
    }
}

fn refuse(wants_json: bool, status: StatusCode, code: &str, message: &str) -> Reply {
    if wants_json {
        Reply::json(status, &json!({ "error": { "code": code, "message": message } }))
    } else {
        Reply::html(status, simple_page("The form was not accepted", &escape_attr(message)))
    }
}
