//! The demo shop's way to a payment form: /checkout's Buy button creates an
//! order, and /pay?order=N shows the payment form for it.

use reqwest::blocking::Client;

use super::html::{form_html, input_values};
use super::server::TestServer;

/// Buy on /checkout in `http`'s session (its cookies) and return the
/// `/pay?order=N` page. Works with clients that follow redirects and with
/// ones that do not.
pub fn buy_and_open_pay_page(http: &Client, server: &TestServer) -> String {
    let shop = http.get(server.url("/checkout")).send().expect("GET /checkout");
    assert_eq!(shop.status(), 200, "GET /checkout");
    let html = shop.text().expect("checkout html");
    let buy = form_html(&html, "buy-form").expect("the Buy form on /checkout");
    let answer = http
        .post(server.url("/forms/create_order_form"))
        .form(&input_values(buy))
        .send()
        .expect("POST the Buy form");
    let page = if answer.status().is_redirection() {
        let location = answer.headers()["location"].to_str().expect("a location").to_string();
        assert!(location.starts_with("/pay?order="), "{location}");
        http.get(server.url(&location)).send().expect("GET /pay")
    } else {
        answer
    };
    assert_eq!(page.status(), 200, "the pay page");
    assert!(page.url().path() == "/pay" || page.url().path() == "/forms/create_order_form");
    page.text().expect("pay page html")
}

/// Buy on /checkout in `http`'s session and return the pay page's
/// `checkout-form` fields with `token` as the card (e.g. `tok_visa`), ready
/// to post to `/forms/simple_payment_form`.
pub fn checkout_fields_with_token(http: &Client, server: &TestServer, token: &str) -> Vec<(String, String)> {
    let html = buy_and_open_pay_page(http, server);
    let mut fields = input_values(form_html(&html, "checkout-form").expect("the checkout form on /pay"));
    for (name, value) in fields.iter_mut() {
        if name == "form[source]" {
            *value = token.to_string();
        }
    }
    fields
}
