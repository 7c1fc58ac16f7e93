//! `payforms reconcile` against the standalone sandbox, which delivers no
//! webhooks to payforms: a payment captured at Stripe behind payforms' back
//! and a PaymentIntent payforms never stored are repaired; a second run
//! finds nothing to do.
#![cfg(feature = "sandbox")]

mod stripe_support;
mod support;

use std::process::Command;

use serde_json::{json, Value};
use stripe_support::{Peer, Sandbox, StripeEnv};
use support::{client, payforms_bin, repo_root, ServerOptions};

fn stripe_post(env: &StripeEnv, path: &str, form: &[(&str, &str)]) -> Value {
    client()
        .post(format!("{}{path}", env.peer.base_url()))
        .bearer_auth(env.peer.secret_key())
        .form(form)
        .send()
        .unwrap()
        .json()
        .unwrap()
}

fn reconcile(env: &StripeEnv, args: &[&str]) -> (bool, String) {
    let options = env.server.options();
    let output = Command::new(payforms_bin())
        .arg("reconcile")
        .args(args)
        .arg("--app")
        .arg(repo_root())
        .args(["--database", env.server.database_url()])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(options.env.iter())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn a_payment_whose_webhook_never_came_is_repaired() {
    let env = StripeEnv::with_options(Peer::Sandbox(Sandbox::start()), ServerOptions::default());
    let authorized = env.dispatch_ok(
        "create_payment",
        json!({"amount": 1500, "currency": "usd", "paymentMethod": "pm_card_visa", "capture": false}),
    );
    assert_eq!(authorized["state"], "authorized", "{authorized}");
    let pi = authorized["gateway_id"].as_str().unwrap().to_string();
    // Captured at Stripe, not through payforms: payment_intent.succeeded
    // is never delivered here.
    let captured = stripe_post(&env, &format!("/v1/payment_intents/{pi}/capture"), &[]);
    assert_eq!(captured["status"], "succeeded", "{captured}");
    // A PaymentIntent payforms never stored at all.
    let unknown = stripe_post(
        &env,
        "/v1/payment_intents",
        &[
            ("amount", "900"),
            ("currency", "usd"),
            ("payment_method", "pm_card_visa"),
            ("confirm", "true"),
        ],
    );
    let unknown_id = unknown["id"].as_str().unwrap().to_string();

    let payments = |id: &str| env.records("payments", "gatewayId state amount", json!({"gatewayId": {"eq": id}}));
    assert_eq!(payments(&pi)[0]["state"], "authorized");
    assert!(payments(&unknown_id).is_empty());

    let (ok, out) = reconcile(&env, &["--since", "2000-01-01"]);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("repaired {pi}")), "{out}");
    assert!(out.contains(&format!("repaired {unknown_id}")), "{out}");
    assert!(out.contains("disputes: 0 checked"), "{out}");
    assert_eq!(payments(&pi)[0]["state"], "succeeded");
    let created = payments(&unknown_id);
    assert_eq!(created[0]["state"], "succeeded");
    assert_eq!(created[0]["amount"], 900);

    // Nothing left to repair.
    let (ok, out) = reconcile(&env, &[]);
    assert!(ok && out.contains("payment intents: 2 checked, 0 repaired"), "{out}");

    // A partial refund made at Stripe: the refund and its payment's
    // refunded amount are repaired.
    let refund = stripe_post(
        &env,
        "/v1/refunds",
        &[("payment_intent", &unknown_id), ("amount", "400")],
    );
    let refund_id = refund["id"].as_str().unwrap().to_string();
    let (ok, out) = reconcile(&env, &[]);
    assert!(ok && out.contains(&format!("repaired {refund_id}")), "{out}");
    let refunded = env.records(
        "payments",
        "state amountRefunded",
        json!({"gatewayId": {"eq": unknown_id}}),
    );
    assert_eq!(refunded[0]["amountRefunded"], 400, "{refunded:?}");
    assert_eq!(refunded[0]["state"], "partially_refunded");
    let (ok, out) = reconcile(&env, &[]);
    assert!(ok && out.contains("refunds: 1 checked, 0 repaired"), "{out}");

    // A period after the payments lists none.
    let (ok, out) = reconcile(&env, &["--since", "2999-01-01"]);
    assert!(ok && out.contains("payment intents: 0 checked"), "{out}");
}
