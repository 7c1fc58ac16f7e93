//! The engine against the real store. This file is compiled twice: as
//! `graphql::tests` on SQLite (a temporary file) and as
//! `graphql::tests_postgres::cases` on PostgreSQL (a fresh database per test),
//! chosen by the parent module's `BACKEND_IS_POSTGRES`.

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};

use super::*;
use crate::app::App;
use crate::db::schema::PropertyType;
use crate::gateway::{Caller, DispatchFailure, DispatchOutcome, FailureKind, GatewayErrorInfo, RequestDispatcher};
use crate::merchant_id::MerchantId;

const PAYMENT_YAML: &str = "\
name: payment
properties:
  - name: gateway_id
    type: string
    unique: true
  - name: amount
    type: integer
  - name: fee_rate
    type: float
  - name: captured
    type: boolean
  - name: paid_at
    type: datetime
  - name: metadata
    type: json
  - name: tags
    type: array
";

const CREDIT_CARD_YAML: &str = "\
properties:
  - name: last4
    type: string
";

fn model(file: &str, full_name: &str, yaml: &str) -> ModelType {
    ModelType::parse(Path::new(file), full_name, yaml).unwrap()
}

/// The models' tables, as `serve` makes them.
fn create_tables(store: &Store) {
    let models = models();
    let refs: Vec<&ModelType> = models.iter().collect();
    store.migrate_models(&refs, Default::default()).unwrap();
}

fn models() -> Vec<ModelType> {
    vec![
        model(
            "modules/payments/schema/payment.yml",
            "modules/payments/payment",
            PAYMENT_YAML,
        ),
        model("schema/credit_card.yml", "credit_card", CREDIT_CARD_YAML),
    ]
}

struct Fixture {
    _db: TestDb,
    store: Store,
    engine: GraphqlEngine,
}

/// Where a test's records live; dropped (and the PostgreSQL database with
/// it) when the test ends.
enum TestDb {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin_url, name } = self {
            use diesel::{Connection, PgConnection, RunQueryDsl};
            if let Ok(mut admin) = PgConnection::establish(admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin);
            }
        }
    }
}

/// A migrated store on this compilation's backend.
fn sqlite_store() -> (TestDb, Store) {
    if !super::BACKEND_IS_POSTGRES {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(dir.path().join("records.db").to_str().unwrap()).unwrap();
        store.migrate().unwrap();
        return (TestDb::Sqlite(dir), store);
    }
    use diesel::{Connection, PgConnection, RunQueryDsl};
    let base = std::env::var("PAYFORMS_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut admin = PgConnection::establish(&base).expect("PostgreSQL must be reachable (PAYFORMS_TEST_PG)");
    let name = format!("payforms_gql_{}", uuid::Uuid::new_v4().simple());
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .unwrap();
    let slash = base.rfind('/').expect("PAYFORMS_TEST_PG must end with /DATABASE");
    let url = format!("{}/{name}", &base[..slash]);
    let db = TestDb::Postgres {
        admin_url: base.clone(),
        name,
    };
    let store = Store::connect(&url).unwrap();
    store.migrate().unwrap();
    (db, store)
}

fn fixture_with(request_types: &[RequestTypeInfo], dispatcher: Option<Arc<dyn RequestDispatcher>>) -> Fixture {
    let (dir, store) = sqlite_store();
    create_tables(&store);
    let sender = dispatcher.map(|gateway| RequestSender {
        gateway,
        app: Arc::new(App::default()),
        settings: None,
    });
    let engine = GraphqlEngine::build(&models(), request_types, store.clone(), sender).unwrap();
    Fixture {
        _db: dir,
        store,
        engine,
    }
}

fn fixture() -> Fixture {
    fixture_with(&[], None)
}

fn vars(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("variables must be an object, not {other}"),
    }
}

impl Fixture {
    fn run(&self, query: &str, variables: Value) -> Value {
        match self.engine.execute_blocking(query, vars(variables)) {
            Ok(data) => data,
            Err(errors) => panic!("{query}\nfailed: {errors:#?}"),
        }
    }

    fn errors(&self, query: &str, variables: Value) -> Vec<GraphqlErrorInfo> {
        match self.engine.execute_blocking(query, vars(variables)) {
            Ok(data) => panic!("{query}\nshould fail but gave {data}"),
            Err(errors) => errors,
        }
    }

    fn create_payment(&self, input: Value) -> Value {
        let data = self.run(
            "mutation($input: PaymentInput!) { createPayment(input: $input) { id gatewayId amount } }",
            json!({ "input": input }),
        );
        data["createPayment"].clone()
    }

    /// Payments with amounts 100, 200, ... created in that order.
    fn seed_payments(&self, count: i64) -> Vec<String> {
        (1..=count)
            .map(|i| {
                let created = self.create_payment(json!({
                    "gatewayId": format!("pi_{i}"),
                    "amount": i * 100,
                    "captured": i % 2 == 0,
                    "paidAt": format!("2024-05-{:02}T12:00:00Z", i),
                }));
                created["id"].as_str().unwrap().to_string()
            })
            .collect()
    }
}

fn amounts(connection: &Value) -> Vec<i64> {
    connection["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["amount"].as_i64().unwrap())
        .collect()
}

// ------------------------------------------------------------ schema shape

#[test]
fn models_become_named_types_with_typed_fields() {
    let f = fixture();
    let sdl = f.engine.sdl();
    for expected in [
        "type Payment {",
        "id: ID!",
        "createdAt: Time!",
        "updatedAt: Time!",
        "gatewayId: String",
        "amount: Int",
        "feeRate: Float",
        "captured: Boolean",
        "paidAt: Time",
        "metadata: Map",
        "tags: [JSON]",
        "type CreditCard {",
        "last4: String",
        "type CreditCardConnection {",
        "pageInfo: PageInfo!",
        "totalCount: Int!",
        "input PaymentFilter {",
        "amount: IntFilter",
        "paidAt: TimeFilter",
        "enum PaymentOrderField {",
        "FEE_RATE",
        "PAID_AT",
        "createCreditCard(input: CreditCardInput!): CreditCard",
        "updatePayment(id: ID!, input: PaymentInput!): Payment",
        "deletePayment(id: ID!): Payment",
        "stripe_webhookEvents(",
    ] {
        assert!(sdl.contains(expected), "SDL lacks `{expected}`:\n{sdl}");
    }
    // json and array properties are neither filters nor orders
    assert!(!sdl.contains("METADATA"));
    let single = f.run(
        "{ __type(name: \"Query\") { fields { name args { name } } } }",
        json!({}),
    );
    let fields: Vec<&str> = single["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"payment") && fields.contains(&"payments"));
    assert!(fields.contains(&"creditCard") && fields.contains(&"creditCards"));
}

#[test]
fn two_models_with_one_short_name_is_a_load_problem_naming_both_files() {
    let (_dir, store) = sqlite_store();
    let a = model(
        "modules/payments/schema/customer.yml",
        "modules/payments/customer",
        CREDIT_CARD_YAML,
    );
    let b = model("schema/customer.yml", "customer", CREDIT_CARD_YAML);
    let problems = GraphqlEngine::build(&[a, b], &[], store, None).unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    let problem = &problems[0];
    assert_eq!(problem.file, Path::new("schema/customer.yml"));
    assert_eq!(problem.line, 1);
    assert!(
        problem.message.contains("modules/payments/schema/customer.yml"),
        "{}",
        problem.message
    );
    assert!(problem.message.contains("`Customer`"), "{}", problem.message);
}

#[test]
fn a_model_named_like_a_built_in_type_is_a_load_problem() {
    let (_dir, store) = sqlite_store();
    let page_info = model("schema/page_info.yml", "page_info", CREDIT_CARD_YAML);
    let problems = GraphqlEngine::build(&[page_info], &[], store, None).unwrap_err();
    assert_eq!(problems[0].file, Path::new("schema/page_info.yml"));
    assert!(problems[0].message.contains("PageInfo"), "{}", problems[0].message);
}

#[test]
fn camel_case_clashes_between_properties_are_load_problems() {
    let (_dir, store) = sqlite_store();
    let yaml = "properties:\n  - name: fee_rate\n    type: float\n  - name: feeRate\n    type: float\n";
    let clash = model("schema/fee.yml", "fee", yaml);
    let problems = GraphqlEngine::build(&[clash], &[], store, None).unwrap_err();
    assert!(problems[0].message.contains("feeRate"), "{}", problems[0].message);
}

/// The schema is rebuilt on every reload: it must take milliseconds.
#[test]
fn building_a_large_schema_is_cheap() {
    let (_dir, store) = sqlite_store();
    let many: Vec<ModelType> = (0..60)
        .map(|i| {
            let yaml = PAYMENT_YAML.replace("name: payment\n", "");
            model(&format!("schema/model_{i}.yml"), &format!("model_{i}"), &yaml)
        })
        .collect();
    let types: Vec<RequestTypeInfo> = (0..60)
        .map(|i| RequestTypeInfo {
            module: "stripe".into(),
            name: format!("request_{i}"),
            full_name: format!("modules/stripe/request_{i}"),
            fields: (i % 2 == 0).then(|| vec![("email".to_string(), PropertyType::String)]),
            runtime_only: false,
        })
        .collect();
    // Speed is a benchmark's business (BENCHMARKS.md); this checks the
    // large schema is complete.
    let engine = GraphqlEngine::build(&many, &types, store, None).unwrap();
    assert!(engine.sdl().contains("type Model59 {"));
    assert!(engine.sdl().contains("stripe_request59"));
}

#[test]
fn an_app_without_models_still_has_a_schema() {
    let (_dir, store) = sqlite_store();
    let engine = GraphqlEngine::build(&[], &[], store, None).unwrap();
    let data = engine.execute_blocking("{ __typename }", Map::new()).unwrap();
    assert_eq!(data, json!({"__typename": "Query"}));
}

// ------------------------------------------------------------ records

#[test]
fn create_read_update_delete() {
    let f = fixture();
    let created = f.run(
        "mutation($input: PaymentInput!) {
            createPayment(input: $input) { id gatewayId amount feeRate captured paidAt metadata tags createdAt updatedAt }
        }",
        json!({"input": {
            "gatewayId": "pi_caf\u{e9}",
            "amount": 599,
            "feeRate": 0.029,
            "captured": true,
            "paidAt": "2024-05-01T14:00:00+02:00",
            "metadata": {"order_id": "12", "nested": {"x": [1, 2]}},
            "tags": ["a", 1]
        }}),
    )["createPayment"]
        .clone();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["gatewayId"], "pi_caf\u{e9}");
    assert_eq!(created["amount"], 599);
    assert_eq!(created["feeRate"], 0.029);
    assert_eq!(created["captured"], true);
    assert_eq!(created["paidAt"], "2024-05-01T12:00:00.000000Z");
    assert_eq!(created["metadata"], json!({"order_id": "12", "nested": {"x": [1, 2]}}));
    assert_eq!(created["tags"], json!(["a", 1]));
    assert!(created["createdAt"].as_str().unwrap().ends_with('Z'));

    // the store holds snake_case property names
    let record = f.store.get_record(&models()[0], id.parse().unwrap()).unwrap().unwrap();
    assert_eq!(record.properties["gateway_id"], "pi_caf\u{e9}");

    let read = f.run("query($id: ID!) { payment(id: $id) { id amount } }", json!({"id": id}));
    assert_eq!(read["payment"], json!({"id": id, "amount": 599}));

    // update merges: amount changes, gatewayId stays; null clears
    let updated = f.run(
        "mutation($id: ID!) { updatePayment(id: $id, input: {amount: 700, captured: null}) { amount gatewayId captured } }",
        json!({"id": id}),
    );
    assert_eq!(
        updated["updatePayment"],
        json!({"amount": 700, "gatewayId": "pi_caf\u{e9}", "captured": null})
    );

    let deleted = f.run(
        "mutation($id: ID!) { deletePayment(id: $id) { id amount } }",
        json!({"id": id}),
    );
    assert_eq!(deleted["deletePayment"], json!({"id": id, "amount": 700}));
    let errors = f.errors("query($id: ID!) { payment(id: $id) { id } }", json!({"id": id}));
    assert_eq!(errors[0].code, "NOT_FOUND");
}

#[test]
fn missing_records_are_not_found() {
    let f = fixture();
    for query in [
        "{ payment(id: \"999999\") { id } }",
        "mutation { updatePayment(id: \"999999\", input: {amount: 1}) { id } }",
        "mutation { deletePayment(id: 999999) { id } }",
    ] {
        let errors = f.errors(query, json!({}));
        assert_eq!(errors.len(), 1, "{query}: {errors:?}");
        assert_eq!(errors[0].code, "NOT_FOUND", "{query}: {errors:?}");
        assert!(errors[0].message.contains("999999"), "{}", errors[0].message);
    }
}

#[test]
fn invalid_input_is_bad_user_input_with_fields() {
    let f = fixture();
    f.create_payment(json!({"gatewayId": "pi_1", "amount": 1}));
    let errors = f.errors(
        "mutation { createPayment(input: {gatewayId: \"pi_1\", amount: 2}) { id } }",
        json!({}),
    );
    assert_eq!(errors[0].code, "BAD_USER_INPUT");
    let fields = errors[0].extensions["fields"].as_array().unwrap();
    assert_eq!(fields[0]["field"], "gatewayId");
    assert!(fields[0]["message"].as_str().unwrap().contains("taken"), "{fields:?}");
    assert!(errors[0].message.contains("gatewayId"), "{}", errors[0].message);
    // nothing was written
    let count = f.run(
        "{ payments(filter: {gatewayId: {eq: \"pi_1\"}}) { totalCount } }",
        json!({}),
    );
    assert_eq!(count["payments"]["totalCount"], 1);

    for (query, field) in [
        ("{ payment(id: \"abc\") { id } }", "id"),
        ("{ payments(first: -1) { totalCount } }", "first"),
        ("{ payments(filter: {id: {eq: \"x\"}}) { totalCount } }", "id"),
        ("{ payments(after: \"not-a-cursor\") { totalCount } }", "cursor"),
    ] {
        let errors = f.errors(query, json!({}));
        assert_eq!(errors[0].code, "BAD_USER_INPUT", "{query}: {errors:?}");
        assert_eq!(errors[0].extensions["fields"][0]["field"], field, "{query}: {errors:?}");
    }
}

#[test]
fn malformed_queries_and_wrong_types_carry_a_code_too() {
    let f = fixture();
    for query in [
        "{ payments(",
        "{ nothing }",
        "mutation { createPayment(input: {amount: \"many\"}) { id } }",
    ] {
        let errors = f.errors(query, json!({}));
        assert_eq!(errors[0].code, "GRAPHQL_VALIDATION_FAILED", "{query}: {errors:?}");
    }
}

// ------------------------------------------------------------ connections

#[test]
fn filters_select_records() {
    let f = fixture();
    f.seed_payments(6);
    let query = "query($filter: PaymentFilter) { payments(filter: $filter, orderBy: {field: AMOUNT, direction: ASC}) {
        totalCount edges { node { amount } } } }";
    let cases = [
        (json!({"amount": {"eq": 300}}), vec![300]),
        (json!({"amount": {"ne": 300}}), vec![100, 200, 400, 500, 600]),
        (json!({"amount": {"gte": 200, "lt": 500}}), vec![200, 300, 400]),
        (json!({"amount": {"gt": 500}}), vec![600]),
        (json!({"amount": {"lte": 100}}), vec![100]),
        (json!({"amount": {"in": [100, 600, 700]}}), vec![100, 600]),
        (json!({"gatewayId": {"eq": "pi_4"}}), vec![400]),
        (json!({"gatewayId": {"in": ["pi_2", "pi_5"]}}), vec![200, 500]),
        (json!({"captured": {"eq": true}}), vec![200, 400, 600]),
        (json!({"paidAt": {"gt": "2024-05-04T00:00:00Z"}}), vec![400, 500, 600]),
        (json!({"feeRate": {"exists": true}}), vec![]),
        (
            json!({"feeRate": {"exists": false}}),
            vec![100, 200, 300, 400, 500, 600],
        ),
        (
            json!({"amount": {"gte": 200}, "captured": {"eq": false}}),
            vec![300, 500],
        ),
    ];
    for (filter, expected) in cases {
        let data = f.run(query, json!({ "filter": filter }));
        assert_eq!(amounts(&data["payments"]), expected, "filter {filter}");
        assert_eq!(data["payments"]["totalCount"], expected.len(), "filter {filter}");
    }
}

/// Seed 003's `since`/`until`: a date range on when records were made.
#[test]
fn created_at_selects_a_date_range() {
    let f = fixture();
    f.seed_payments(3);
    std::thread::sleep(std::time::Duration::from_millis(5));
    let split = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    std::thread::sleep(std::time::Duration::from_millis(5));
    for amount in [400, 500] {
        f.create_payment(json!({"gatewayId": format!("pi_late_{amount}"), "amount": amount}));
    }
    let query = "query($filter: PaymentFilter) { payments(filter: $filter, orderBy: {field: AMOUNT}) {
        totalCount edges { node { amount } } } }";
    let cases = [
        (json!({"createdAt": {"gte": split}}), vec![400, 500]),
        (json!({"createdAt": {"lt": split}}), vec![100, 200, 300]),
        (json!({"updatedAt": {"lt": split}}), vec![100, 200, 300]),
        (
            json!({"createdAt": {"gte": "2020-01-01T00:00:00Z", "lt": "2999-01-01T00:00:00Z"}}),
            vec![100, 200, 300, 400, 500],
        ),
        (json!({"createdAt": {"gte": split}, "amount": {"lt": 500}}), vec![400]),
    ];
    for (filter, expected) in cases {
        let data = f.run(query, json!({ "filter": filter }));
        assert_eq!(amounts(&data["payments"]), expected, "filter {filter}");
    }
    // Not a time: the Time scalar refuses it before anything is queried.
    let errors = f.errors(query, json!({"filter": {"createdAt": {"gte": "yesterday"}}}));
    assert_eq!(errors[0].code, "GRAPHQL_VALIDATION_FAILED", "{errors:?}");
}

#[test]
fn filter_by_id() {
    let f = fixture();
    let ids = f.seed_payments(3);
    let data = f.run(
        "query($ids: [ID!]) { payments(filter: {id: {in: $ids}}, orderBy: {field: ID}) { nodes { id } } }",
        json!({"ids": [ids[0], ids[2]]}),
    );
    assert_eq!(data["payments"]["nodes"], json!([{"id": ids[0]}, {"id": ids[2]}]));
}

/// The model of the `payments` connection.
fn payment_model() -> ModelType {
    models().remove(0)
}

#[test]
fn per_day_totals_every_page_of_the_filter() {
    let f = fixture();
    let ids = f.seed_payments(4); // amounts 100..400, even ones captured
    let created: Vec<(i64, chrono::DateTime<chrono::Utc>)> = ids
        .iter()
        .zip([
            "2026-12-06T08:00:00Z",
            "2026-12-06T23:59:59Z",
            "2026-12-07T00:00:00Z",
            "2026-12-07T09:00:00Z",
        ])
        .map(|(id, time)| (id.parse().unwrap(), time.parse().unwrap()))
        .collect();
    f.store.set_created_at_for_tests(&payment_model(), &created).unwrap();

    // A page of one, and totals over every record the filter selects.
    let data = f.run(
        "{ payments(first: 1, filter: {amount: {gte: 200}}) { totalCount nodes { amount }
           perDay(sum: \"amount\", groupBy: \"captured\") { day group count sum } } }",
        json!({}),
    );
    assert_eq!(data["payments"]["totalCount"], 3);
    assert_eq!(data["payments"]["nodes"], json!([{"amount": 400}]));
    assert_eq!(
        data["payments"]["perDay"],
        json!([
            {"day": "2026-12-06", "group": "true", "count": 1, "sum": 200},
            {"day": "2026-12-07", "group": "false", "count": 1, "sum": 300},
            {"day": "2026-12-07", "group": "true", "count": 1, "sum": 400},
        ])
    );
    // Only totals asked for (no page read); without arguments, counts only.
    let data = f.run("{ payments { perDay { day group count sum } } }", json!({}));
    assert_eq!(
        data["payments"]["perDay"],
        json!([
            {"day": "2026-12-06", "group": null, "count": 2, "sum": null},
            {"day": "2026-12-07", "group": null, "count": 2, "sum": null},
        ])
    );
    // Snake-case property names work too; the other environment is empty.
    let data = f.run(
        "{ live: payments(livemode: true) { perDay(sum: \"amount\") { count } }
           test: payments(filter: {createdAt: {gte: \"2026-12-07T00:00:00Z\"}}) {
             perDay(sum: \"amount\", groupBy: \"gateway_id\") { group sum } } }",
        json!({}),
    );
    assert_eq!(data["live"]["perDay"], json!([]));
    assert_eq!(
        data["test"]["perDay"],
        json!([{"group": "pi_3", "sum": 300}, {"group": "pi_4", "sum": 400}])
    );
}

#[test]
fn per_day_arguments_must_name_fitting_properties() {
    let f = fixture();
    let sdl = f.engine.sdl();
    assert!(sdl.contains("type DayTotal {"), "{sdl}");
    let shape = f.run(
        "{ __type(name: \"CreditCardConnection\") { fields { name
             args { name type { name } }
             type { kind ofType { kind ofType { kind ofType { name } } } } } } }",
        json!({}),
    );
    let per_day = shape["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "perDay")
        .expect("every connection has perDay");
    assert_eq!(
        per_day["args"],
        json!([{"name": "sum", "type": {"name": "String"}}, {"name": "groupBy", "type": {"name": "String"}}])
    );
    // [DayTotal!]!
    assert_eq!(
        per_day["type"],
        json!({"kind": "NON_NULL", "ofType": {"kind": "LIST", "ofType": {"kind": "NON_NULL", "ofType": {"name": "DayTotal"}}}})
    );
    for (arguments, field) in [
        ("sum: \"gatewayId\"", "sum"),
        ("sum: \"feeRate\"", "sum"),
        ("sum: \"nope\"", "sum"),
        ("groupBy: \"amount\"", "groupBy"),
        ("groupBy: \"metadata\"", "groupBy"),
        ("groupBy: \"createdAt\"", "groupBy"),
    ] {
        let errors = f.errors(
            &format!("{{ payments {{ perDay({arguments}) {{ day }} }} }}"),
            json!({}),
        );
        assert_eq!(errors[0].code, "BAD_USER_INPUT", "{arguments}: {errors:?}");
        assert_eq!(errors[0].extensions["fields"][0]["field"], field, "{arguments}");
    }
}

#[test]
fn ordering_defaults_to_newest_first() {
    let f = fixture();
    f.seed_payments(3);
    let newest_first = f.run("{ payments { edges { node { amount } } } }", json!({}));
    assert_eq!(amounts(&newest_first["payments"]), vec![300, 200, 100]);
    let by_amount = f.run(
        "{ payments(orderBy: {field: AMOUNT, direction: DESC}) { edges { node { amount } } } }",
        json!({}),
    );
    assert_eq!(amounts(&by_amount["payments"]), vec![300, 200, 100]);
    let by_gateway = f.run(
        "{ payments(orderBy: {field: GATEWAY_ID}) { edges { node { amount } } } }",
        json!({}),
    );
    assert_eq!(amounts(&by_gateway["payments"]), vec![100, 200, 300]);
}

#[test]
fn pages_forward_and_backward_with_cursors() {
    let f = fixture();
    f.seed_payments(7);
    let query = "query($first: Int, $after: String, $last: Int, $before: String) {
        payments(first: $first, after: $after, last: $last, before: $before, orderBy: {field: AMOUNT, direction: ASC}) {
            totalCount
            edges { cursor node { amount } }
            pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = f.run(query, json!({"first": 3, "after": after}));
        let page = &data["payments"];
        assert_eq!(page["totalCount"], 7);
        seen.extend(amounts(page));
        let edges = page["edges"].as_array().unwrap();
        assert_eq!(page["pageInfo"]["endCursor"], edges.last().unwrap()["cursor"]);
        assert_eq!(page["pageInfo"]["startCursor"], edges[0]["cursor"]);
        if page["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, vec![100, 200, 300, 400, 500, 600, 700]);

    // backward from the end
    let mut seen_backward = Vec::new();
    let mut before = Value::Null;
    loop {
        let data = f.run(query, json!({"last": 3, "before": before}));
        let page = &data["payments"];
        let mut chunk = amounts(page);
        chunk.extend(seen_backward);
        seen_backward = chunk;
        if page["pageInfo"]["hasPreviousPage"] == false {
            break;
        }
        before = page["pageInfo"]["startCursor"].clone();
    }
    assert_eq!(seen_backward, vec![100, 200, 300, 400, 500, 600, 700]);

    // default page size is 10
    f.seed_more(5);
    let data = f.run(
        "{ payments { totalCount edges { cursor } pageInfo { hasNextPage } } }",
        json!({}),
    );
    assert_eq!(data["payments"]["edges"].as_array().unwrap().len(), 10);
    assert_eq!(data["payments"]["totalCount"], 12);
    assert_eq!(data["payments"]["pageInfo"]["hasNextPage"], true);
}

impl Fixture {
    fn seed_more(&self, count: i64) {
        for i in 0..count {
            self.create_payment(json!({"gatewayId": format!("more_{i}"), "amount": 10_000 + i}));
        }
    }
}

#[test]
fn empty_connections_have_empty_pages() {
    let f = fixture();
    let data = f.run(
        "{ creditCards { totalCount edges { cursor } nodes { id } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }",
        json!({}),
    );
    assert_eq!(
        data["creditCards"],
        json!({"totalCount": 0, "edges": [], "nodes": [], "pageInfo": {
            "hasNextPage": false, "hasPreviousPage": false, "startCursor": null, "endCursor": null}})
    );
}

#[test]
fn template_variables_may_be_snake_case_strings() {
    let f = fixture();
    f.seed_payments(4);
    let data = f.run(
        "query($perPage: Int, $minAmount: Int) { payments(first: $perPage, filter: {amount: {gte: $minAmount}}) { edges { node { amount } } } }",
        json!({"per_page": "2", "min_amount": 200}),
    );
    assert_eq!(amounts(&data["payments"]).len(), 2);
}

// ------------------------------------------------------------ request types

#[derive(Default)]
struct FakeDispatcher {
    calls: Mutex<Vec<(String, Value, Option<String>)>>,
    fail: bool,
}

impl RequestDispatcher for FakeDispatcher {
    fn dispatch(
        &self,
        _app: &App,
        request_type: &str,
        data: Value,
        key: Option<String>,
        _caller: Caller,
    ) -> Result<DispatchOutcome, DispatchFailure> {
        self.calls
            .lock()
            .unwrap()
            .push((request_type.to_string(), data.clone(), key));
        if self.fail {
            return Err(DispatchFailure {
                kind: FailureKind::GatewayError,
                message: "Your card was declined".into(),
                gateway_code: Some("card_declined".into()),
                written: None,
            });
        }
        Ok(DispatchOutcome {
            record: Some(json!({"id": "7", "gateway_id": "cus_1", "email": data["email"]})),
            model: Some("modules/payments/customer".into()),
            errors: vec![GatewayErrorInfo {
                message: "phone looks odd".into(),
                code: Some("invalid_phone".into()),
                field: Some("phone".into()),
            }],
            response: Some(json!({"status": 200, "body": {"id": "cus_1"}})),
            skipped: false,
        })
    }
}

fn request_types() -> Vec<RequestTypeInfo> {
    vec![
        RequestTypeInfo {
            module: "stripe".into(),
            name: "create_customer".into(),
            full_name: "modules/stripe/create_customer".into(),
            fields: Some(vec![
                ("email".into(), PropertyType::String),
                ("payment_method_id".into(), PropertyType::String),
                ("metadata".into(), PropertyType::Json),
            ]),
            runtime_only: false,
        },
        RequestTypeInfo {
            module: "stripe".into(),
            name: "create_payment_intent".into(),
            full_name: "modules/stripe/create_payment_intent".into(),
            fields: None,
            runtime_only: false,
        },
    ]
}

#[test]
fn request_type_mutations_dispatch_snake_case_input() {
    let dispatcher = Arc::new(FakeDispatcher::default());
    let f = fixture_with(&request_types(), Some(dispatcher.clone()));
    let data = f.run(
        "mutation($key: String) {
            send_stripe_createCustomer(input: {email: \"a@example.com\", paymentMethodId: \"pm_1\", metadata: {orderId: 12}}, idempotencyKey: $key) {
                record model errors { message code field } response
            } }",
        json!({"key": "idem-1"}),
    );
    assert_eq!(
        data["send_stripe_createCustomer"],
        json!({
            "record": {"id": "7", "gateway_id": "cus_1", "email": "a@example.com"},
            "model": "modules/payments/customer",
            "errors": [{"message": "phone looks odd", "code": "invalid_phone", "field": "phone"}],
            "response": {"status": 200, "body": {"id": "cus_1"}}
        })
    );
    f.run(
        "mutation { send_stripe_createPaymentIntent(input: {amount: 1235, customerId: \"cus_1\", recurring: {intervalCount: 1}, metadata: {orderId: \"x\"}}) { model } }",
        json!({}),
    );
    let calls = dispatcher.calls.lock().unwrap();
    assert_eq!(
        calls[0],
        (
            "modules/stripe/create_customer".to_string(),
            json!({"email": "a@example.com", "payment_method_id": "pm_1", "metadata": {"orderId": 12}}),
            Some("idem-1".to_string())
        )
    );
    assert_eq!(
        calls[1],
        (
            "modules/stripe/create_payment_intent".to_string(),
            json!({"amount": 1235, "customer_id": "cus_1", "recurring": {"interval_count": 1}, "metadata": {"orderId": "x"}}),
            None
        )
    );
    let signature = |name: &str| {
        let data = f.run(
            "{ __type(name: \"Mutation\") { fields { name type { name } args { name type { name } } } } }",
            json!({}),
        );
        let field = data["__type"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|field| field["name"] == name)
            .cloned()
            .unwrap();
        let args: Vec<String> = field["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                format!(
                    "{}: {}",
                    a["name"].as_str().unwrap(),
                    a["type"]["name"].as_str().unwrap()
                )
            })
            .collect();
        format!(
            "{}({}): {}",
            name,
            args.join(", "),
            field["type"]["name"].as_str().unwrap()
        )
    };
    assert_eq!(
        signature("send_stripe_createCustomer"),
        "send_stripe_createCustomer(input: SendStripeCreateCustomerInput, idempotencyKey: String): SendStripeCreateCustomerPayload"
    );
    assert_eq!(
        signature("send_stripe_createPaymentIntent"),
        "send_stripe_createPaymentIntent(input: Map, idempotencyKey: String): SendStripeCreatePaymentIntentPayload"
    );
}

#[test]
fn dispatch_failures_become_coded_errors() {
    let dispatcher = Arc::new(FakeDispatcher {
        fail: true,
        ..FakeDispatcher::default()
    });
    let f = fixture_with(&request_types(), Some(dispatcher));
    let errors = f.errors(
        "mutation { send_stripe_createPaymentIntent(input: {amount: 1}) { model } }",
        json!({}),
    );
    assert_eq!(errors[0].message, "Your card was declined");
    assert_eq!(errors[0].code, "GATEWAY_ERROR");
    assert_eq!(errors[0].extensions["stripeErrorCode"], "card_declined");
    assert_eq!(errors[0].path, vec![json!("send_stripe_createPaymentIntent")]);
}

#[test]
fn request_types_without_a_dispatcher_fail_cleanly() {
    let f = fixture_with(&request_types(), None);
    let errors = f.errors("mutation { send_stripe_createPaymentIntent { model } }", json!({}));
    assert_eq!(errors[0].code, "UNAVAILABLE");
}

#[test]
fn a_request_type_clashing_with_another_is_a_load_problem() {
    let (_dir, store) = sqlite_store();
    let mut types = request_types();
    let mut twin = types[0].clone();
    twin.full_name = "modules/stripe/createCustomer".into();
    twin.name = "createCustomer".into();
    types.push(twin);
    let problems = GraphqlEngine::build(&models(), &types, store, None).unwrap_err();
    assert_eq!(problems[0].file, Path::new("modules/stripe/createCustomer"));
    assert!(
        problems[0].message.contains("modules/stripe/create_customer"),
        "{}",
        problems[0].message
    );
}

// ------------------------------------------------------------ webhook events

#[test]
fn webhook_events_are_listed_newest_first_with_status_filter() {
    use crate::db::models::webhook_event;
    let f = fixture();
    for i in 1..=3 {
        webhook_event::insert_if_absent(
            &f.store,
            "stripe",
            &MerchantId::default(),
            &format!("evt_{i}"),
            "customer.created",
            &format!("{{\"id\":\"evt_{i}\"}}"),
        )
        .unwrap();
    }
    let query = "query($first: Int, $after: String, $status: String) {
        stripe_webhookEvents(first: $first, after: $after, status: $status) {
            edges { cursor node { id eventId type data processed status attempts lastError createdAt } }
            pageInfo { hasNextPage hasPreviousPage endCursor } } }";
    let first = f.run(query, json!({"first": 2}));
    let page = &first["stripe_webhookEvents"];
    let events: Vec<&str> = page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["eventId"].as_str().unwrap())
        .collect();
    assert_eq!(events, vec!["evt_3", "evt_2"]);
    let node = &page["edges"][0]["node"];
    assert_eq!(node["type"], "customer.created");
    assert_eq!(node["data"], "{\"id\":\"evt_3\"}");
    assert_eq!(node["processed"], false);
    assert_eq!(node["status"], "pending");
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let second = f.run(query, json!({"first": 2, "after": page["pageInfo"]["endCursor"]}));
    let page = &second["stripe_webhookEvents"];
    assert_eq!(page["edges"][0]["node"]["eventId"], "evt_1");
    assert_eq!(page["pageInfo"]["hasNextPage"], false);
    assert_eq!(page["pageInfo"]["hasPreviousPage"], true);

    let processed = f.run(query, json!({"status": "processed"}));
    assert_eq!(processed["stripe_webhookEvents"]["edges"], json!([]));
    let errors = f.errors(query, json!({"status": "done"}));
    assert_eq!(errors[0].code, "BAD_USER_INPUT");
}

// ------------------------------------------------------------ HTTP

fn api_key_hash(key: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(key.as_bytes()).into()
}

async fn post(engine: &Arc<GraphqlEngine>, authorization: Option<&str>, body: &str) -> (u16, Value) {
    let keys = crate::api::graphql::ApiKeys {
        api: &[api_key_hash("pk-secret")],
        admin: &[],
    };
    let response = crate::api::graphql::handle_post(
        engine.clone(),
        keys.principal(authorization),
        actix_web::web::Bytes::from(body.to_string()),
    )
    .await;
    let status = response.status().as_u16();
    let bytes = actix_web::body::to_bytes(response.into_body()).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[actix_web::test]
async fn http_requires_an_api_key_and_runs_queries() {
    let f = fixture();
    f.seed_payments(2);
    let engine = Arc::new(f.engine);
    let body = r#"{"query": "query($n: Int) { payments(first: $n) { totalCount } }", "variables": {"n": 1}, "operationName": null}"#;

    for authorization in [None, Some("Bearer wrong"), Some("pk-secret")] {
        let (status, json) = post(&engine, authorization, body).await;
        assert_eq!(status, 401, "{authorization:?}");
        assert_eq!(json["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
        assert!(json.get("data").is_none());
    }

    let (status, json) = post(&engine, Some("Bearer pk-secret"), body).await;
    assert_eq!(status, 200);
    assert_eq!(json, json!({"data": {"payments": {"totalCount": 2}}}));

    let (status, json) = post(
        &engine,
        Some("Bearer pk-secret"),
        r#"{"query": "{ payment(id: 0) { id } }"}"#,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(json["errors"][0]["extensions"]["code"], "NOT_FOUND");

    let (status, json) = post(&engine, Some("Bearer pk-secret"), "not json").await;
    assert_eq!(status, 400);
    assert_eq!(json["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

// ------------------------------------------------------------ PostgreSQL

/// One smoke test on PostgreSQL: the same engine code, another backend.
#[test]
fn postgres_smoke() {
    use diesel::{Connection, PgConnection, RunQueryDsl};
    let base = std::env::var("PAYFORMS_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut admin = PgConnection::establish(&base).expect("PostgreSQL must be reachable (PAYFORMS_TEST_PG)");
    let name = format!("payforms_graphql_{}", uuid::Uuid::new_v4().simple());
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .unwrap();
    let url = match base.rfind('/') {
        Some(slash) => format!("{}/{name}", &base[..slash]),
        None => panic!("PAYFORMS_TEST_PG must end with /DATABASE"),
    };
    let outcome = std::panic::catch_unwind(|| {
        let store = Store::connect(&url).unwrap();
        store.migrate().unwrap();
        create_tables(&store);
        let engine = GraphqlEngine::build(&models(), &[], store.clone(), None).unwrap();
        let create = "mutation($a: Int, $g: String) { createPayment(input: {amount: $a, gatewayId: $g}) { id } }";
        for amount in [300, 100, 200] {
            engine
                .execute_blocking(create, vars(json!({"a": amount, "g": format!("pi_{amount}")})))
                .unwrap();
        }
        let duplicate = engine
            .execute_blocking(create, vars(json!({"a": 1, "g": "pi_100"})))
            .unwrap_err();
        assert_eq!(duplicate[0].code, "BAD_USER_INPUT");
        let data = engine
            .execute_blocking(
                "{ payments(orderBy: {field: AMOUNT}, filter: {amount: {gte: 150}}) { totalCount edges { node { amount } } } }",
                Map::new(),
            )
            .unwrap();
        assert_eq!(data["payments"]["totalCount"], 2);
        assert_eq!(amounts(&data["payments"]), vec![200, 300]);
        drop(store);
    });
    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Any JSON a program can send as variables (bounded nesting, as the HTTP
/// reader bounds it).
fn any_variable() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,10}".prop_map(Value::String),
        Just(json!("2026-12-02T13:28:39Z")),
        Just(json!("\u{0}")),
    ];
    leaf.prop_recursive(5, 48, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map(
                proptest::sample::select(vec![
                    "gatewayId",
                    "amount",
                    "feeRate",
                    "captured",
                    "paidAt",
                    "metadata",
                    "tags",
                    "eq",
                    "in",
                    "gt",
                    "contains",
                    "x",
                ]),
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

/// GraphQL input coercion: any variables for a create mutation or a
/// filter give data or coded errors, never a panic, and a refused create
/// stores nothing.
#[test]
fn any_input_is_coerced_or_refused_with_a_code() {
    use proptest::test_runner::{Config, TestRunner};
    let f = fixture();
    let mut runner = TestRunner::new(Config::with_cases(if super::BACKEND_IS_POSTGRES { 64 } else { 256 }));
    let outcome = runner.run(&(any_variable(), any_variable()), |(input, filter)| {
        let before = f.run("{ payments { totalCount } }", json!({}))["payments"]["totalCount"].clone();
        let created = f.engine.execute_blocking(
            "mutation($input: PaymentInput!) { createPayment(input: $input) { id } }",
            vars(json!({ "input": input })),
        );
        let after = f.run("{ payments { totalCount } }", json!({}))["payments"]["totalCount"].clone();
        match created {
            Ok(_) => proptest::prop_assert_eq!(after, json!(before.as_i64().unwrap_or(0) + 1)),
            Err(errors) => {
                proptest::prop_assert_eq!(after, before);
                proptest::prop_assert!(errors.iter().all(|e| !e.code.is_empty()));
            }
        }
        if let Err(errors) = f.engine.execute_blocking(
            "query($filter: PaymentFilter) { payments(filter: $filter) { totalCount } }",
            vars(json!({ "filter": filter })),
        ) {
            proptest::prop_assert!(errors.iter().all(|e| !e.code.is_empty()));
        }
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

#[test]
fn operator_operations_need_the_operator_and_a_writing_page_for_changes() {
    use crate::db::models::webhook_event;
    let f = fixture();
    let refused = f.errors("{ apiKeys { keyId } }", json!({}));
    assert_eq!(refused[0].code, "FORBIDDEN");
    let refused = f.errors("mutation { replayFailedWebhookEvents }", json!({}));
    assert_eq!(refused[0].code, "FORBIDDEN");
    let operator = |query: &str| f.engine.execute_for_page(query, Map::new(), true, true);

    let created = operator(
        r#"mutation { createApiKey(merchant: "acme", scopes: ["payments:read", "refunds:write"], name: "console") {
            key apiKey { keyId merchant scopes name revokedAt } } }"#,
    )
    .unwrap();
    let key = created["createApiKey"]["key"].as_str().unwrap();
    let key_id = created["createApiKey"]["apiKey"]["keyId"].as_str().unwrap();
    assert!(key.starts_with(&format!("pfk_{key_id}_")), "{created}");
    assert_eq!(
        created["createApiKey"]["apiKey"],
        json!({"keyId": key_id, "merchant": "acme", "scopes": ["payments:read", "refunds:write"], "name": "console", "revokedAt": null})
    );
    let listed =
        operator(r#"{ apiKeys(merchant: "acme") { keyId revokedAt } merchants { id hasStripeKey } }"#).unwrap();
    assert_eq!(listed["apiKeys"], json!([{"keyId": key_id, "revokedAt": null}]));
    assert!(!listed.to_string().contains(key), "a listing never shows the key");
    assert!(listed["merchants"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == "acme"));
    let revoke = format!(r#"mutation {{ revokeApiKey(keyId: "{key_id}") }}"#);
    assert_eq!(operator(&revoke).unwrap()["revokeApiKey"], true);
    assert_eq!(operator(&revoke).unwrap()["revokeApiKey"], false, "already revoked");
    for bad in [
        r#"mutation { createApiKey(scopes: ["payments:everything"]) { key } }"#,
        r#"mutation { createApiKey(merchant: "../x", scopes: ["payments:read"]) { key } }"#,
        r#"mutation { revokeApiKey(keyId: "a b") }"#,
    ] {
        assert_eq!(operator(bad).unwrap_err()[0].code, "BAD_USER_INPUT", "{bad}");
    }
    // A GET page of the operator reads, never changes.
    let read_only = f
        .engine
        .execute_for_page("mutation { replayFailedWebhookEvents }", Map::new(), false, true);
    assert_eq!(read_only.unwrap_err()[0].code, "FORBIDDEN");

    // Replay: one event, or every failed one.
    let (event, _) = webhook_event::insert_if_absent(
        &f.store,
        "stripe",
        f.store.merchant(),
        "evt_failed",
        "charge.refunded",
        "{}",
    )
    .unwrap();
    webhook_event::mark_failed(&f.store, event.id, "the processor failed", chrono::Utc::now()).unwrap();
    let replayed = operator(&format!(r#"mutation {{ replayWebhookEvent(id: "{}") }}"#, event.id)).unwrap();
    assert_eq!(replayed["replayWebhookEvent"], "pending");
    webhook_event::mark_failed(&f.store, event.id, "again", chrono::Utc::now()).unwrap();
    assert_eq!(
        operator("mutation { replayFailedWebhookEvents }").unwrap()["replayFailedWebhookEvents"],
        1
    );
    assert_eq!(
        webhook_event::get(&f.store, event.id).unwrap().unwrap().status,
        webhook_event::WebhookStatus::Pending
    );
    let missing = operator(r#"mutation { replayWebhookEvent(id: "999999") }"#).unwrap();
    assert_eq!(missing["replayWebhookEvent"], Value::Null);
    let one_scope = operator(r#"mutation { createApiKey(scopes: "payments:read") { apiKey { scopes } } }"#).unwrap();
    assert_eq!(one_scope["createApiKey"]["apiKey"]["scopes"], json!(["payments:read"]));
}

// ------------------------------------------------- platformOS's shapes

const RECORDS_PAGE: &str =
    "query($filter: PlatformosRecordsFilter, $sort: [PlatformosRecordsSort!], $per_page: Int, $page: Int) {
  records(per_page: $per_page, page: $page, filter: $filter, sort: $sort) {
    total_entries total_pages current_page per_page has_next_page has_previous_page
    results { id table created_at updated_at deleted_at properties }
  }
}";

fn record_amounts(records: &Value) -> Vec<i64> {
    records["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["properties"]["amount"].as_i64().unwrap())
        .collect()
}

#[test]
fn platformos_records_filter_sort_and_number_pages() {
    let f = fixture();
    f.seed_payments(5);
    let by_amount = json!([{ "properties": { "name": "amount", "order": "ASC" } }]);
    let data = f.run(
        RECORDS_PAGE,
        json!({
            "per_page": 2, "page": 2, "sort": by_amount,
            "filter": { "table": { "value": "modules/payments/payment" },
                        "properties": [{ "name": "amount", "range": { "gte": "200" } }] }
        }),
    );
    let records = &data["records"];
    assert_eq!(record_amounts(records), vec![400, 500]);
    assert_eq!(records["total_entries"], json!(4));
    assert_eq!(records["total_pages"], json!(2));
    assert_eq!(records["current_page"], json!(2));
    assert_eq!(records["per_page"], json!(2));
    assert_eq!(records["has_next_page"], json!(false));
    assert_eq!(records["has_previous_page"], json!(true));
    let first = &records["results"][0];
    assert_eq!(first["table"], json!("modules/payments/payment"));
    assert_eq!(first["deleted_at"], Value::Null);
    assert_eq!(first["properties"]["gateway_id"], json!("pi_4"));
    assert_eq!(first["properties"]["captured"], json!(true));
    assert_eq!(first["properties"]["fee_rate"], Value::Null);

    // A module's model by its short name; each operator on both backends.
    let amounts_where = |properties: Value| {
        let data = f.run(
            RECORDS_PAGE,
            json!({ "sort": by_amount, "filter": { "table": { "value": "payment" }, "properties": properties } }),
        );
        record_amounts(&data["records"])
    };
    assert_eq!(
        amounts_where(json!([{ "name": "gateway_id", "value": "pi_3" }])),
        vec![300]
    );
    assert_eq!(amounts_where(json!([{ "name": "amount", "exact": "300" }])), vec![300]);
    assert_eq!(
        amounts_where(json!([{ "name": "captured", "not_value": "true" }])),
        vec![100, 300, 500]
    );
    assert_eq!(
        amounts_where(json!([{ "name": "gateway_id", "contains": "_2" }])),
        vec![200]
    );
    assert_eq!(
        amounts_where(json!([{ "name": "gateway_id", "value_in": ["pi_1", "pi_5", "pi_9"] }])),
        vec![100, 500]
    );
    assert_eq!(
        amounts_where(json!([{ "name": "fee_rate", "exists": true }])),
        Vec::<i64>::new()
    );
    assert_eq!(
        amounts_where(json!([{ "name": "amount", "range": { "gt": "100", "lt": "400" } }])),
        vec![200, 300]
    );
    // platformOS's optional variables: a null operand is no condition.
    assert_eq!(
        amounts_where(json!([{ "name": "gateway_id", "value": null }])),
        vec![100, 200, 300, 400, 500]
    );
    let newest_first = f.run(
        RECORDS_PAGE,
        json!({ "per_page": 1, "sort": [{ "created_at": { "order": "DESC" } }],
                "filter": { "table": { "value": "payment" } } }),
    );
    assert_eq!(newest_first["records"]["total_pages"], json!(5));
    let by_id = f.run(
        RECORDS_PAGE,
        json!({ "filter": { "table": { "value": "payment" }, "id": { "value": newest_first["records"]["results"][0]["id"] } } }),
    );
    assert_eq!(
        record_amounts(&by_id["records"]),
        record_amounts(&newest_first["records"])
    );
}

#[test]
fn platformos_records_refuse_what_they_cannot_answer() {
    let f = fixture();
    let refused = |variables: Value, expected: &str| {
        let errors = f.errors(RECORDS_PAGE, variables);
        assert!(
            errors.iter().any(|e| e.message.contains(expected)),
            "expected `{expected}` in {errors:#?}"
        );
    };
    let payment = json!({ "value": "modules/payments/payment" });
    refused(
        json!({ "filter": { "table": payment, "properties": [{ "name": "gateway_id", "starts_with": "pi" }] } }),
        "`starts_with` filter is not supported",
    );
    refused(
        json!({ "filter": { "table": payment, "properties": [{ "name": "nope", "value": "1" }] } }),
        "`nope` is not a property of modules/payments/payment",
    );
    refused(
        json!({ "filter": { "table": payment, "properties": [{ "name": "amount", "contains": "1" }] } }),
        "`contains` applies to strings",
    );
    refused(
        json!({ "filter": { "table": payment }, "per_page": 101 }),
        "from 1 to 100",
    );
    refused(json!({ "filter": { "table": payment }, "page": 0 }), "from 1 to 1000");
    refused(
        json!({ "filter": { "table": payment }, "page": 1001 }),
        "from 1 to 1000",
    );
    refused(json!({ "filter": {} }), "is required to name the model");
    refused(
        json!({ "filter": { "table": { "value": "order" } } }),
        "there is no model `order`",
    );
    refused(
        json!({ "filter": { "table": payment }, "sort": [{ "id": { "order": "ASC" } }, { "created_at": {} }] }),
        "sorts by one key",
    );
    refused(
        json!({ "filter": { "table": payment }, "sort": [{ "properties": { "name": "metadata" } }] }),
        "cannot order records",
    );
    // Unknown input fields never reach a resolver.
    let errors = f.errors(
        RECORDS_PAGE,
        json!({ "filter": { "table": payment, "properties": [{ "name": "amount", "greater": "1" }] } }),
    );
    assert!(errors[0].message.contains("greater"), "{errors:#?}");
}

#[test]
fn platformos_record_mutations_type_values_like_payforms_mutations() {
    let f = fixture();
    let created = f.run(
        "mutation { record_create(record: { table: \"modules/payments/payment\", properties: [
            { name: \"gateway_id\", value: \"pi_pos\" }, { name: \"amount\", value: \"599\" },
            { name: \"captured\", value_boolean: true }, { name: \"metadata\", value: \"{\\\"order\\\":\\\"7\\\"}\" },
            { name: \"fee_rate\", value_float: 0.25 } ] }) { id table properties } }",
        json!({}),
    )["record_create"]
        .clone();
    assert_eq!(created["table"], json!("modules/payments/payment"));
    assert_eq!(created["properties"]["amount"], json!(599));
    assert_eq!(created["properties"]["captured"], json!(true));
    assert_eq!(created["properties"]["metadata"], json!({"order": "7"}));
    assert_eq!(created["properties"]["fee_rate"], json!(0.25));
    let id = created["id"].as_str().unwrap().to_string();
    // The same record through payforms' own query.
    let own = f.run(
        "query($id: ID!) { payment(id: $id) { amount captured } }",
        json!({ "id": id }),
    );
    assert_eq!(own["payment"], json!({"amount": 599, "captured": true}));

    for (properties, expected) in [
        (r#"[{ name: "amount", value: "5.99" }]"#, "amount"),
        (
            r#"[{ name: "amount", value_float: 5.0 }]"#,
            "value_float is only for float properties",
        ),
        (r#"[{ name: "amount", value: "1", value_int: 1 }]"#, "give one of"),
        (r#"[{ name: "nope", value: "1" }]"#, "is not a property"),
        (r#"[{ name: "metadata", value: "{not json" }]"#, "must be JSON text"),
    ] {
        let query = format!(
            "mutation {{ record_create(record: {{ table: \"payment\", properties: {properties} }}) {{ id }} }}"
        );
        let errors = f.errors(&query, json!({}));
        assert_eq!(errors[0].code, "BAD_USER_INPUT", "{errors:#?}");
        assert!(errors[0].message.contains(expected), "{expected}: {errors:#?}");
    }

    // Without a table: the one model holding that id.
    let updated = f.run(
        "mutation($id: ID!) { record_update(id: $id, record: { properties: [
            { name: \"amount\", value: \"700\" }, { name: \"captured\" } ] }) { id properties } }",
        json!({ "id": id }),
    );
    assert_eq!(updated["record_update"]["properties"]["amount"], json!(700));
    assert_eq!(updated["record_update"]["properties"]["captured"], Value::Null);
    assert_eq!(updated["record_update"]["properties"]["gateway_id"], json!("pi_pos"));
    // An id two tables hold is ambiguous until the table is named.
    let card = f.run(
        "mutation { record_create(record: { table: \"credit_card\", properties: [{ name: \"last4\", value: \"4242\" }] }) { id } }",
        json!({}),
    )["record_create"]["id"]
        .clone();
    assert_eq!(card, json!(id), "both tables number records from 1");
    let errors = f.errors(
        "mutation($id: ID!) { record_delete(id: $id) { id } }",
        json!({ "id": id }),
    );
    assert!(errors[0].message.contains("several tables"), "{errors:#?}");
    let deleted = f.run(
        "mutation($id: ID!) { record_delete(table: \"credit_card\", id: $id) { id table properties } }",
        json!({ "id": id }),
    );
    assert_eq!(deleted["record_delete"]["properties"]["last4"], json!("4242"));
    let missing = f.errors(
        "mutation($id: ID!) { record_delete(table: \"credit_card\", id: $id) { id } }",
        json!({ "id": id }),
    );
    assert_eq!(missing[0].code, "NOT_FOUND");
    let still = f.run("query($id: ID!) { payment(id: $id) { amount } }", json!({ "id": id }));
    assert_eq!(still["payment"]["amount"], json!(700));
}

#[test]
fn platformos_writes_keep_payforms_rules() {
    let f = fixture();
    // A GET page only reads.
    let refused = f
        .engine
        .execute_for_page(
            "mutation { record_create(record: { table: \"credit_card\" }) { id } }",
            Map::new(),
            false,
            false,
        )
        .unwrap_err();
    assert_eq!(refused[0].code, "FORBIDDEN");
    // System models are never written, by any shape.
    let (_dir, store) = sqlite_store();
    let mut with_system = models();
    with_system.push(model(
        "modules/payments/schema/gateway_request.yml",
        crate::db::schema::GATEWAY_REQUEST_MODEL,
        "properties:\n  - name: request_type\n    type: string\n",
    ));
    let refs: Vec<&ModelType> = with_system.iter().collect();
    store.migrate_models(&refs, Default::default()).unwrap();
    let engine = GraphqlEngine::build(&with_system, &[], store, None).unwrap();
    for mutation in [
        "mutation { record_create(record: { table: \"modules/payments/gateway_request\" }) { id } }",
        "mutation { customization_create(customization: { name: \"gateway_request\" }) { id } }",
        "mutation { record_delete(table: \"gateway_request\", id: 1) { id } }",
    ] {
        let errors = engine.execute_blocking(mutation, Map::new()).unwrap_err();
        assert_eq!(errors[0].code, "FORBIDDEN", "{mutation}: {errors:#?}");
    }
    // ... but are read.
    let read = engine
        .execute_blocking(
            "{ records(filter: { table: { value: \"gateway_request\" } }) { total_entries } }",
            Map::new(),
        )
        .unwrap();
    assert_eq!(read["records"]["total_entries"], json!(0));
}

/// The shapes of platformOS's payments module (graph_queries/*.graphql).
#[test]
fn platformos_customizations_as_the_modules_use_them() {
    let f = fixture();
    let create = "mutation create_customization($data: CustomizationInputType!, $form: String) {
        customization_create(customization: $data, form_configuration_name: $form) { id properties } }";
    for (gateway_id, amount) in [("pi_a", "100"), ("pi_b", "200"), ("pi_c", "300")] {
        f.run(
            create,
            json!({ "data": { "name": "modules/payments/payment",
                              "properties": [{ "name": "gateway_id", "value": gateway_id },
                                             { "name": "amount", "value": amount }] } }),
        );
    }
    let find = "query get_payment_by_external_id($gateway_id: String, $id: ID) {
      customizations(per_page: 1, page: 1, id: $id, name: \"modules/payments/payment\", is_deleted: false,
        sort: [{ name: \"created_at\", order: \"desc\" }],
        properties: [{ name: \"gateway_id\", value: $gateway_id }]) {
        results { id gateway_id: property(name: \"gateway_id\") amount: property(name: \"amount\") properties user { name email } }
        total_entries
      } }";
    let found = f.run(find, json!({ "gateway_id": "pi_b" }));
    let result = &found["customizations"]["results"][0];
    assert_eq!(result["gateway_id"], json!("pi_b"));
    assert_eq!(result["amount"], json!("200"));
    assert_eq!(result["properties"]["amount"], json!(200));
    assert_eq!(result["user"], Value::Null);
    assert_eq!(found["customizations"]["total_entries"], json!(1));
    // No gateway_id given: every payment, newest first.
    let all = f.run(find, json!({}));
    assert_eq!(all["customizations"]["total_entries"], json!(3));
    assert_eq!(all["customizations"]["results"][0]["gateway_id"], json!("pi_c"));
    let id = result["id"].clone();
    let by_id = f.run(find, json!({ "id": id }));
    assert_eq!(by_id["customizations"]["results"][0]["gateway_id"], json!("pi_b"));
    let deleted = f.run(
        "{ customizations(name: \"payment\", is_deleted: true) { total_entries results { id } } }",
        json!({}),
    );
    assert_eq!(deleted["customizations"]["total_entries"], json!(0));

    let updated = f.run(
        "mutation update_customization($data: CustomizationInputType!, $form: String, $id: ID!) {
          customization_update(customization: $data, form_configuration_name: $form, id: $id) { id properties } }",
        json!({ "id": id, "data": { "properties": [{ "name": "amount", "value": "250" }] } }),
    );
    assert_eq!(updated["customization_update"]["properties"]["amount"], json!(250));
    let deleted = f.run(
        "mutation delete_customization($id: ID!, $form: String) {
          customization_delete(id: $id, form_configuration_name: $form) { id properties } }",
        json!({ "id": id }),
    );
    assert_eq!(
        deleted["customization_delete"]["properties"]["gateway_id"],
        json!("pi_b")
    );
    assert_eq!(f.run(find, json!({}))["customizations"]["total_entries"], json!(2));
    // A form payforms does not have cannot name the model.
    let errors = f.errors(
        create,
        json!({ "form": "modules/payments/nope_form", "data": { "properties": [] } }),
    );
    assert!(errors[0].message.contains("there is no form"), "{errors:#?}");
    let errors = f.errors(create, json!({ "data": { "properties": [] } }));
    assert!(
        errors[0].message.contains("is required to name the model"),
        "{errors:#?}"
    );
}

#[test]
fn model_connections_take_numbered_pages() {
    let f = fixture();
    f.seed_payments(5);
    let page = f.run(
        "{ payments(per_page: 2, page: 2, orderBy: { field: AMOUNT }) {
            results { id amount created_at properties }
            total_entries total_pages current_page per_page has_next_page has_previous_page totalCount } }",
        json!({}),
    );
    let payments = &page["payments"];
    let amounts: Vec<i64> = payments["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, vec![300, 400]);
    assert_eq!(payments["results"][0]["properties"]["gateway_id"], json!("pi_3"));
    assert!(payments["results"][0]["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        (
            &payments["total_entries"],
            &payments["total_pages"],
            &payments["current_page"],
            &payments["per_page"]
        ),
        (&json!(5), &json!(3), &json!(2), &json!(2))
    );
    assert_eq!(payments["has_next_page"], json!(true));
    assert_eq!(payments["has_previous_page"], json!(true));
    // Relay's pages answer the same names (first page: current_page 1).
    let relay = f.run(
        "{ payments(first: 2, orderBy: { field: AMOUNT }) { results { amount } current_page total_pages pageInfo { endCursor } } }",
        json!({}),
    );
    assert_eq!(relay["payments"]["current_page"], json!(1));
    assert_eq!(relay["payments"]["total_pages"], json!(3));
    let after = relay["payments"]["pageInfo"]["endCursor"].clone();
    let next = f.run(
        "query($after: String) { payments(first: 2, after: $after, orderBy: { field: AMOUNT }) { results { amount } current_page } }",
        json!({ "after": after }),
    );
    assert_eq!(next["payments"]["results"], json!([{"amount": 300}, {"amount": 400}]));
    assert_eq!(next["payments"]["current_page"], Value::Null);
    let errors = f.errors("{ payments(per_page: 2, first: 2) { results { id } } }", json!({}));
    assert!(errors[0].message.contains("do not mix"), "{errors:#?}");
}

#[test]
fn platformos_api_call_send_dispatches_the_request_type() {
    let dispatcher = Arc::new(FakeDispatcher::default());
    let mut types = request_types();
    types.push(RequestTypeInfo {
        module: "payments".into(),
        name: "deliver_notification".into(),
        full_name: "modules/payments/deliver_notification".into(),
        fields: None,
        runtime_only: true,
    });
    let f = fixture_with(&types, Some(dispatcher.clone()));
    let send = "mutation gateway_request($api_template: String!, $data: HashObject) {
        api_call_send(data: $data, template: { name: $api_template }) { response { status body } errors { message } } }";
    let sent = f.run(
        send,
        json!({ "api_template": "create_customer", "data": { "email": "a@example.com" } }),
    );
    assert_eq!(
        sent["api_call_send"],
        json!({ "response": { "status": 200, "body": "{\"id\":\"cus_1\"}" },
                "errors": [{ "message": "phone looks odd" }] })
    );
    let calls = dispatcher.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].0, "modules/stripe/create_customer");
    assert_eq!(calls[0].1, json!({ "email": "a@example.com" }));
    // payforms' own request types are not a page's to send.
    for refused in ["modules/payments/deliver_notification", "deliver_notification", "nope"] {
        let errors = f.errors(send, json!({ "api_template": refused, "data": {} }));
        assert_eq!(errors[0].code, "NOT_FOUND", "{refused}: {errors:#?}");
    }
    assert_eq!(dispatcher.calls.lock().unwrap().len(), 1);
    // A GET page only reads.
    let refused = f
        .engine
        .execute_for_page(
            "mutation { api_call_send(template: { name: \"create_customer\" }) { errors { message } } }",
            Map::new(),
            false,
            false,
        )
        .unwrap_err();
    assert_eq!(refused[0].code, "FORBIDDEN");
    // A declined call is in `errors`, as platformOS answers it.
    let failing = fixture_with(
        &request_types(),
        Some(Arc::new(FakeDispatcher {
            fail: true,
            ..FakeDispatcher::default()
        })),
    );
    let declined = failing.run(send, json!({ "api_template": "create_customer" }));
    assert_eq!(
        declined["api_call_send"],
        json!({ "response": null, "errors": [{ "message": "Your card was declined" }] })
    );
}

#[test]
fn platformos_partials_constants_and_livemode() {
    let (dir, store) = sqlite_store();
    create_tables(&store);
    let app = App {
        partial_names: vec!["modules/payments/forms/payload".into(), "order_status".into()],
        ..App::default()
    };
    let sender = RequestSender {
        gateway: Arc::new(FakeDispatcher::default()),
        app: Arc::new(app),
        settings: None,
    };
    let engine = GraphqlEngine::build(&models(), &[], store.clone(), Some(sender)).unwrap();
    let f = Fixture {
        _db: dir,
        store,
        engine,
    };
    let find = "query find_partial($path: String) {
        admin_liquid_partials(filter: { path: { exact: $path } }) { results { id path } total_entries } }";
    assert_eq!(
        f.run(find, json!({ "path": "order_status" }))["admin_liquid_partials"],
        json!({ "results": [{ "id": "order_status", "path": "order_status" }], "total_entries": 1 })
    );
    assert_eq!(
        f.run(find, json!({ "path": "nope" }))["admin_liquid_partials"]["total_entries"],
        json!(0)
    );
    assert_eq!(
        f.run(find, json!({}))["admin_liquid_partials"]["total_entries"],
        json!(2)
    );

    let constant = f.errors(
        "mutation set_constant($name: String!, $value: String!) { constant_set(name: $name, value: $value) { name value } }",
        json!({ "name": "stripe_sk_key", "value": "sk_test_1" }),
    );
    assert_eq!(constant[0].code, "FORBIDDEN");
    assert!(constant[0].message.contains("no constants"), "{constant:#?}");

    // `livemode` is the records' environment: this store reads test mode.
    f.seed_payments(2);
    let by_livemode = "query($livemode: String) { customizations(name: \"payment\",
        properties: [{ name: \"livemode\", value: $livemode }]) { total_entries } }";
    let count = |livemode: Value| {
        f.run(by_livemode, json!({ "livemode": livemode }))["customizations"]["total_entries"].clone()
    };
    let test_mode = !f.store.environment().livemode();
    assert!(test_mode);
    assert_eq!(count(json!("false")), json!(2));
    assert_eq!(count(json!("true")), json!(0));
    assert_eq!(count(Value::Null), json!(2));
    let errors = f.errors(by_livemode, json!({ "livemode": "maybe" }));
    assert_eq!(errors[0].code, "BAD_USER_INPUT");
}

#[test]
fn platformos_names_give_way_to_an_apps_models() {
    let (_dir, store) = sqlite_store();
    let mut with_record = models();
    with_record.push(model("schema/record.yml", "record", CREDIT_CARD_YAML));
    let refs: Vec<&ModelType> = with_record.iter().collect();
    store.migrate_models(&refs, Default::default()).unwrap();
    let engine = GraphqlEngine::build(&with_record, &[], store, None).unwrap();
    // `records` is the model's connection; the other shapes stay.
    let data = engine
        .execute_blocking(
            "{ records(first: 1) { totalCount } customizations(name: \"record\") { total_entries } }",
            Map::new(),
        )
        .unwrap();
    assert_eq!(
        data,
        json!({"records": {"totalCount": 0}, "customizations": {"total_entries": 0}})
    );
    let created = engine
        .execute_blocking(
            "mutation { createRecord(input: { last4: \"4242\" }) { id } record_create(record: { table: \"record\", properties: [{ name: \"last4\", value: \"1111\" }] }) { properties } }",
            Map::new(),
        )
        .unwrap();
    assert_eq!(created["record_create"]["properties"], json!({"last4": "1111"}));
}
