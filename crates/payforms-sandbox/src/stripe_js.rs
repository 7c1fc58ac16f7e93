//! `GET /js.stripe.com/v3/`: the sandbox's Stripe.js (see `stripe_v3.js`),
//! which talks to this sandbox with the publishable key, so pages written
//! for Stripe.js run unchanged against it.

use std::sync::Arc;

use actix_web::{web, HttpResponse};

use super::Inner;

const SCRIPT: &str = include_str!("stripe_v3.js");

pub fn configure(cfg: &mut web::ServiceConfig, _inner: &Arc<Inner>) {
    for path in ["/js.stripe.com/v3/", "/js.stripe.com/v3"] {
        cfg.route(path, web::get().to(serve));
    }
}

async fn serve() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .body(SCRIPT)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::TestApp;
    use actix_web::test::TestRequest;

    #[actix_web::test]
    async fn serves_the_mock_with_and_without_trailing_slash() {
        let app = TestApp::new().await;
        for path in ["/js.stripe.com/v3/", "/js.stripe.com/v3"] {
            let reply = app.send(TestRequest::get().uri(path)).await;
            assert_eq!(reply.status, 200);
            assert!(reply
                .headers
                .get("Content-Type")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("application/javascript"));
            let text = reply.body.as_str().unwrap();
            for api in [
                "createToken",
                "createPaymentMethod",
                "confirmCardPayment",
                "confirmCardSetup",
                "redirectToCheckout",
                "Complete authentication",
                "Fail authentication",
            ] {
                assert!(text.contains(api), "{api}");
            }
            for placeholder in ["number", "exp_month", "exp_year", "cvc", "postal_code"] {
                assert!(text.contains(&format!("'{placeholder}'")), "{placeholder}");
            }
        }
    }
}
