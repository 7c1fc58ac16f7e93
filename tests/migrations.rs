//! Tables per model, migrated from the schema files: a running app picks up
//! a new property and index on hot reload, refuses a removal at its
//! file:line while the last good app keeps serving, and `payforms migrate`
//! prints its plan as SQL, refuses or applies destructive changes.

// Runs payforms against its built-in Stripe sandbox (the default `sandbox` feature).
#![cfg(feature = "sandbox")]

mod support;

use std::fs;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::{client, copy_app, graphql_as, payforms_bin, repo_root, wait_for, PgDatabase, ServerOptions, TestServer};

const API_KEY: &str = "migrations-test-key";

fn graphql(server: &TestServer, query: &str) -> Value {
    graphql_as(server, API_KEY, query)
}

const ORDER_SCHEMA: &str = "name: order
properties:
  - { name: description, type: string }
  - { name: amount, type: integer }
  - { name: currency, type: string }
  - { name: visitor_id, type: string, index: true }
";

#[test]
fn a_running_app_gains_a_column_and_an_index_and_refuses_a_removal_at_its_line() {
    let db = PgDatabase::fresh();
    let app = copy_app(repo_root());
    let server = TestServer::start(
        ServerOptions::new(app.path())
            .database(db.url())
            .watch(true)
            .env("PAYFORMS_API_KEYS", API_KEY)
            .arg("--sandbox"),
    );
    // The demo's models are tables with typed columns.
    let columns = db.query(
        "SELECT column_name || ':' || data_type FROM information_schema.columns \
         WHERE table_name = 'payment' ORDER BY ordinal_position",
    );
    for expected in [
        "id:bigint",
        "created_at:timestamp with time zone",
        "amount:bigint",
        "state:text",
        "metadata:jsonb",
    ] {
        assert!(columns.lines().any(|l| l == expected), "{expected} in:\n{columns}");
    }

    // Add a property and an indexed property, and a page that filters on it.
    fs::write(
        app.path().join("schema/order.yml"),
        format!("{ORDER_SCHEMA}  - {{ name: note, type: string }}\n  - {{ name: tier, type: string, index: true }}\n"),
    )
    .unwrap();
    fs::write(
        app.path().join("templates/pages/gold.liquid"),
        "{% graphql r %}query { orders(filter: { tier: { eq: \"gold\" } }) { totalCount nodes { note } } }{% endgraphql %}\
         <p id=n>{{ r.orders.totalCount }}</p>{% for o in r.orders.nodes %}<p>{{ o.note }}</p>{% endfor %}",
    )
    .unwrap();
    let http = client();
    let fetch = |path: &str| {
        http.get(server.url(path))
            .send()
            .ok()
            .map(|r| (r.status().as_u16(), r.text().unwrap_or_default()))
    };
    wait_for("the page using the new property", Duration::from_secs(20), || {
        fetch("/gold").filter(|(s, _)| *s == 200)
    });
    let created = graphql(
        &server,
        r#"mutation { a: createOrder(input: {description: "x", amount: 100, currency: "usd", tier: "gold", note: "caf\u00e9 gold"}) { id }
                      b: createOrder(input: {description: "y", amount: 100, currency: "usd", tier: "silver", note: "silver"}) { id } }"#,
    );
    assert!(created.get("errors").is_none(), "{created}");
    let (_, body) = fetch("/gold").unwrap();
    assert!(body.contains("<p id=n>1</p>") && body.contains("café gold"), "{body}");
    assert!(!body.contains("silver"), "{body}");
    let index = db.query("SELECT indexdef FROM pg_indexes WHERE indexname = 'order_tier_idx'");
    assert!(index.contains("(tier, livemode, merchant, created_at, id)"), "{index}");
    assert_eq!(db.query("SELECT note FROM \"order\" WHERE tier = 'gold'"), "café gold");
    let logged = db.query("SELECT change FROM schema_changes ORDER BY id DESC LIMIT 2");
    assert!(logged.contains("add tier (string) to order"), "{logged}");

    // Remove a property: refused at the file's `properties:` line, and the
    // last good app (with the page that reads it) keeps serving.
    fs::write(
        app.path().join("schema/order.yml"),
        format!("{ORDER_SCHEMA}  - {{ name: tier, type: string, index: true }}\n"),
    )
    .unwrap();
    fs::write(app.path().join("templates/pages/after.liquid"), "after").unwrap();
    wait_for("the refusal in the log", Duration::from_secs(20), || {
        server
            .log_text()
            .lines()
            .find(|l| l.contains("schema/order.yml:2:") && l.contains("property `note` was removed"))
            .map(str::to_string)
    });
    assert_eq!(fetch("/after").unwrap().0, 404, "the new version was not swapped in");
    let (status, body) = fetch("/gold").unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("café gold"), "{body}");
    assert_eq!(db.query("SELECT COUNT(*) FROM \"order\" WHERE note IS NOT NULL"), "2");
}

fn migrate(app: &std::path::Path, database: &str, flags: &[&str]) -> (bool, String, String) {
    let output = Command::new(payforms_bin())
        .arg("migrate")
        .arg("--app")
        .arg(app)
        .arg("--database")
        .arg(database)
        .args(flags)
        .env("PAYFORMS_SECRET", "x".repeat(40))
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn migrate_prints_its_plan_refuses_data_loss_and_applies_it_when_told() {
    let app = copy_app(repo_root());
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("app.db").display());
    let (ok, plan, err) = migrate(app.path(), &database, &["--dry-run"]);
    assert!(ok, "{err}");
    assert!(
        plan.contains("CREATE TABLE \"payment\" (\"id\" INTEGER PRIMARY KEY AUTOINCREMENT"),
        "{plan}"
    );
    assert!(
        plan.contains("CREATE UNIQUE INDEX \"payment_gateway_id_key\""),
        "{plan}"
    );
    let (ok, applied, err) = migrate(app.path(), &database, &[]);
    assert!(ok, "{err}");
    assert!(applied.contains("applied: create table payment"), "{applied}");
    let (ok, again, _) = migrate(app.path(), &database, &["--dry-run"]);
    assert!(ok && again.contains("matches the schema files"), "{again}");

    // A table made before environments (no livemode, indexes without it,
    // a record): the plan adds the column, and applying it keeps the record
    // as a test one.
    {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        let mut conn = diesel::SqliteConnection::establish(&dir.path().join("app.db").display().to_string()).unwrap();
        conn.batch_execute(
            "DROP INDEX \"order_created_at_idx\"; DROP INDEX \"order_updated_at_idx\"; \
             DROP INDEX \"order_visitor_id_idx\"; ALTER TABLE \"order\" DROP COLUMN \"livemode\"; \
             CREATE INDEX \"order_created_at_idx\" ON \"order\" (\"created_at\", \"id\"); \
             INSERT INTO \"order\" (\"created_at\", \"updated_at\", \"description\") \
             VALUES ('2024-01-01T00:00:00.000000Z', '2024-01-01T00:00:00.000000Z', 'old');",
        )
        .unwrap();
    }
    let (ok, plan, err) = migrate(app.path(), &database, &["--dry-run"]);
    assert!(ok, "{err}");
    assert!(
        plan.contains("-- add the system column livemode to order (existing records: test)")
            && plan.contains("ALTER TABLE \"order\" ADD COLUMN \"livemode\" INTEGER NOT NULL DEFAULT 0"),
        "{plan}"
    );
    let (ok, applied, err) = migrate(app.path(), &database, &[]);
    assert!(
        ok && applied.contains("applied: add the system column livemode to order"),
        "{err}{applied}"
    );
    {
        use diesel::Connection;
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Mode {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            livemode: i64,
        }
        let mut conn = diesel::SqliteConnection::establish(&dir.path().join("app.db").display().to_string()).unwrap();
        let modes = diesel::sql_query("SELECT \"livemode\" FROM \"order\"")
            .load::<Mode>(&mut conn)
            .unwrap();
        assert_eq!(modes.iter().map(|m| m.livemode).collect::<Vec<_>>(), [0]);
    }

    // A type change and a removal: refused with file:line, nothing changed.
    fs::write(
        app.path().join("schema/order.yml"),
        "name: order\nproperties:\n  - { name: description, type: string }\n  - { name: amount, type: string }\n  - { name: currency, type: string }\n",
    )
    .unwrap();
    let (ok, _, refused) = migrate(app.path(), &database, &[]);
    assert!(!ok);
    assert!(
        refused.contains("schema/order.yml:4: `amount` changes type from integer to string"),
        "{refused}"
    );
    assert!(
        refused.contains("schema/order.yml:2: property `visitor_id` was removed"),
        "{refused}"
    );
    let (ok, plan, err) = migrate(app.path(), &database, &["--dry-run", "--allow-destructive"]);
    assert!(ok, "{err}");
    assert!(
        plan.contains("ALTER TABLE \"order\" DROP COLUMN \"visitor_id\""),
        "{plan}"
    );
    let (ok, applied, err) = migrate(app.path(), &database, &["--allow-destructive"]);
    assert!(ok, "{err}");
    assert!(
        applied.contains("applied: change order.amount from integer to string"),
        "{applied}"
    );
    let (ok, again, _) = migrate(app.path(), &database, &["--dry-run"]);
    assert!(ok && again.contains("matches the schema files"), "{again}");
}
