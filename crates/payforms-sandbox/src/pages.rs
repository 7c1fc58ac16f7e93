//! The sandbox's hosted pages, standing in for Stripe's:
//! - `/checkout/pay/{cs_...}`: a Checkout Session with a test-card choice
//!   and a Pay button (completes the session, redirects to `success_url`);
//! - `/authenticate/{pi_|seti_...}`: a 3-D Secure challenge with
//!   "Complete authentication" / "Fail authentication";
//! - `/connect/onboard/{acct_...}`: Connect onboarding for account links.
//!
//! Everything shown is HTML-escaped; redirects only go to URLs the API
//! stored (never to one taken from the page's own query string).

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::Value;

use super::api_error::ApiError;
use super::endpoint::Call;
use super::money;
use super::params::Params;
use super::resources::{accounts, checkout, payment_intents, setup_intents};
use super::{Accounts, Inner};

pub fn configure(cfg: &mut web::ServiceConfig, accounts: &Arc<Accounts>) {
    let routes: [(&str, PageHandler, PageHandler); 3] = [
        ("/checkout/pay/{id}", checkout_page, checkout_submit),
        ("/authenticate/{id}", authenticate_page, authenticate_submit),
        ("/connect/onboard/{id}", onboarding_page, onboarding_submit),
    ];
    for (path, show, submit) in routes {
        let (a, b) = (accounts.clone(), accounts.clone());
        // A page names only its object: it is the page of the account
        // holding that object.
        cfg.service(
            web::resource(path)
                .route(web::get().to(move |req: HttpRequest| {
                    let inner = a.holding(req.match_info().get("id").unwrap_or(""));
                    async move { show(&inner, &req, &[]) }
                }))
                .route(web::post().to(move |req: HttpRequest, body: Bytes| {
                    let inner = b.holding(req.match_info().get("id").unwrap_or(""));
                    async move { submit(&inner, &req, &body) }
                })),
        );
    }
}

type PageHandler = fn(&Inner, &HttpRequest, &[u8]) -> HttpResponse;

/// Escape text for HTML element content and attribute values.
pub use payforms_html::escape;

fn html(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    HttpResponse::build(status).content_type("text/html; charset=utf-8").body(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} · payforms sandbox</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
         table{{width:100%;border-collapse:collapse}}td{{padding:.3rem 0}}td.amount{{text-align:right}}\
         .error{{color:#b00020}}.note{{color:#555;font-size:.9rem}}button{{font-size:1rem;padding:.5rem 1.2rem}}</style>\
         </head><body><p class=\"note\">payforms sandbox — test mode, no real money moves</p>{body}</body></html>",
        escape(title)
    ))
}

fn not_found(what: &str) -> HttpResponse {
    html(
        StatusCode::NOT_FOUND,
        "Not found",
        &format!("<h1>Not found</h1><p>{}</p>", escape(what)),
    )
}

fn redirect(url: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", url.to_string()))
        .finish()
}

fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn field(fields: &[(String, String)], name: &str) -> Option<String> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// A call as the owner of `id` (the platform or a connected account).
fn call_for(inner: &Inner, req: &HttpRequest, id: &str) -> Option<Call> {
    let owner = inner.state.lock().objects.owner_of(id).map(|o| o.map(str::to_string))?;
    let mut call = Call::internal(Params::default(), &inner.base_url(req));
    call.account = owner;
    Some(call)
}

fn checkout_page(inner: &Inner, req: &HttpRequest, _: &[u8]) -> HttpResponse {
    render_checkout(inner, req, None)
}

fn render_checkout(inner: &Inner, req: &HttpRequest, error: Option<&ApiError>) -> HttpResponse {
    let id = req.match_info().get("id").unwrap_or("");
    let Some(call) = call_for(inner, req, id) else {
        return not_found("No such Checkout Session.");
    };
    let (session, items) = {
        let state = inner.state.lock();
        let Ok(session) = checkout::fetch(&state, &call, id) else {
            return not_found("No such Checkout Session.");
        };
        (session, state.checkout_line_items.get(id).cloned().unwrap_or_default())
    };
    let currency = session["currency"].as_str().unwrap_or("usd");
    let mut body = String::from("<h1>Checkout</h1>");
    if session["status"] != "open" {
        body.push_str(&format!(
            "<p>This Checkout Session is {}.</p>",
            escape(session["status"].as_str().unwrap_or(""))
        ));
        return html(StatusCode::OK, "Checkout", &body);
    }
    if !items.is_empty() {
        body.push_str("<table>");
        for item in &items {
            body.push_str(&format!(
                "<tr><td>{} × {}</td><td class=\"amount\">{}</td></tr>",
                escape(&item["quantity"].to_string()),
                escape(item["description"].as_str().unwrap_or("Item")),
                escape(&money::display(item["amount_total"].as_i64().unwrap_or(0), currency))
            ));
        }
        body.push_str(&format!(
            "<tr><td><strong>Total</strong></td><td class=\"amount\"><strong>{}</strong></td></tr></table>",
            escape(&money::display(session["amount_total"].as_i64().unwrap_or(0), currency))
        ));
    } else {
        body.push_str("<p>Save a card for later payments.</p>");
    }
    if let Some(error) = error {
        body.push_str(&format!(
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape(&error.message)
        ));
    }
    let email = session["customer_details"]["email"]
        .as_str()
        .or(session["customer_email"].as_str())
        .unwrap_or("");
    let mut options = String::new();
    for (magic, label) in checkout::HOSTED_CARDS {
        options.push_str(&format!(
            "<option value=\"{}\">{}</option>",
            escape(magic),
            escape(label)
        ));
    }
    let button = match session["mode"].as_str() {
        Some("setup") => "Save card",
        Some("subscription") => "Subscribe",
        _ => "Pay",
    };
    body.push_str(&format!(
        "<form method=\"post\" action=\"/checkout/pay/{}\">\
         <p><label>Email <input type=\"email\" name=\"email\" value=\"{}\"></label></p>\
         <p><label>Test card <select name=\"card\">{options}</select></label></p>\
         <p><button type=\"submit\" id=\"pay\">{button}</button></p></form>",
        escape(id),
        escape(email)
    ));
    if let Some(cancel) = session["cancel_url"].as_str() {
        body.push_str(&format!(
            "<p><a href=\"{}\" id=\"cancel\">Cancel and go back</a></p>",
            escape(cancel)
        ));
    }
    let status = match error {
        Some(e) => StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
        None => StatusCode::OK,
    };
    html(status, "Checkout", &body)
}

fn checkout_submit(inner: &Inner, req: &HttpRequest, body: &[u8]) -> HttpResponse {
    let id = req.match_info().get("id").unwrap_or("").to_string();
    let Some(call) = call_for(inner, req, &id) else {
        return not_found("No such Checkout Session.");
    };
    let fields = form_fields(body);
    let card = field(&fields, "card").unwrap_or_default();
    let email = field(&fields, "email");
    match inner.transact(|state| checkout::complete(state, &call, &id, &card, email)) {
        Ok(url) => redirect(&url),
        Err(error) => render_checkout(inner, req, Some(&error)),
    }
}

fn authenticate_page(inner: &Inner, req: &HttpRequest, _: &[u8]) -> HttpResponse {
    let id = req.match_info().get("id").unwrap_or("");
    let Some(call) = call_for(inner, req, id) else {
        return not_found("Nothing to authenticate.");
    };
    let intent = inner
        .state
        .lock()
        .objects
        .get(call.owner(), id)
        .cloned()
        .unwrap_or(Value::Null);
    if intent["status"] != "requires_action" {
        return html(
            StatusCode::OK,
            "3D Secure",
            "<h1>3D Secure</h1><p>Nothing is waiting for authentication.</p>",
        );
    }
    let what = match intent["amount"].as_i64() {
        Some(amount) => format!(
            "Payment of {}",
            money::display(amount, intent["currency"].as_str().unwrap_or("usd"))
        ),
        None => "Saving your card".to_string(),
    };
    html(
        StatusCode::OK,
        "3D Secure",
        &format!(
            "<h1>3D Secure</h1><p>{}. Do you want to confirm or cancel?</p>\
             <form method=\"post\" action=\"/authenticate/{}\">\
             <button type=\"submit\" name=\"result\" value=\"complete\">Complete authentication</button> \
             <button type=\"submit\" name=\"result\" value=\"fail\">Fail authentication</button></form>",
            escape(&what),
            escape(id)
        ),
    )
}

fn authenticate_submit(inner: &Inner, req: &HttpRequest, body: &[u8]) -> HttpResponse {
    let id = req.match_info().get("id").unwrap_or("").to_string();
    let Some(call) = call_for(inner, req, &id) else {
        return not_found("Nothing to authenticate.");
    };
    let success = field(&form_fields(body), "result").as_deref() == Some("complete");
    let outcome = inner.transact(|state| {
        let before = state.objects.get(call.owner(), &id).cloned().unwrap_or(Value::Null);
        let return_url = before["next_action"]["redirect_to_url"]["return_url"]
            .as_str()
            .map(str::to_string);
        let after = if id.starts_with("seti_") {
            setup_intents::authenticate(state, &call, &id, success)?
        } else {
            payment_intents::authenticate(state, &call, &id, success)?
        };
        Ok((return_url, after))
    });
    match outcome {
        Ok((Some(return_url), after)) => {
            let (id_key, secret_key) = if id.starts_with("seti_") {
                ("setup_intent", "setup_intent_client_secret")
            } else {
                ("payment_intent", "payment_intent_client_secret")
            };
            let status = if after["status"] == "succeeded" || after["status"] == "requires_capture" {
                "succeeded"
            } else {
                "failed"
            };
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair(id_key, &id)
                .append_pair(secret_key, after["client_secret"].as_str().unwrap_or(""))
                .append_pair("redirect_status", status)
                .finish();
            let separator = if return_url.contains('?') { '&' } else { '?' };
            redirect(&format!("{return_url}{separator}{query}"))
        }
        Ok((None, after)) => html(
            StatusCode::OK,
            "3D Secure",
            &format!(
                "<h1>3D Secure</h1><p>Done: the status is now {}. You can close this page.</p>",
                escape(after["status"].as_str().unwrap_or(""))
            ),
        ),
        Err(error) => html(
            error.status_code(),
            "3D Secure",
            &format!("<h1>3D Secure</h1><p class=\"error\">{}</p>", escape(&error.message)),
        ),
    }
}

fn onboarding_page(inner: &Inner, req: &HttpRequest, _: &[u8]) -> HttpResponse {
    let id = req.match_info().get("id").unwrap_or("");
    let account = {
        let state = inner.state.lock();
        accounts::fetch(&state, id, "account").ok()
    };
    let Some(account) = account else {
        return not_found("No such account.");
    };
    let due = account["requirements"]["currently_due"]
        .as_array()
        .map(|d| d.len())
        .unwrap_or(0);
    html(
        StatusCode::OK,
        "Connect onboarding",
        &format!(
            "<h1>Connect onboarding</h1><p>Account {} ({} requirement(s) due).</p>\
             <form method=\"post\" action=\"/connect/onboard/{}\"><button type=\"submit\" id=\"complete\">Complete onboarding</button></form>",
            escape(id),
            due,
            escape(id)
        ),
    )
}

fn onboarding_submit(inner: &Inner, req: &HttpRequest, _: &[u8]) -> HttpResponse {
    let id = req.match_info().get("id").unwrap_or("").to_string();
    let call = Call::internal(Params::default(), &inner.base_url(req));
    let outcome = inner.transact(|state| {
        accounts::complete_onboarding(state, &call, &id)?;
        Ok(state.onboarding_return.get(&id).cloned())
    });
    match outcome {
        Ok(Some(url)) => redirect(&url),
        Ok(None) => html(
            StatusCode::OK,
            "Connect onboarding",
            "<h1>Connect onboarding</h1><p>Onboarding complete.</p>",
        ),
        Err(error) => html(
            error.status_code(),
            "Connect onboarding",
            &format!("<p class=\"error\">{}</p>", escape(&error.message)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::TestApp;
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn escaping() {
        assert_eq!(
            escape("<b a=\"x\">'&'</b>"),
            "&lt;b a=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/b&gt;"
        );
        assert_eq!(escape("Café ☕"), "Café ☕");
        assert_eq!(escape(""), "");
    }

    #[actix_web::test]
    async fn hosted_checkout_page_pays_and_redirects() {
        let app = TestApp::new().await;
        let s = app
            .post("/v1/checkout/sessions", "mode=payment&success_url=https%3A%2F%2Fshop.test%2Fok%3Fid%3D%7BCHECKOUT_SESSION_ID%7D&cancel_url=https%3A%2F%2Fshop.test%2Fcancel&line_items[0][price_data][currency]=usd&line_items[0][price_data][unit_amount]=1000&line_items[0][price_data][product_data][name]=%3Cscript%3Ealert(1)%3C%2Fscript%3E&line_items[0][quantity]=1")
            .await
            .body;
        let id = s["id"].as_str().unwrap();
        let page = app.send(TestRequest::get().uri(&format!("/checkout/pay/{id}"))).await;
        assert_eq!(page.status, 200);
        let text = page.body.as_str().unwrap();
        assert!(text.contains("&lt;script&gt;"));
        assert!(!text.contains("<script>alert"));
        assert!(text.contains(">Pay</button>"));
        assert!(text.contains("https://shop.test/cancel"));

        let declined = app
            .send(
                TestRequest::post()
                    .uri(&format!("/checkout/pay/{id}"))
                    .set_payload("card=pm_card_chargeDeclined&email=a%40b.io"),
            )
            .await;
        assert_eq!(declined.status, 402);
        assert!(declined.body.as_str().unwrap().contains("Your card was declined."));

        let paid = app
            .send(
                TestRequest::post()
                    .uri(&format!("/checkout/pay/{id}"))
                    .set_payload("card=pm_card_visa&email=a%40b.io"),
            )
            .await;
        assert_eq!(paid.status, 303);
        assert_eq!(
            paid.headers.get("Location").unwrap(),
            &format!("https://shop.test/ok?id={id}")
        );
        let done = app.send(TestRequest::get().uri(&format!("/checkout/pay/{id}"))).await;
        assert!(done.body.as_str().unwrap().contains("complete"));
        assert_eq!(
            app.send(TestRequest::get().uri("/checkout/pay/cs_test_nope"))
                .await
                .status,
            404
        );
    }

    #[actix_web::test]
    async fn hosted_authentication_redirects_to_the_stored_return_url() {
        let app = TestApp::new().await;
        let pi = app
            .post("/v1/payment_intents", "amount=1000&currency=usd&payment_method=pm_card_threeDSecure2Required&confirm=true&return_url=https%3A%2F%2Fshop.test%2Fback")
            .await
            .body;
        let id = pi["id"].as_str().unwrap();
        let page = app
            .send(TestRequest::get().uri(&format!("/authenticate/{id}?return_url=https%3A%2F%2Fevil.test")))
            .await;
        assert!(page.body.as_str().unwrap().contains("Complete authentication"));
        let done = app
            .send(
                TestRequest::post()
                    .uri(&format!("/authenticate/{id}?return_url=https%3A%2F%2Fevil.test"))
                    .set_payload("result=complete"),
            )
            .await;
        assert_eq!(done.status, 303);
        let location = done.headers.get("Location").unwrap().to_str().unwrap();
        assert!(location.starts_with(&format!(
            "https://shop.test/back?payment_intent={id}&payment_intent_client_secret="
        )));
        assert!(location.ends_with("redirect_status=succeeded"));
        assert_eq!(
            app.get(&format!("/v1/payment_intents/{id}")).await.body["status"],
            "succeeded"
        );
    }

    #[actix_web::test]
    async fn hosted_onboarding_enables_the_account() {
        let app = TestApp::new().await;
        let acct = app.post("/v1/accounts", "type=express").await.body["id"]
            .as_str()
            .unwrap()
            .to_string();
        app.post(
            "/v1/account_links",
            &format!("account={acct}&type=account_onboarding&return_url=https%3A%2F%2Fshop.test%2Fonboarded"),
        )
        .await;
        let page = app
            .send(TestRequest::get().uri(&format!("/connect/onboard/{acct}")))
            .await;
        assert!(page.body.as_str().unwrap().contains("Complete onboarding"));
        let done = app
            .send(TestRequest::post().uri(&format!("/connect/onboard/{acct}")))
            .await;
        assert_eq!(done.status, 303);
        assert_eq!(done.headers.get("Location").unwrap(), "https://shop.test/onboarded");
        let account = app.get(&format!("/v1/accounts/{acct}")).await.body;
        assert_eq!(account["charges_enabled"], true);
        assert_eq!(account["capabilities"]["transfers"], "active");
    }
}
