//! Seed 004's GraphQL Stripe API as a client written from seed 004 calls
//! it: the operation texts below are seed 004's examples as printed (only
//! its elided ids such as "cus_Ts..." are replaced by real ones), sent over
//! HTTP to the README's own command (`serve --sandbox`), on SQLite and
//! PostgreSQL, reading local records (webhooks keep them current) and, with
//! `PAYFORMS_STRIPE_READS=stripe`, reading Stripe itself.

#![cfg(feature = "sandbox")]

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{client, repo_root, wait_for, PgDatabase, ServerOptions, TestServer};

const KEY: &str = "seed-004-client-key";

const CREATE_CUSTOMER: &str = r#"mutation stripe_createCustomer {
stripe_createCustomer (
input: {
name: "Customer",
email: "example@archie.com",
phone: "+573001230001",
description: "Description Example"
metadata: {
data1: "Example data1",
data2: "Example data2"
}
}
)
{
id
name
email
phone
description
metadata
object
createdAt
}
}"#;

const GET_CUSTOMER: &str = r#"query stripe_customer{
stripe_customer(
id: "cus_Ts..."
)
{
id
name
email
phone
description
metadata
object
createdAt
}
}"#;

const LIST_CUSTOMERS: &str = r#"query stripe_customers (
$first: Int,
$after: String,
$customerId: String
) {
stripe_customers (
first: $first,
after: $after,
customerId: $customerId
) {
edges {
node {
id
name
email
phone
description
createdAt
}
cursor
}
pageInfo {
hasNextPage
hasPreviousPage
startCursor
endCursor
}
}
}"#;

const UPDATE_CUSTOMER: &str = r#"mutation stripe_updateCustomer {
stripe_updateCustomer(
id: "cus_Ts...",
input: {
name: "Customer",
email: "example@archie.com",
phone: "+573001230001",
description:"Description Example",
metadata: {
data1: "Example data1 updated",
data2: "Example data2 updated"
}
}
)
{
id
name
email
phone
description
metadata
object
createdAt
}
}"#;

const DELETE_CUSTOMER: &str = r#"mutation stripe_deleteCustomer {
stripe_deleteCustomer (
id: "cus_Ts...")
}"#;

const PAYMENT_INTENT_FIELDS: &str = "id
customerId
paymentMethodId
currency
amount
status
metadata
object
clientSecret
createdAt";

const GET_PAYMENT_INTENT: &str = r#"query stripe_paymentIntent {
stripe_paymentIntent (
id: "pi_3Su..."
)
{
id
customerId
paymentMethodId
currency
amount
status
metadata
object
clientSecret
createdAt
}
}"#;

const LIST_PAYMENT_INTENTS: &str = r#"query stripe_paymentIntents (
$first: Int,
$after: String,
$customerId: String
) {
stripe_paymentIntents (
first: $first,
after: $after,
customerId: $customerId
) {
edges {
node {
id
customerId
paymentMethodId
currency
amount
status
metadata
object
clientSecret
createdAt
}
cursor
}
pageInfo {
hasPreviousPage
hasNextPage
startCursor
endCursor
}
}
}"#;

const CREATE_PAYMENT_INTENT: &str = r#"mutation stripe_createPaymentIntent {
stripe_createPaymentIntent (
input: {
amount: 12.35,
currency: "usd",
customerId: "cus_Ts...",
paymentMethodId: "pm_1Su...",
automaticPaymentMethods: true
}
)
{
id
customerId
paymentMethodId
currency
amount
status
metadata
object
clientSecret
createdAt
}
}"#;

const UPDATE_PAYMENT_INTENT: &str = r#"mutation stripe_updatePaymentIntent{
stripe_updatePaymentIntent(
id: "pi_3S...",
input: {
amount: 36.92,
currency: "usd",
paymentMethodId: "pm_1Su..."
metadata:{
data1: "Example data1"
}
}
) {
id
customerId
paymentMethodId
currency
amount
status
metadata
object
clientSecret
createdAt
}
}"#;

const CONFIRM_PAYMENT_INTENT: &str = r#"mutation stripe_confirmPaymentIntent{
stripe_confirmPaymentIntent(
id: "pi_3Su..."
input: {
paymentMethodId: "pm_1Su...",
returnUrl: "http://localhost:3000/successful-payment"
}
) {
id
customerId
paymentMethodId
currency
amount
status
metadata
object
clientSecret
createdAt
}
}"#;

const CANCEL_PAYMENT_INTENT: &str = r#"mutation stripe_cancelPaymentIntent {
stripe_cancelPaymentIntent(
id: "pi_3Su..."
) {
id
customerId
paymentMethodId
currency
amount
status
metadata
object
clientSecret
createdAt
}
}"#;

const GET_SUBSCRIPTION: &str = r#"query stripe_subscription {
stripe_subscription(id: "sub_1Su...") {
id
customerId
status
currentPeriodStart
currentPeriodEnd
createdAt
cancelAtPeriodEnd
metadata
object
items {
data {
id
priceId
quantity
}
}
}
}"#;

/// Seed 004's list text, with the `status` filter its parameters name.
const LIST_SUBSCRIPTIONS: &str = r#"query stripe_subscriptions (
$first: Int,
$after: String,
$customerId: String,
$status: String
) {
stripe_subscriptions (
first: $first,
after: $after,
customerId: $customerId,
status: $status
) {
edges {
node {
id
customerId
status
currentPeriodStart
currentPeriodEnd
createdAt
cancelAtPeriodEnd
metadata
object
items {
data {
id
priceId
quantity
}
}
}
cursor
}
pageInfo {
hasPreviousPage
hasNextPage
startCursor
endCursor
}
}
}"#;

const CREATE_SUBSCRIPTION: &str = r#"mutation stripe_createSubscription {
stripe_createSubscription (
input: {
customerId: "cus_TsQ...",
items: {
priceId: "price_1Su...",
quantity: 1
},
metadata: {
data1: "Example data1"
},
trialPeriodDays: 0
}
) {
id
customerId
status
currentPeriodStart
currentPeriodEnd
createdAt
cancelAtPeriodEnd
metadata
object
items {
data {
id
priceId
quantity
}
}
}
}"#;

const UPDATE_SUBSCRIPTION: &str = r#"mutation stripe_updateSubscription {
stripe_updateSubscription(
id: "sub_1Sv..."
input: {
cancelAtPeriodEnd: false
metadata: {
data2: "Example data2"
}
}
) {
id
customerId
status
currentPeriodStart
currentPeriodEnd
createdAt
cancelAtPeriodEnd
metadata
object
items {
data {
id
priceId
quantity
}
}
}
}"#;

const CANCEL_SUBSCRIPTION: &str = r#"mutation stripe_cancelSubscription {
stripe_cancelSubscription (
cancelAtPeriodEnd: true,
id: "sub_1Sv..."
) {
id
customerId
status
currentPeriodStart
currentPeriodEnd
createdAt
cancelAtPeriodEnd
metadata
object
items {
data {
id
priceId
quantity
}
}
}
}"#;

const LIST_PRODUCTS: &str = r#"query stripe_products (
$first: Int,
$after: String
) {
stripe_products (
first: $first,
after: $after
) {
edges {
node {
id
name
description
active
metadata
object
createdAt
}
cursor
}
pageInfo {
hasPreviousPage
hasNextPage
startCursor
endCursor
}
}
}"#;

const CREATE_PRODUCT: &str = r#"mutation stripe_createProduct {
stripe_createProduct (
input: {
name: "Product 01",
description: "Description product 01",
metadata: {
data1: "Example data1"
}
}
) {
id
name
description
active
metadata
object
createdAt
}
}"#;

const LIST_PRICES: &str = r#"query stripe_prices (
$first: Int,
$after: String,
$productId: String
) {
stripe_prices (
first: $first,
after: $after,
productId: $productId
) {
edges {
node {
id
productId
active
currency
unitAmount
object
metadata
createdAt
recurring {
interval
intervalCount
}
}
cursor
}
pageInfo {
hasPreviousPage
hasNextPage
startCursor
endCursor
}
}
}"#;

const CREATE_PRICE: &str = r#"mutation stripe_createPrice {
stripe_createPrice (
input: {
productId: "prod_Tst...",
unitAmount: 25.85,
currency: "usd",
recurring: {
interval: "month",
intervalCount: 1
},
metadata: {
data1: "Example data1"
}
}
) {
id
productId
currency
unitAmount
active
object
createdAt
metadata
recurring {
interval
intervalCount
}
}
}"#;

const GET_INVOICE: &str = r#"query stripe_invoice {
stripe_invoice (
id: "in_1Su..."
) {
id
customerId
subscriptionId
currency
amountPaid
amountDue
status
object
metadata
createdAt
lineItems {
data {
id
description
currency
amount
quantity
}
}
}
}"#;

const LIST_INVOICES: &str = r#"query stripe_invoices (
$first: Int,
$after: String,
$customerId: String,
$status: String
) {
stripe_invoices (
first: $first,
after: $after,
customerId: $customerId,
status: $status
) {
edges {
node {
id
customerId
subscriptionId
currency
amountPaid
amountDue
status
object
metadata
createdAt
lineItems {
data {
id
description
currency
amount
quantity
}
}
}
cursor
}
pageInfo {
hasPreviousPage
hasNextPage
startCursor
endCursor
}
}
}"#;

const PAY_INVOICE: &str = r#"mutation stripe_payInvoice {
stripe_payInvoice (
id: "in_1Sv..."
) {
id
customerId
subscriptionId
currency
amountPaid
amountDue
status
object
metadata
createdAt
lineItems {
data {
id
description
currency
amount
quantity
}
}
}
}"#;

const LIST_REFUNDS: &str = r#"query stripe_refunds (
$first: Int,
$after: String,
$paymentIntentId: String
) {
stripe_refunds (
first: $first,
after: $after,
paymentIntentId: $paymentIntentId
) {
edges {
node {
id
paymentIntentId
reason
status
currency
amount
metadata
object
createdAt
}
cursor
}
pageInfo {
hasPreviousPage
hasNextPage
startCursor
endCursor
}
}
}"#;

const CREATE_REFUND: &str = r#"mutation stripe_createRefund {
stripe_createRefund (
input: {
paymentIntentId: "pi_3Sv...",
amount: 200,
reason: "requested_by_customer"
}
) {
id
reason
paymentIntentId
status
currency
amount
object
metadata
createdAt
}
}"#;

const LIST_PAYMENT_METHODS: &str = r#"query stripe_paymentMethods (
$first: Int,
$after: String,
$customerId: String
) {
stripe_paymentMethods(
first: $first,
after: $after,
customerId: $customerId
) {
edges {
node {
id
customerId
type
object
metadata
createdAt
card {
brand
expMonth
expYear
last4
}
}
cursor
}
pageInfo {
hasPreviousPage
hasNextPage
startCursor
endCursor
}
}
}"#;

const ATTACH_PAYMENT_METHOD: &str = r#"mutation stripe_attachPaymentMethod {
stripe_attachPaymentMethod (
id: "pm_1Sv...",
input: {
customerId: "cus_Ts4..."
}
) {
id
customerId
type
card {
brand
expMonth
expYear
last4
}
metadata
object
createdAt
}
}"#;

const DETACH_PAYMENT_METHOD: &str = r#"mutation stripe_detachPaymentMethod {
stripe_detachPaymentMethod (
id: "pm_1Sv..."
) {
id
customerId
type
card {
brand
expYear
expMonth
last4
}
metadata
object
createdAt
}
}"#;

const LIST_WEBHOOK_EVENTS: &str = r#"query ListWebhookEvents (
$first: Int,
$after: String
) {
stripe_webhookEvents (
first: $first,
after: $after
) {
edges {
node {
id
type
data
processed
createdAt
}
cursor
}
pageInfo {
hasNextPage
hasPreviousPage
endCursor
}
}
}"#;

struct Client<'a> {
    http: reqwest::blocking::Client,
    server: &'a TestServer,
}

impl Client<'_> {
    /// The whole answer: `{"data": …}` or `{"errors": […], "data": …}`.
    fn answer(&self, query: &str, variables: Value) -> Value {
        let response = self
            .http
            .post(self.server.url("/api/graphql"))
            .header("Authorization", format!("Bearer {KEY}"))
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .expect("POST /api/graphql");
        response.json().expect("a JSON answer")
    }

    /// The data of an operation that must succeed.
    fn data(&self, query: &str, variables: Value) -> Value {
        let answer = self.answer(query, variables);
        assert!(answer.get("errors").is_none(), "{query}\n→ {answer:#}");
        answer["data"].clone()
    }

    /// The first error of an operation that must fail.
    fn error(&self, query: &str, variables: Value) -> Value {
        let answer = self.answer(query, variables);
        answer["errors"][0].clone()
    }
}

impl Client<'_> {
    /// A read that must come to `expected`: reading local records, it may
    /// show an older event's view of the object for a moment after a
    /// mutation (webhooks arrive asynchronously); reading Stripe, at once.
    fn settles_to(&self, query: &str, field: &str, expected: &Value) -> Value {
        let mut last = Value::Null;
        for _ in 0..200 {
            last = self.data(query, json!({}))[field].clone();
            if last == *expected {
                return last;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{field} did not settle:\n read {last:#}\n want {expected:#}");
    }
}

/// Seed 004's text with its elided ids replaced.
fn with_ids(text: &str, ids: &[(&str, &str)]) -> String {
    ids.iter().fold(text.to_string(), |text, (elided, id)| {
        assert!(text.contains(elided), "{elided} is not in {text}");
        text.replace(elided, id)
    })
}

fn assert_time(value: &Value) {
    let text = value.as_str().unwrap_or_else(|| panic!("not a time: {value}"));
    assert!(
        text.ends_with('Z') && text.len() == "2025-11-16T00:28:48.081Z".len(),
        "seed 004's Time is ISO 8601 with milliseconds: {text}"
    );
    assert!(chrono::DateTime::parse_from_rfc3339(text).is_ok(), "{text}");
}

fn ids_of(connection: &Value) -> Vec<String> {
    connection["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("not a connection: {connection}"))
        .iter()
        .map(|edge| edge["node"]["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn start(database: Option<&PgDatabase>, reads: &str) -> TestServer {
    let mut options = ServerOptions::new(repo_root())
        .arg("--sandbox")
        .env("PAYFORMS_API_KEYS", KEY)
        .env("PAYFORMS_STRIPE_READS", reads);
    if let Some(pg) = database {
        options = options.database(pg.url());
    }
    TestServer::start(options)
}

/// Everything the issue lists, in the order a client would do it.
fn seed_004_client(server: &TestServer) {
    let api = Client { http: client(), server };

    // Customers: create, get, list, update.
    let customer = api.data(CREATE_CUSTOMER, json!({}))["stripe_createCustomer"].clone();
    let customer_id = customer["id"].as_str().unwrap().to_string();
    assert!(customer_id.starts_with("cus_"), "{customer}");
    assert_eq!(customer["name"], "Customer");
    assert_eq!(customer["email"], "example@archie.com");
    assert_eq!(customer["phone"], "+573001230001");
    assert_eq!(customer["description"], "Description Example");
    assert_eq!(
        customer["metadata"],
        json!({"data1": "Example data1", "data2": "Example data2"})
    );
    assert_eq!(customer["object"], "customer");
    assert_time(&customer["createdAt"]);
    let ids = [("cus_Ts...", customer_id.as_str())];
    api.settles_to(&with_ids(GET_CUSTOMER, &ids), "stripe_customer", &customer);
    let listed = api.data(
        LIST_CUSTOMERS,
        json!({"first": 10, "after": null, "customerId": customer_id}),
    )["stripe_customers"]
        .clone();
    assert_eq!(ids_of(&listed), vec![customer_id.clone()]);
    assert_eq!(listed["edges"][0]["node"]["email"], "example@archie.com");
    assert_eq!(listed["pageInfo"]["hasNextPage"], false);
    assert_eq!(listed["pageInfo"]["endCursor"], listed["edges"][0]["cursor"]);
    let updated = api.data(&with_ids(UPDATE_CUSTOMER, &ids), json!({}))["stripe_updateCustomer"].clone();
    assert_eq!(
        updated["metadata"],
        json!({"data1": "Example data1 updated", "data2": "Example data2 updated"})
    );
    assert_eq!(updated["createdAt"], customer["createdAt"]);

    // A card saved on the customer (the first becomes its default).
    let attached = api.data(
        &with_ids(
            ATTACH_PAYMENT_METHOD,
            &[("pm_1Sv...", "pm_card_visa"), ("cus_Ts4...", &customer_id)],
        ),
        json!({}),
    )["stripe_attachPaymentMethod"]
        .clone();
    let card_id = attached["id"].as_str().unwrap().to_string();
    assert!(card_id.starts_with("pm_"), "{attached}");
    assert_eq!(attached["customerId"], json!(customer_id));
    assert_eq!(attached["type"], "card");
    assert_eq!(attached["card"]["brand"], "visa");
    assert_eq!(attached["card"]["last4"], "4242");
    assert!(attached["card"]["expYear"].as_i64().unwrap() > 2025);
    assert_eq!(attached["object"], "payment_method");
    let cards = api.data(LIST_PAYMENT_METHODS, json!({"first": 10, "customerId": customer_id}))
        ["stripe_paymentMethods"]
        .clone();
    assert_eq!(ids_of(&cards), vec![card_id.clone()]);

    // A payment intent of 12.35 dollars: created, confirmed, read, listed.
    let created = api.data(
        &with_ids(
            CREATE_PAYMENT_INTENT,
            &[("cus_Ts...", &customer_id), ("pm_1Su...", &card_id)],
        ),
        json!({}),
    )["stripe_createPaymentIntent"]
        .clone();
    let pi_id = created["id"].as_str().unwrap().to_string();
    assert!(pi_id.starts_with("pi_"), "{created}");
    assert_eq!(created["amount"], json!(12.35));
    assert_eq!(created["currency"], "usd");
    assert_eq!(created["customerId"], json!(customer_id));
    assert_eq!(created["paymentMethodId"], json!(card_id));
    assert_eq!(created["status"], "requires_confirmation", "created, not yet confirmed");
    assert!(created["clientSecret"].as_str().unwrap().starts_with(&pi_id));
    assert_eq!(created["object"], "payment_intent");
    assert_eq!(created["metadata"], json!({}));
    let updated = api.data(
        &with_ids(UPDATE_PAYMENT_INTENT, &[("pi_3S...", &pi_id), ("pm_1Su...", &card_id)]),
        json!({}),
    )["stripe_updatePaymentIntent"]
        .clone();
    assert_eq!(updated["amount"], json!(36.92));
    assert_eq!(updated["metadata"], json!({"data1": "Example data1"}));
    let confirmed = api.data(
        &with_ids(
            CONFIRM_PAYMENT_INTENT,
            &[("pi_3Su...", &pi_id), ("pm_1Su...", &card_id)],
        ),
        json!({}),
    )["stripe_confirmPaymentIntent"]
        .clone();
    assert_eq!(confirmed["status"], "succeeded");
    assert_eq!(confirmed["amount"], json!(36.92));
    let read = api.settles_to(
        &with_ids(GET_PAYMENT_INTENT, &[("pi_3Su...", &pi_id)]),
        "stripe_paymentIntent",
        &confirmed,
    );
    let listed = api.data(LIST_PAYMENT_INTENTS, json!({"first": 10, "customerId": customer_id}))
        ["stripe_paymentIntents"]
        .clone();
    assert_eq!(ids_of(&listed), vec![pi_id.clone()]);
    assert_eq!(listed["edges"][0]["node"], read);

    // A second intent, canceled.
    let second = api.data(
        &with_ids(
            CREATE_PAYMENT_INTENT,
            &[("cus_Ts...", &customer_id), ("pm_1Su...", &card_id)],
        ),
        json!({}),
    )["stripe_createPaymentIntent"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let canceled = api.data(&with_ids(CANCEL_PAYMENT_INTENT, &[("pi_3Su...", &second)]), json!({}))
        ["stripe_cancelPaymentIntent"]
        .clone();
    assert_eq!(canceled["status"], "canceled");
    let page =
        api.data(LIST_PAYMENT_INTENTS, json!({"first": 1, "customerId": customer_id}))["stripe_paymentIntents"].clone();
    assert_eq!(ids_of(&page), vec![second.clone()], "newest first");
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let rest = api.data(
        LIST_PAYMENT_INTENTS,
        json!({"first": 1, "after": page["pageInfo"]["endCursor"], "customerId": customer_id}),
    )["stripe_paymentIntents"]
        .clone();
    assert_eq!(ids_of(&rest), vec![pi_id.clone()]);
    assert_eq!(rest["pageInfo"]["hasNextPage"], false);
    assert_eq!(rest["pageInfo"]["hasPreviousPage"], true);

    // Refund part, list refunds by payment intent.
    let refund = api.data(
        &with_ids(CREATE_REFUND, &[("pi_3Sv...", &pi_id)]).replace("amount: 200", "amount: 5.5"),
        json!({}),
    )["stripe_createRefund"]
        .clone();
    assert!(refund["id"].as_str().unwrap().starts_with("re_"), "{refund}");
    assert_eq!(refund["amount"], json!(5.5));
    assert_eq!(refund["currency"], "usd");
    assert_eq!(refund["reason"], "requested_by_customer");
    assert_eq!(refund["paymentIntentId"], json!(pi_id));
    assert_eq!(refund["object"], "refund");
    assert!(["pending", "succeeded"].contains(&refund["status"].as_str().unwrap()));
    let refunds = api.data(LIST_REFUNDS, json!({"first": 10, "paymentIntentId": pi_id}))["stripe_refunds"].clone();
    assert_eq!(ids_of(&refunds), vec![refund["id"].as_str().unwrap().to_string()]);
    assert_eq!(refunds["edges"][0]["node"]["amount"], json!(5.5));

    // Product, a recurring price of 25.85, a subscription of one item.
    let product = api.data(CREATE_PRODUCT, json!({}))["stripe_createProduct"].clone();
    let product_id = product["id"].as_str().unwrap().to_string();
    assert!(product_id.starts_with("prod_"), "{product}");
    assert_eq!(product["name"], "Product 01");
    assert_eq!(product["description"], "Description product 01");
    assert_eq!(product["active"], true);
    assert_eq!(product["object"], "product");
    let products = api.data(LIST_PRODUCTS, json!({"first": 10}))["stripe_products"].clone();
    assert!(ids_of(&products).contains(&product_id));
    let price =
        api.data(&with_ids(CREATE_PRICE, &[("prod_Tst...", &product_id)]), json!({}))["stripe_createPrice"].clone();
    let price_id = price["id"].as_str().unwrap().to_string();
    assert!(price_id.starts_with("price_"), "{price}");
    assert_eq!(price["unitAmount"], json!(25.85));
    assert_eq!(price["currency"], "usd");
    assert_eq!(price["productId"], json!(product_id));
    assert_eq!(price["recurring"], json!({"interval": "month", "intervalCount": 1}));
    assert_eq!(price["object"], "price");
    let prices = api.data(LIST_PRICES, json!({"first": 10, "productId": product_id}))["stripe_prices"].clone();
    assert_eq!(ids_of(&prices), vec![price_id.clone()]);
    assert_eq!(prices["edges"][0]["node"]["unitAmount"], json!(25.85));

    let subscription = api.data(
        &with_ids(
            CREATE_SUBSCRIPTION,
            &[("cus_TsQ...", &customer_id), ("price_1Su...", &price_id)],
        ),
        json!({}),
    )["stripe_createSubscription"]
        .clone();
    let subscription_id = subscription["id"].as_str().unwrap().to_string();
    assert!(subscription_id.starts_with("sub_"), "{subscription}");
    assert_eq!(
        subscription["status"], "active",
        "paid with the customer's default card"
    );
    assert_eq!(subscription["customerId"], json!(customer_id));
    assert_eq!(subscription["cancelAtPeriodEnd"], false);
    assert_eq!(subscription["metadata"], json!({"data1": "Example data1"}));
    let items = subscription["items"]["data"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert!(items[0]["id"].as_str().unwrap().starts_with("si_"));
    assert_eq!(items[0]["priceId"], json!(price_id));
    assert_eq!(items[0]["quantity"], 1);
    assert_time(&subscription["currentPeriodStart"]);
    assert_time(&subscription["currentPeriodEnd"]);
    api.settles_to(
        &with_ids(GET_SUBSCRIPTION, &[("sub_1Su...", &subscription_id)]),
        "stripe_subscription",
        &subscription,
    );
    let updated = api.data(
        &with_ids(UPDATE_SUBSCRIPTION, &[("sub_1Sv...", &subscription_id)]),
        json!({}),
    )["stripe_updateSubscription"]
        .clone();
    assert_eq!(
        updated["metadata"],
        json!({"data1": "Example data1", "data2": "Example data2"})
    );
    let active = api.data(
        LIST_SUBSCRIPTIONS,
        json!({"first": 10, "customerId": customer_id, "status": "active"}),
    )["stripe_subscriptions"]
        .clone();
    assert_eq!(ids_of(&active), vec![subscription_id.clone()]);
    let none = api.data(
        LIST_SUBSCRIPTIONS,
        json!({"first": 10, "customerId": customer_id, "status": "canceled"}),
    )["stripe_subscriptions"]
        .clone();
    assert!(ids_of(&none).is_empty(), "{none}");
    let ending = api.data(
        &with_ids(CANCEL_SUBSCRIPTION, &[("sub_1Sv...", &subscription_id)]),
        json!({}),
    )["stripe_cancelSubscription"]
        .clone();
    assert_eq!(ending["cancelAtPeriodEnd"], true);
    assert_eq!(ending["status"], "active", "canceled at period end: it runs until then");

    // Its first invoice, paid by the subscription; a second subscription
    // left incomplete is paid with stripe_payInvoice.
    let invoices = api.data(
        LIST_INVOICES,
        json!({"first": 10, "customerId": customer_id, "status": "paid"}),
    )["stripe_invoices"]
        .clone();
    let first_invoice = &invoices["edges"][0]["node"];
    assert_eq!(first_invoice["subscriptionId"], json!(subscription_id), "{invoices}");
    assert_eq!(first_invoice["amountPaid"], json!(25.85));
    assert_eq!(first_invoice["lineItems"]["data"][0]["amount"], json!(25.85));
    assert_eq!(first_invoice["lineItems"]["data"][0]["quantity"], 1);
    let incomplete = api.data(
        &with_ids(
            CREATE_SUBSCRIPTION,
            &[("cus_TsQ...", &customer_id), ("price_1Su...", &price_id)],
        )
        .replace(
            "trialPeriodDays: 0",
            "trialPeriodDays: 0, paymentBehavior: \"default_incomplete\"",
        ),
        json!({}),
    )["stripe_createSubscription"]
        .clone();
    assert_eq!(incomplete["status"], "incomplete", "{incomplete}");
    let open = api.data(
        LIST_INVOICES,
        json!({"first": 10, "customerId": customer_id, "status": "open"}),
    )["stripe_invoices"]
        .clone();
    let open_id = ids_of(&open).first().cloned().unwrap_or_else(|| {
        let all = api.answer(LIST_INVOICES, json!({"first": 10, "customerId": customer_id}));
        panic!("no open invoice: {open}; all: {all}")
    });
    let invoice = api.data(&with_ids(GET_INVOICE, &[("in_1Su...", &open_id)]), json!({}))["stripe_invoice"].clone();
    assert_eq!(invoice["status"], "open");
    assert_eq!(invoice["amountDue"], json!(25.85));
    assert_eq!(invoice["amountPaid"], json!(0));
    let paid = api.data(&with_ids(PAY_INVOICE, &[("in_1Sv...", &open_id)]), json!({}))["stripe_payInvoice"].clone();
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["amountPaid"], json!(25.85));
    assert_eq!(paid["object"], "invoice");
    assert_eq!(paid["customerId"], json!(customer_id));

    // A canceled subscription cannot change.
    let incomplete_id = incomplete["id"].as_str().unwrap().to_string();
    let now = api.data(
        &with_ids(CANCEL_SUBSCRIPTION, &[("sub_1Sv...", &incomplete_id)])
            .replace("cancelAtPeriodEnd: true", "cancelAtPeriodEnd: false"),
        json!({}),
    )["stripe_cancelSubscription"]
        .clone();
    assert_eq!(now["status"], "canceled");
    let refused = api.error(
        &with_ids(UPDATE_SUBSCRIPTION, &[("sub_1Sv...", &incomplete_id)]),
        json!({}),
    );
    assert_eq!(refused["message"], "Cannot update canceled subscription");
    assert_eq!(refused["extensions"]["code"], "BAD_USER_INPUT");

    // Detach: the card stays, without its customer.
    let detached = api.data(&with_ids(DETACH_PAYMENT_METHOD, &[("pm_1Sv...", &card_id)]), json!({}))
        ["stripe_detachPaymentMethod"]
        .clone();
    assert_eq!(detached["id"], json!(card_id));
    assert_eq!(detached["customerId"], Value::Null);
    assert_eq!(detached["card"]["last4"], "4242");

    // Webhook events, as received and verified.
    let events = wait_for(
        "a processed payment_intent.succeeded event",
        Duration::from_secs(20),
        || {
            let events = api.data(LIST_WEBHOOK_EVENTS, json!({"first": 50}))["stripe_webhookEvents"].clone();
            let processed = events["edges"].as_array().is_some_and(|edges| {
                edges
                    .iter()
                    .any(|e| e["node"]["type"] == "payment_intent.succeeded" && e["node"]["processed"] == true)
            });
            processed.then_some(events)
        },
    );
    let node = &events["edges"][0]["node"];
    assert!(node["type"].as_str().unwrap().contains('.'));
    let data: Value = serde_json::from_str(node["data"].as_str().unwrap()).expect("data is the event as JSON text");
    assert!(data["id"].as_str().unwrap().starts_with("evt_"));
    assert_time(&node["createdAt"]);

    // Delete the customer: true, then not found as seed 004 shows it.
    let deleted = api.data(&with_ids(DELETE_CUSTOMER, &ids), json!({}));
    assert_eq!(deleted["stripe_deleteCustomer"], true);
    let missing = api.answer(&with_ids(GET_CUSTOMER, &ids), json!({}));
    assert_eq!(missing["data"], Value::Null);
    assert_eq!(missing["errors"][0]["message"], "Customer not found");
    assert_eq!(missing["errors"][0]["extensions"]["code"], "NOT_FOUND");
    assert_eq!(
        missing["errors"][0]["extensions"]["stripeErrorCode"],
        "resource_missing"
    );
    let nobody = api.error(&with_ids(GET_CUSTOMER, &[("cus_Ts...", "cus_nobody")]), json!({}));
    assert_eq!(nobody["message"], "Customer not found");
    assert_eq!(nobody["extensions"]["stripeErrorCode"], "resource_missing");
}

/// Amounts are exact in the currency's unit; anything else is refused.
fn amounts_and_errors(server: &TestServer) {
    let api = Client { http: client(), server };
    let create = |amount: &str, currency: &str| {
        api.answer(
            &format!(
                "mutation {{ stripe_createPaymentIntent(input: {{amount: {amount}, currency: \"{currency}\"}}) {{ {PAYMENT_INTENT_FIELDS} amountMinor }} }}"
            ),
            json!({}),
        )
    };
    for (amount, currency, minor, shown) in [
        ("12.35", "usd", 1235, json!(12.35)),
        ("500", "jpy", 500, json!(500)),
        ("0.5", "usd", 50, json!(0.5)),
        ("20", "usd", 2000, json!(20)),
    ] {
        let answer = create(amount, currency);
        let intent = &answer["data"]["stripe_createPaymentIntent"];
        assert_eq!(intent["amountMinor"], minor, "{amount} {currency}: {answer}");
        assert_eq!(intent["amount"], shown, "{amount} {currency}");
    }
    for (amount, currency) in [
        ("12.345", "usd"),
        ("500.5", "jpy"),
        ("1.2345", "kwd"),
        ("-1", "usd"),
        ("0", "usd"),
        ("1e400", "usd"),
        ("12.35", "xyz"),
        ("12.35", ""),
    ] {
        let answer = create(amount, currency);
        let code = &answer["errors"][0]["extensions"]["code"];
        assert!(
            *code == json!("BAD_USER_INPUT") || *code == json!("GRAPHQL_VALIDATION_FAILED"),
            "{amount} {currency} must be refused, not rounded: {answer}"
        );
        assert_eq!(answer["data"], Value::Null, "{answer}");
    }
    // Excess precision is refused by the conversion itself (KWD has three
    // decimals; the shipped gateway accepts usd, eur, gbp and jpy).
    for (amount, currency) in [("12.345", "usd"), ("500.5", "jpy"), ("1.2345", "kwd")] {
        let precise = create(amount, currency);
        assert!(
            precise["errors"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with("Invalid amount"),
            "{precise}"
        );
    }

    // A declined card: 402 semantics, seed 004's friendly message.
    let customer = api.data(
        "mutation { stripe_createCustomer(input: {email: \"d@example.com\"}) { id } }",
        json!({}),
    )["stripe_createCustomer"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let intent = api.data(
        &format!("mutation {{ stripe_createPaymentIntent(input: {{amount: 9.99, currency: \"usd\", customerId: \"{customer}\"}}) {{ id }} }}"),
        json!({}),
    )["stripe_createPaymentIntent"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let declined = api.error(
        &with_ids(
            CONFIRM_PAYMENT_INTENT,
            &[("pi_3Su...", &intent), ("pm_1Su...", "pm_card_chargeDeclined")],
        ),
        json!({}),
    );
    assert_eq!(declined["extensions"]["code"], "PAYMENT_FAILED", "{declined}");
    assert_eq!(declined["message"], "Your card was declined");
    assert_eq!(declined["extensions"]["stripeErrorCode"], "card_declined");
    let broke = api.data(
        "mutation { stripe_createPaymentIntent(input: {amount: 9.99, currency: \"usd\"}) { id } }",
        json!({}),
    )["stripe_createPaymentIntent"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let insufficient = api.error(
        &with_ids(
            CONFIRM_PAYMENT_INTENT,
            &[
                ("pi_3Su...", &broke),
                ("pm_1Su...", "pm_card_chargeDeclinedInsufficientFunds"),
            ],
        ),
        json!({}),
    );
    assert_eq!(insufficient["extensions"]["code"], "PAYMENT_FAILED", "{insufficient}");
    assert_eq!(insufficient["message"], "Insufficient funds");

    // Not found, for each kind read by id.
    for (query, message) in [
        (
            "{ stripe_paymentIntent(id: \"pi_missing\") { id } }",
            "Payment intent not found",
        ),
        (
            "{ stripe_subscription(id: \"sub_missing\") { id } }",
            "Subscription not found",
        ),
        ("{ stripe_invoice(id: \"in_missing\") { id } }", "Invoice not found"),
    ] {
        let error = api.error(query, json!({}));
        assert_eq!(error["message"], message, "{query}");
        assert_eq!(error["extensions"]["code"], "NOT_FOUND");
        assert_eq!(error["extensions"]["stripeErrorCode"], "resource_missing");
    }

    // Hostile ids and pages.
    for query in [
        "{ stripe_customer(id: \"../v1/balance\") { id } }",
        "{ stripe_customer(id: \"\") { id } }",
        "{ stripe_customers(first: 0) { edges { cursor } } }",
        "{ stripe_customers(first: 101) { edges { cursor } } }",
        "{ stripe_customers(after: \"not-a-cursor\") { edges { cursor } } }",
        "mutation { stripe_createPrice(input: {productId: \"prod_x\", unitAmount: 1, currency: \"usd\", recurring: {interval: \"fortnight\"}}) { id } }",
        "mutation { stripe_createRefund(input: {paymentIntentId: \"pi_x?expand=1\"}) { id } }",
    ] {
        let error = api.error(query, json!({}));
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{query}: {error}");
    }

    // payforms' own API stays beside this one, under its own names.
    let own = api.data("{ customers(first: 1) { edges { node { gatewayId } } } }", json!({}));
    assert!(own["customers"]["edges"].is_array());
    let sent = api.data(
        &format!("mutation {{ send_stripe_getCustomer(input: {{gatewayId: \"{customer}\"}}) {{ model errors {{ message }} }} }}"),
        json!({}),
    );
    assert_eq!(sent["send_stripe_getCustomer"]["model"], "modules/payments/customer");
}

/// What both sources must answer alike, and the edges of the mutations.
fn edges_alike_on_both_sources(server: &TestServer) {
    let api = Client { http: client(), server };
    // A key with the attach: the first card is also made the default
    // (a second request, with a key of its own), and a retry is one attach.
    let customer = api.data(
        "mutation { stripe_createCustomer(input: {email: \"k@example.com\"}) { id } }",
        json!({}),
    )["stripe_createCustomer"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let attach = format!(
        "mutation {{ stripe_attachPaymentMethod(id: \"pm_card_visa\", input: {{customerId: \"{customer}\"}}, idempotencyKey: \"k-attach-{customer}\") {{ id customerId }} }}"
    );
    let first = api.data(&attach, json!({}))["stripe_attachPaymentMethod"].clone();
    let again = api.data(&attach, json!({}))["stripe_attachPaymentMethod"].clone();
    assert_eq!(first, again, "a retry with the key is the same attach");
    let read = format!("{{ stripe_customer(id: \"{customer}\") {{ id defaultPaymentMethodId }} }}");
    api.settles_to(
        &read,
        "stripe_customer",
        &json!({"id": customer, "defaultPaymentMethodId": first["id"]}),
    );
    let hostile_key = api.error(
        &attach.replace(&format!("k-attach-{customer}"), "abc\\r\\nStripe-Account: x"),
        json!({}),
    );
    assert_eq!(hostile_key["extensions"]["code"], "BAD_USER_INPUT", "{hostile_key}");

    // Something else missing keeps Stripe's words (not "Payment intent not found").
    let missing = api.error(
        "mutation { stripe_createPaymentIntent(input: {amount: 5, currency: \"usd\", customerId: \"cus_nope\"}) { id } }",
        json!({}),
    );
    assert_eq!(missing["extensions"]["code"], "NOT_FOUND", "{missing}");
    assert!(missing["message"].as_str().unwrap().contains("cus_nope"), "{missing}");

    // A new currency needs its amount: 12.35 USD is not 1,235 JPY.
    let intent = api.data(
        "mutation { stripe_createPaymentIntent(input: {amount: 12.35, currency: \"usd\"}) { id } }",
        json!({}),
    )["stripe_createPaymentIntent"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let refused = api.error(
        &format!(
            "mutation {{ stripe_updatePaymentIntent(id: \"{intent}\", input: {{currency: \"jpy\"}}) {{ amount }} }}"
        ),
        json!({}),
    );
    assert_eq!(refused["extensions"]["code"], "BAD_USER_INPUT", "{refused}");
    let moved = api.data(
        &format!("mutation {{ stripe_updatePaymentIntent(id: \"{intent}\", input: {{currency: \"jpy\", amount: 1800}}) {{ amount currency }} }}"),
        json!({}),
    );
    assert_eq!(
        moved["stripe_updatePaymentIntent"],
        json!({"amount": 1800, "currency": "jpy"})
    );

    // Statuses: Stripe's, `all` included; others refused on both sources.
    let all = api.data(
        "{ stripe_subscriptions(status: \"all\") { edges { cursor } } }",
        json!({}),
    );
    assert!(all["stripe_subscriptions"]["edges"].is_array());
    for query in [
        "{ stripe_invoices(status: \"active\") { edges { cursor } } }",
        "{ stripe_subscriptions(status: \"nonsense\") { edges { cursor } } }",
        "{ stripe_customers(after: \"cus_doesnotexist\") { edges { cursor } } }",
    ] {
        let error = api.error(query, json!({}));
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{query}: {error}");
    }

    // A free price is a price.
    let product = api.data(
        "mutation { stripe_createProduct(input: {name: \"Free tier\"}) { id } }",
        json!({}),
    )["stripe_createProduct"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let free = api.data(
        &format!("mutation {{ stripe_createPrice(input: {{productId: \"{product}\", unitAmount: 0, currency: \"usd\"}}) {{ unitAmount recurring {{ interval }} }} }}"),
        json!({}),
    );
    assert_eq!(free["stripe_createPrice"], json!({"unitAmount": 0, "recurring": null}));
}

#[test]
fn seed_004_client_on_sqlite_reading_records() {
    let server = start(None, "auto");
    seed_004_client(&server);
    amounts_and_errors(&server);
    edges_alike_on_both_sources(&server);
}

#[test]
fn seed_004_client_on_sqlite_reading_stripe() {
    let server = start(None, "stripe");
    seed_004_client(&server);
    edges_alike_on_both_sources(&server);
}

#[test]
fn seed_004_client_on_postgres() {
    let pg = PgDatabase::fresh();
    let server = start(Some(&pg), "auto");
    seed_004_client(&server);
    amounts_and_errors(&server);
    edges_alike_on_both_sources(&server);
}
