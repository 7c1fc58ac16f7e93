//! Connected accounts (custom, express, standard): create, retrieve,
//! update, delete, list; account links to a hosted onboarding page.
//!
//! The sandbox's enablement rule (Stripe's real rules are far richer): an
//! account's requirements are `tos_acceptance.date` and a representative —
//! `individual.first_name`/`last_name` for `business_type=individual`,
//! otherwise a person with `relationship[representative]=true` (and
//! `business_type` itself). While any is missing, `charges_enabled` and
//! `payouts_enabled` are false and requested capabilities are `inactive`;
//! once all are met they become true/`active` and a test bank account is
//! added. Every change of that state sends `account.updated`.

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::endpoint::{delete, get, post, ApiRoute, Call};
use super::super::ids;
use super::super::list::{self, LIST_PARAMS};
use super::super::params::Params;
use super::super::state::State;
use super::{deleted, email, list_of};

pub const ROUTES: &[ApiRoute] = &[
    post("/accounts", create),
    get("/accounts", list),
    get("/accounts/{id}", retrieve),
    post("/accounts/{id}", update),
    delete("/accounts/{id}", remove),
    post("/account_links", create_link),
];

const CAPABILITIES: &[&str] = &[
    "card_payments",
    "transfers",
    "tax_reporting_us_1099_k",
    "us_bank_account_ach_payments",
];

/// A connected account of the platform, or Stripe's 404.
pub fn fetch(state: &State, id: &str, param: &str) -> Result<Value, ApiError> {
    match state.objects.get(None, id) {
        Some(a) if a["object"] == "account" => Ok(a.clone()),
        _ => Err(ApiError::no_such("account", id, param)),
    }
}

fn person_shape() -> Value {
    json!({"first_name": null, "last_name": null, "email": null, "phone": null, "dob": {"day": null, "month": null, "year": null}, "address": null})
}

/// What is still missing under the sandbox's rule.
fn missing_requirements(state: &State, account: &Value) -> Vec<&'static str> {
    let mut due = Vec::new();
    if account["tos_acceptance"]["date"].is_null() {
        due.extend(["tos_acceptance.date", "tos_acceptance.ip"]);
    }
    match account["business_type"].as_str() {
        Some("individual") => {
            if account["individual"]["first_name"].is_null() {
                due.push("individual.first_name");
            }
            if account["individual"]["last_name"].is_null() {
                due.push("individual.last_name");
            }
        }
        other => {
            if other.is_none() {
                due.push("business_type");
            }
            let id = account["id"].as_str().unwrap_or_default();
            let has_representative = state.objects.newest_first(None, "person").any(|p| {
                p["account"] == id
                    && p["relationship"]["representative"] == true
                    && !p["first_name"].is_null()
                    && !p["last_name"].is_null()
            });
            if !has_representative {
                due.extend(["representative.first_name", "representative.last_name"]);
            }
        }
    }
    due
}

/// Recompute requirements and enablement; store the account and send
/// `account.updated` if anything changed since `before`.
pub fn refresh(state: &mut State, call: &Call, before: &Value, mut account: Value) -> Value {
    let due = missing_requirements(state, &account);
    let enabled = due.is_empty();
    account["requirements"]["currently_due"] = json!(due);
    account["requirements"]["eventually_due"] = json!(due);
    account["requirements"]["past_due"] = json!(due);
    account["requirements"]["disabled_reason"] = if enabled {
        Value::Null
    } else {
        json!("requirements.past_due")
    };
    account["charges_enabled"] = json!(enabled);
    account["payouts_enabled"] = json!(enabled);
    account["details_submitted"] = json!(enabled);
    if let Some(capabilities) = account["capabilities"].as_object_mut() {
        for value in capabilities.values_mut() {
            *value = json!(if enabled { "active" } else { "inactive" });
        }
    }
    let id = account["id"].as_str().unwrap_or_default().to_string();
    if enabled
        && account["external_accounts"]["data"]
            .as_array()
            .map(|d| d.is_empty())
            .unwrap_or(true)
    {
        let bank = bank_account(&account, "6789");
        account["external_accounts"]["data"] = json!([bank]);
    }
    state.objects.replace(account.clone());
    if &account != before && !before.is_null() {
        state.emit_for(
            call,
            Some(&id),
            "account.updated",
            &account,
            Some(super::super::events::previous_attributes(before, &account)),
        );
    }
    account
}

/// A test bank account (`ba_`) paid out to.
fn bank_account(account: &Value, last4: &str) -> Value {
    let id = account["id"].as_str().unwrap_or_default();
    json!({
        "id": ids::new_id("ba_"),
        "object": "bank_account",
        "account": id,
        "account_holder_name": null,
        "account_holder_type": null,
        "bank_name": "STRIPE TEST BANK",
        "country": account["country"],
        "currency": account["default_currency"],
        "default_for_currency": true,
        "fingerprint": ids::fingerprint(&format!("{id}{last4}")),
        "last4": last4,
        "metadata": {},
        "routing_number": "110000000",
        "status": "new"
    })
}

/// `external_account`: a token (`btok_`, `tok_`) or Stripe's bank account
/// hash. Test mode needs no real bank: it becomes the default test account.
fn add_external_account(p: &Params, account: &mut Value) -> Result<(), ApiError> {
    let last4 = match p.raw_kind("external_account") {
        None => return Ok(()),
        Some(false) => {
            p.required_str("external_account")?;
            "6789".to_string()
        }
        Some(true) => {
            let bank = p.hash("external_account")?.unwrap_or_default();
            bank.allow(&[
                "object",
                "country",
                "currency",
                "account_number",
                "routing_number",
                "account_holder_name",
                "account_holder_type",
                "default_for_currency",
            ])?;
            let number = bank.required_str("account_number")?;
            number
                .chars()
                .rev()
                .take(4)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect()
        }
    };
    let bank = bank_account(account, &last4);
    account["external_accounts"]["data"] = json!([bank]);
    Ok(())
}

fn apply_fields(p: &Params, account: &mut Value) -> Result<(), ApiError> {
    if p.has("email") {
        account["email"] = json!(email(p, "email")?);
    }
    if let Some(kind) = p.choice(
        "business_type",
        &["individual", "company", "non_profit", "government_entity"],
    )? {
        account["business_type"] = json!(kind);
    }
    if let Some(currency) = super::super::money::currency(p, "default_currency")? {
        account["default_currency"] = json!(currency);
    }
    if let Some(profile) = p.hash("business_profile")? {
        profile.allow(&[
            "mcc",
            "name",
            "product_description",
            "support_email",
            "support_phone",
            "support_url",
            "url",
            "annual_revenue",
            "estimated_worker_count",
            "monthly_estimated_revenue",
            "support_address",
        ])?;
        for (k, v) in profile.as_map() {
            account["business_profile"][k] = v.clone();
        }
    }
    if let Some(tos) = p.hash("tos_acceptance")? {
        tos.allow(&["date", "ip", "user_agent", "service_agreement"])?;
        if let Some(date) = tos.int("date")? {
            account["tos_acceptance"]["date"] = json!(date);
        }
        for field in ["ip", "user_agent", "service_agreement"] {
            if let Some(v) = tos.str(field)? {
                account["tos_acceptance"][field] = json!(v);
            }
        }
    }
    if let Some(individual) = p.hash("individual")? {
        individual.allow(&[
            "first_name",
            "last_name",
            "email",
            "phone",
            "dob",
            "address",
            "id_number",
            "ssn_last_4",
            "metadata",
        ])?;
        if account["individual"].is_null() {
            let mut person = person_shape();
            person["id"] = json!(ids::new_id("person_"));
            person["object"] = json!("person");
            person["account"] = account["id"].clone();
            account["individual"] = person;
        }
        for field in ["first_name", "last_name", "email", "phone"] {
            if let Some(v) = individual.update_str(field)? {
                account["individual"][field] = json!(v);
            }
        }
        if let Some(dob) = individual.hash("dob")? {
            dob.allow(&["day", "month", "year"])?;
            for field in ["day", "month", "year"] {
                if let Some(v) = dob.int(field)? {
                    account["individual"]["dob"][field] = json!(v);
                }
            }
        }
        if let Some(address) = individual.plain_hash("address")? {
            account["individual"]["address"] = address;
        }
    }
    if let Some(company) = p.plain_hash("company")? {
        account["company"] = company;
    }
    if let Some(capabilities) = p.hash("capabilities")? {
        for name in capabilities.as_map().keys() {
            if !CAPABILITIES.contains(&name.as_str()) {
                return Err(ApiError::unknown_param(&capabilities.full_name(name)));
            }
            let requested = capabilities
                .hash(name)?
                .map(|c| c.bool("requested"))
                .transpose()?
                .flatten()
                .unwrap_or(false);
            if requested {
                account["capabilities"][name] = json!("inactive");
            } else if let Some(map) = account["capabilities"].as_object_mut() {
                map.remove(name);
            }
        }
    }
    if let Some(settings) = p.plain_hash("settings")? {
        account["settings"] = settings;
    }
    p.apply_metadata(&mut account["metadata"])
}

const WRITABLE: &[&str] = &[
    "email",
    "business_type",
    "business_profile",
    "capabilities",
    "company",
    "individual",
    "tos_acceptance",
    "metadata",
    "default_currency",
    "settings",
    "external_account",
];

fn create(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    let mut allowed = WRITABLE.to_vec();
    allowed.extend(["type", "country", "controller"]);
    p.allow(&allowed)?;
    if call.owner().is_some() {
        return Err(ApiError::invalid("Connected accounts cannot create accounts.").with_status(403));
    }
    let kind = match (
        p.choice("type", &["custom", "express", "standard"])?,
        p.hash("controller")?,
    ) {
        (Some(kind), _) => kind,
        (None, Some(_)) => "custom".to_string(),
        (None, None) => return Err(ApiError::missing_param("type")),
    };
    let country = p.str("country")?.unwrap_or_else(|| "US".into()).to_ascii_uppercase();
    if country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(ApiError::invalid_param(
            "country",
            format!("Invalid country: {country}"),
        ));
    }
    let id = ids::account_id();
    let mut account = json!({
        "id": id,
        "object": "account",
        "business_profile": {"mcc": null, "name": null, "product_description": null, "support_email": null, "support_phone": null, "support_url": null, "url": null},
        "business_type": null,
        "capabilities": {},
        "charges_enabled": false,
        "controller": {"type": "application", "is_controller": true},
        "country": country,
        "created": call.now,
        "default_currency": "usd",
        "details_submitted": false,
        "email": null,
        "external_accounts": list::envelope(Vec::new(), false, &format!("/v1/accounts/{id}/external_accounts")),
        "future_requirements": {"alternatives": [], "current_deadline": null, "currently_due": [], "disabled_reason": null, "errors": [], "eventually_due": [], "past_due": [], "pending_verification": []},
        "individual": null,
        "metadata": {},
        "payouts_enabled": false,
        "requirements": {"alternatives": [], "current_deadline": null, "currently_due": [], "disabled_reason": null, "errors": [], "eventually_due": [], "past_due": [], "pending_verification": []},
        "settings": {"payouts": {"debit_negative_balances": true, "schedule": {"delay_days": 2, "interval": "daily"}, "statement_descriptor": null}},
        "tos_acceptance": {"date": null, "ip": null, "user_agent": null},
        "type": kind
    });
    if !p.has("capabilities") {
        // Stripe requests these by default for express and standard accounts.
        account["capabilities"] = json!({"card_payments": "inactive", "transfers": "inactive"});
    }
    apply_fields(p, &mut account)?;
    add_external_account(p, &mut account)?;
    state.objects.insert(None, account.clone());
    Ok(refresh(state, call, &Value::Null, account))
}

fn retrieve(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    fetch(state, call.path("id"), "account")
}

fn update(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(WRITABLE)?;
    let before = fetch(state, call.path("id"), "account")?;
    let mut account = before.clone();
    apply_fields(p, &mut account)?;
    add_external_account(p, &mut account)?;
    Ok(refresh(state, call, &before, account))
}

fn remove(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    let id = call.path("id").to_string();
    fetch(state, &id, "account")?;
    state.objects.remove(&id);
    Ok(deleted(&id, "account"))
}

fn list(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(LIST_PARAMS)?;
    list_of(state, call, "account", "account", "/v1/accounts", |_| true)
}

fn create_link(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&[
        "account",
        "refresh_url",
        "return_url",
        "type",
        "collect",
        "collection_options",
    ])?;
    let account = p.required_str("account")?;
    fetch(state, &account, "account")?;
    p.choice("type", &["account_onboarding", "account_update"])?
        .ok_or_else(|| ApiError::missing_param("type"))?;
    let return_url = p.required_str("return_url")?;
    state.onboarding_return.insert(account.clone(), return_url);
    Ok(json!({
        "object": "account_link",
        "created": call.now,
        "expires_at": call.now + 300,
        "url": format!("{}/connect/onboard/{account}", call.base_url)
    }))
}

/// The hosted onboarding page's "complete" button: accept the terms and
/// fill in the representative, so the account becomes enabled.
pub fn complete_onboarding(state: &mut State, call: &Call, id: &str) -> Result<Value, ApiError> {
    let before = fetch(state, id, "account")?;
    let mut account = before.clone();
    if account["tos_acceptance"]["date"].is_null() {
        account["tos_acceptance"] =
            json!({"date": call.now, "ip": "127.0.0.1", "user_agent": "payforms sandbox onboarding"});
    }
    if account["business_type"].is_null() {
        account["business_type"] = json!("individual");
    }
    if account["business_type"] == "individual" {
        if account["individual"].is_null() {
            let mut person = person_shape();
            person["id"] = json!(ids::new_id("person_"));
            person["object"] = json!("person");
            person["account"] = json!(id);
            account["individual"] = person;
        }
        for (field, value) in [("first_name", "Jenny"), ("last_name", "Rosen")] {
            if account["individual"][field].is_null() {
                account["individual"][field] = json!(value);
            }
        }
    } else if !missing_requirements(state, &account).is_empty() {
        super::persons::make_representative(state, call, id)?;
    }
    Ok(refresh(state, call, &before, account))
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::TestApp;
    use serde_json::json;

    #[actix_web::test]
    async fn account_is_enabled_by_tos_and_representative() {
        let app = TestApp::new().await;
        let a = app
            .post("/v1/accounts", "type=custom&country=US&email=shop%40x.io&business_type=company&capabilities[card_payments][requested]=true&capabilities[transfers][requested]=true&metadata[seller]=7")
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        let a = a.body;
        assert!(a["id"].as_str().unwrap().starts_with("acct_"));
        assert_eq!(a["type"], "custom");
        assert_eq!(a["charges_enabled"], false);
        assert_eq!(
            a["capabilities"],
            json!({"card_payments": "inactive", "transfers": "inactive"})
        );
        assert!(a["requirements"]["currently_due"]
            .as_array()
            .unwrap()
            .contains(&json!("tos_acceptance.date")));
        let id = a["id"].as_str().unwrap();
        let tos = app
            .post(
                &format!("/v1/accounts/{id}"),
                "tos_acceptance[date]=1700000000&tos_acceptance[ip]=127.0.0.1",
            )
            .await
            .body;
        assert_eq!(tos["charges_enabled"], false);
        assert_eq!(
            tos["requirements"]["currently_due"],
            json!(["representative.first_name", "representative.last_name"])
        );
        let person = app
            .post(
                &format!("/v1/accounts/{id}/persons"),
                "first_name=Jane&last_name=Doe&relationship[representative]=true&relationship[title]=CEO",
            )
            .await;
        assert_eq!(person.status, 200, "{}", person.body);
        let enabled = app.get(&format!("/v1/accounts/{id}")).await.body;
        assert_eq!(enabled["charges_enabled"], true);
        assert_eq!(enabled["payouts_enabled"], true);
        assert_eq!(enabled["capabilities"]["transfers"], "active");
        assert_eq!(enabled["requirements"]["currently_due"], json!([]));
        assert_eq!(enabled["external_accounts"]["data"][0]["object"], "bank_account");
        let events = app.get("/v1/events?type=account.updated").await.body;
        assert_eq!(
            events["data"].as_array().unwrap().len(),
            0,
            "account events belong to the account"
        );
        let connect_events = app.get_as(id, "/v1/events?type=account.updated").await.body;
        assert!(connect_events["data"].as_array().unwrap().len() >= 2);
        assert_eq!(connect_events["data"][0]["account"], id);
    }

    #[actix_web::test]
    async fn individual_express_and_delete() {
        let app = TestApp::new().await;
        let a = app
            .post("/v1/accounts", "type=express&business_type=individual&individual[first_name]=Ann&individual[last_name]=Lee&tos_acceptance[date]=1700000000")
            .await
            .body;
        assert_eq!(a["charges_enabled"], true);
        assert_eq!(a["individual"]["first_name"], "Ann");
        let id = a["id"].as_str().unwrap();
        assert_eq!(app.get("/v1/accounts").await.body["data"].as_array().unwrap().len(), 1);
        let gone = app.delete(&format!("/v1/accounts/{id}")).await.body;
        assert_eq!(gone["deleted"], true);
        assert_eq!(app.get(&format!("/v1/accounts/{id}")).await.status, 404);
        assert_eq!(
            app.post("/v1/accounts", "country=US").await.body["error"]["param"],
            "type"
        );
        assert_eq!(app.post("/v1/accounts", "type=platform").await.status, 400);
        assert_eq!(
            app.post("/v1/accounts", "type=custom&capabilities[teleport][requested]=true")
                .await
                .status,
            400
        );
    }

    #[actix_web::test]
    async fn external_accounts_from_tokens_or_bank_details() {
        let app = TestApp::new().await;
        let a = app
            .post("/v1/accounts", "type=custom&external_account=btok_us_verified")
            .await
            .body;
        assert_eq!(a["external_accounts"]["data"][0]["last4"], "6789");
        let id = a["id"].as_str().unwrap();
        let updated = app
            .post(&format!("/v1/accounts/{id}"), "external_account[object]=bank_account&external_account[country]=US&external_account[currency]=usd&external_account[account_number]=000123456789&external_account[routing_number]=110000000")
            .await
            .body;
        assert_eq!(updated["external_accounts"]["data"][0]["last4"], "6789");
        assert_eq!(updated["external_accounts"]["data"].as_array().unwrap().len(), 1);
        let missing = app
            .post(&format!("/v1/accounts/{id}"), "external_account[object]=bank_account")
            .await;
        assert_eq!(missing.body["error"]["param"], "external_account[account_number]");
    }

    #[actix_web::test]
    async fn account_links_lead_to_onboarding() {
        let app = TestApp::new().await;
        let a = app.post("/v1/accounts", "type=express").await.body;
        let link = app
            .post("/v1/account_links", &format!("account={}&type=account_onboarding&return_url=https%3A%2F%2Fshop.test%2Fback&refresh_url=https%3A%2F%2Fshop.test%2Fretry", a["id"].as_str().unwrap()))
            .await
            .body;
        assert_eq!(link["object"], "account_link");
        assert!(link["url"]
            .as_str()
            .unwrap()
            .contains(&format!("/connect/onboard/{}", a["id"].as_str().unwrap())));
        assert_eq!(
            app.post(
                "/v1/account_links",
                "account=acct_nope&type=account_onboarding&return_url=x"
            )
            .await
            .status,
            404
        );
    }

    #[actix_web::test]
    async fn stripe_account_header_scopes_objects() {
        let app = TestApp::new().await;
        let acct = app.enabled_account().await;
        let c = app.post_as(&acct, "/v1/customers", "email=c%40x.io").await;
        assert_eq!(c.status, 200, "{}", c.body);
        let id = c.body["id"].as_str().unwrap();
        assert_eq!(app.get(&format!("/v1/customers/{id}")).await.status, 404);
        assert_eq!(app.get_as(&acct, &format!("/v1/customers/{id}")).await.status, 200);
        let bad = app.get_as("acct_nope", "/v1/customers").await;
        assert_eq!(bad.status, 403);
        assert_eq!(bad.body["error"]["code"], "account_invalid");
    }
}
