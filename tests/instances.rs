//! Two payforms instances on one PostgreSQL database, as users scale out
//! behind a load balancer: webhook dedup, the worker's claims, merchant
//! notifications and form idempotency hold across instances, and across one
//! of them dying mid-burst.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{
    client, graphql_as, read_request, repo_root, sign_batch, wait_for, PgDatabase, ServerOptions, TestServer,
};

const WEBHOOK_SECRET: &str = "whsec_instances_0123456789abcdef";
const API_KEY: &str = "instances-test-key";

fn answer(mut stream: TcpStream, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// A merchant's notification endpoint: records the id of every
/// notification it receives and when.
#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<(String, Instant)>>>,
}

impl Receiver {
    fn start(&self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let received = self.received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let received = received.clone();
                std::thread::spawn(move || {
                    let (_, _, body) = read_request(&stream);
                    // A request cut off by the killed instance is not a
                    // notification: the endpoint refuses it.
                    let Some(id) = serde_json::from_slice::<Value>(&body)
                        .ok()
                        .and_then(|payload| payload["id"].as_str().map(str::to_string))
                    else {
                        let mut stream = stream;
                        let _ = write!(
                            stream,
                            "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        );
                        return;
                    };
                    received.lock().unwrap().push((id, Instant::now()));
                    answer(stream, "{}");
                });
            }
        });
        url
    }

    fn received(&self) -> Vec<(String, Instant)> {
        self.received.lock().unwrap().clone()
    }
}

/// A Stripe stand-in for the form test: every request creates "the"
/// PaymentIntent; it counts requests and their Idempotency-Keys.
fn counting_gateway(keys: Arc<Mutex<Vec<String>>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let keys = keys.clone();
            std::thread::spawn(move || {
                let (_, headers, _) = read_request(&stream);
                keys.lock()
                    .unwrap()
                    .push(headers.get("idempotency-key").cloned().unwrap_or_default());
                let body = json!({
                    "id": "pi_instances", "object": "payment_intent", "status": "succeeded",
                    "amount": 599, "amount_received": 599, "currency": "usd", "capture_method": "automatic",
                    "client_secret": "pi_instances_secret_x", "metadata": {}, "charges": {"data": []},
                })
                .to_string();
                answer(stream, &body);
            });
        }
    });
    url
}

fn graphql(server: &TestServer, query: &str) -> Value {
    let body = graphql_as(server, API_KEY, query);
    assert!(body.get("errors").is_none(), "{query}: {body}");
    body["data"].clone()
}

/// Every record of a connection (all pages).
fn all_nodes(server: &TestServer, connection: &str, fields: &str) -> Vec<Value> {
    let mut nodes = Vec::new();
    let mut after = String::new();
    loop {
        let page = graphql(
            server,
            &format!(
                "{{ {connection}(first: 250{after}) {{ nodes {{ {fields} }} pageInfo {{ hasNextPage endCursor }} }} }}"
            ),
        );
        let page = &page[connection];
        nodes.extend(page["nodes"].as_array().cloned().unwrap_or_default());
        if page["pageInfo"]["hasNextPage"] != json!(true) {
            return nodes;
        }
        after = format!(
            ", after: \"{}\"",
            page["pageInfo"]["endCursor"].as_str().unwrap_or_default()
        );
    }
}

fn options(database: &str, gateway: &str, merchant_url: &str) -> ServerOptions {
    ServerOptions::new(repo_root())
        .database(database)
        .env("STRIPE_API_BASE", gateway)
        .env("STRIPE_SECRET_KEY", "sk_test_instances")
        .env("STRIPE_PUBLISHABLE_KEY", "pk_test_instances")
        .webhook_secret(WEBHOOK_SECRET)
        .env("PAYFORMS_API_KEYS", API_KEY)
        .env("PAYFORMS_MERCHANT_WEBHOOK_URLS", merchant_url)
}

/// 4,000 deliveries split across two instances (3,600 distinct
/// payment_intent.succeeded events, 400 repeats sent to the other
/// instance), one instance SIGKILLed mid-burst and restarted.
#[test]
fn two_instances_apply_each_event_once_and_notify_each_merchant_once() {
    const DISTINCT: usize = 3_600;
    const REPEATS: usize = 400;
    let pg = PgDatabase::fresh();
    let receiver = Receiver::default();
    let merchant_url = receiver.start();
    let charges = Arc::new(Mutex::new(Vec::new()));
    let gateway = counting_gateway(charges.clone());
    // One secret, one database: what N instances must share.
    let shared = options(pg.url(), &gateway, &merchant_url);
    let first = TestServer::start(shared.clone());
    let mut second = TestServer::start(shared);
    let servers = [first.url("/webhooks/stripe"), second.url("/webhooks/stripe")];

    let base = chrono::Utc::now().timestamp() - 10_000;
    let bodies: Vec<String> = (0..DISTINCT)
        .map(|n| {
            json!({
                "id": format!("evt_inst_{n:04}"), "object": "event", "type": "payment_intent.succeeded",
                "created": base + n as i64, "livemode": false,
                "data": { "object": {
                    "id": format!("pi_inst_{n:04}"), "object": "payment_intent", "amount": 1000 + n,
                    "amount_received": 1000 + n, "currency": "usd", "status": "succeeded",
                    "capture_method": "automatic", "metadata": {},
                } },
            })
            .to_string()
        })
        .collect();
    let headers = sign_batch(&bodies, WEBHOOK_SECRET);
    // (event, instance): each event to one instance, every ninth again to the other.
    let jobs: Vec<(usize, usize)> = (0..DISTINCT)
        .map(|n| (n, n % 2))
        .chain((0..DISTINCT).step_by(DISTINCT / REPEATS).map(|n| (n, 1 - n % 2)))
        .collect();
    assert_eq!(jobs.len(), DISTINCT + REPEATS);

    let next = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(AtomicUsize::new(0));
    let (jobs, bodies, headers, servers) = (Arc::new(jobs), Arc::new(bodies), Arc::new(headers), Arc::new(servers));
    let senders: Vec<_> = (0..8)
        .map(|_| {
            let (next, acked, jobs, bodies, headers, servers) = (
                next.clone(),
                acked.clone(),
                jobs.clone(),
                bodies.clone(),
                headers.clone(),
                servers.clone(),
            );
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap();
                let mut outcomes = Vec::new();
                loop {
                    let slot = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&(n, instance)) = jobs.get(slot) else {
                        return outcomes;
                    };
                    // Like Stripe: no 2xx, deliver again to the same endpoint.
                    let mut tries = 0;
                    let status = loop {
                        tries += 1;
                        let sent = http
                            .post(&servers[instance])
                            .header("Stripe-Signature", &headers[n])
                            .header("Content-Type", "application/json")
                            .body(bodies[n].clone())
                            .send();
                        match sent {
                            Ok(response) if response.status().is_success() => {
                                acked.fetch_add(1, Ordering::SeqCst);
                                break response.status().as_u16();
                            }
                            Ok(response) if tries >= 300 => break response.status().as_u16(),
                            Err(_) if tries >= 300 => break 0,
                            _ => std::thread::sleep(Duration::from_millis(100)),
                        }
                    };
                    outcomes.push((n, status, tries));
                }
            })
        })
        .collect();
    wait_for("a third of the burst acknowledged", Duration::from_secs(120), || {
        (acked.load(Ordering::SeqCst) >= (DISTINCT + REPEATS) / 3).then_some(())
    });
    second.kill9();
    let killed_at = Instant::now();
    std::thread::sleep(Duration::from_millis(300));
    second.restart();
    let outcomes: Vec<(usize, u16, usize)> = senders.into_iter().flat_map(|s| s.join().unwrap()).collect();
    assert!(
        outcomes.iter().all(|(_, status, _)| (200..300).contains(status)),
        "every delivery acknowledged once the instance is back"
    );
    assert!(
        outcomes.iter().any(|(_, _, tries)| *tries > 1),
        "the kill interrupted deliveries"
    );
    let acknowledged: BTreeSet<usize> = outcomes.iter().map(|(n, _, _)| *n).collect();
    assert_eq!(acknowledged.len(), DISTINCT);

    // Applied once: one payment per event, carrying that event's time,
    // and each event stored once whichever instance got it first.
    wait_for("every event processed", Duration::from_secs(240), || {
        let data = graphql(
            &first,
            "{ pending: stripe_webhookEvents(status: \"pending\", first: 1) { nodes { eventId } } \
               processing: stripe_webhookEvents(status: \"processing\", first: 1) { nodes { eventId } } \
               failed: stripe_webhookEvents(status: \"failed\", first: 1) { nodes { eventId lastError } } \
               payments { totalCount } }",
        );
        assert_eq!(data["failed"]["nodes"], json!([]), "no event fails");
        let idle = data["pending"]["nodes"] == json!([]) && data["processing"]["nodes"] == json!([]);
        (idle && data["payments"]["totalCount"] == json!(DISTINCT)).then_some(())
    });
    let payments = all_nodes(&first, "payments", "gatewayId eventCreated amount state");
    assert_eq!(payments.len(), DISTINCT);
    let by_gateway: HashMap<String, Value> = payments
        .into_iter()
        .map(|p| (p["gatewayId"].as_str().unwrap_or_default().to_string(), p))
        .collect();
    assert_eq!(by_gateway.len(), DISTINCT, "one payment per PaymentIntent");
    for n in &acknowledged {
        let payment = &by_gateway[&format!("pi_inst_{n:04}")];
        assert_eq!(payment["eventCreated"], json!(base + *n as i64));
        assert_eq!(payment["amount"], json!(1000 + n));
        assert_eq!(payment["state"], "succeeded");
    }
    let stored = pg.query("SELECT COUNT(*), COUNT(DISTINCT event_id) FROM webhook_events");
    assert_eq!(stored.trim(), format!("{DISTINCT}|{DISTINCT}"));

    // Notified once: one payment.completed per event at the merchant. The
    // only repeats allowed are of notifications the killed instance had
    // sent but not yet recorded when it died: first received before the
    // kill, sent again only once their claim ran out (payforms cannot know
    // they arrived; receivers dedupe by the notification id).
    wait_for("every notification", Duration::from_secs(240), || {
        let received = receiver.received();
        let ids: BTreeSet<&str> = received.iter().map(|(id, _)| id.as_str()).collect();
        (ids.len() >= DISTINCT).then_some(())
    });
    // Anything still to come (a repeat) comes after its claim ran out.
    let settled = killed_at + Duration::from_secs(75);
    std::thread::sleep(settled.saturating_duration_since(Instant::now()));
    let mut received = receiver.received();
    received.sort_by_key(|(_, at)| *at);
    let mut first_seen: HashMap<&str, Instant> = HashMap::new();
    let mut repeats = Vec::new();
    for (id, at) in &received {
        if let Some(first) = first_seen.get(id.as_str()) {
            repeats.push((id.clone(), *first, *at));
        } else {
            first_seen.insert(id, *at);
        }
    }
    let expected: BTreeSet<String> = (0..DISTINCT).map(|n| format!("pf_evt_inst_{n:04}")).collect();
    let got: BTreeSet<String> = first_seen.keys().map(|id| id.to_string()).collect();
    assert_eq!(got, expected, "every notification, none other");
    for (id, first, again) in &repeats {
        assert!(*first <= killed_at, "{id} repeated without a crash");
        assert!(
            again.duration_since(*first) >= Duration::from_secs(50),
            "{id} repeated before its claim ran out"
        );
    }
    assert!(
        repeats.len() <= 20,
        "at most one claimed batch repeats: {}",
        repeats.len()
    );
    eprintln!(
        "two instances: {} deliveries, {} notifications received, {} repeated after the kill",
        DISTINCT + REPEATS,
        received.len(),
        repeats.len()
    );

    // One rendered form posted 50 times at once, split across the two: one charge.
    let http = client();
    let fields = support::checkout_fields_with_token(&http, &first, "tok_visa");
    charges.lock().unwrap().clear();
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let posts: Vec<_> = (0..50)
            .map(|i| {
                let (http, fields, target) = (&http, &fields, if i % 2 == 0 { &first } else { &second });
                scope.spawn(move || {
                    // The visitor's cookies travel with the form, to either instance.
                    http.post(target.url("/forms/simple_payment_form"))
                        .header("Accept", "application/json")
                        .form(fields)
                        .send()
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0)
                })
            })
            .collect();
        posts.into_iter().map(|p| p.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|s| *s != 0 && *s < 500), "{statuses:?}");
    let charges = charges.lock().unwrap().clone();
    assert_eq!(charges.len(), 1, "one charge for one rendered form: {charges:?}");
}
