//! Persons of a connected account (`/v1/accounts/{id}/persons`): create,
//! retrieve, update, delete, list (filter by relationship). A person with
//! `relationship[representative]=true` counts toward enabling the account.

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::endpoint::{delete, get, post, ApiRoute, Call};
use super::super::ids;
use super::super::list::LIST_PARAMS;
use super::super::params::Params;
use super::super::state::State;
use super::{accounts, deleted, email};

pub const ROUTES: &[ApiRoute] = &[
    post("/accounts/{id}/persons", create),
    get("/accounts/{id}/persons", list),
    get("/accounts/{id}/persons/{person}", retrieve),
    post("/accounts/{id}/persons/{person}", update),
    delete("/accounts/{id}/persons/{person}", remove),
];

const RELATIONSHIPS: &[&str] = &["director", "executive", "owner", "representative", "legal_guardian"];

fn apply_fields(p: &Params, person: &mut Value) -> Result<(), ApiError> {
    for field in ["first_name", "last_name", "phone", "nationality"] {
        super::update_field(p, person, field)?;
    }
    if p.has("email") {
        person["email"] = json!(email(p, "email")?);
    }
    if let Some(dob) = p.hash("dob")? {
        dob.allow(&["day", "month", "year"])?;
        for field in ["day", "month", "year"] {
            if let Some(v) = dob.int(field)? {
                person["dob"][field] = json!(v);
            }
        }
    }
    super::update_hash(p, person, "address")?;
    if let Some(relationship) = p.hash("relationship")? {
        let mut allowed = RELATIONSHIPS.to_vec();
        allowed.extend(["title", "percent_ownership"]);
        relationship.allow(&allowed)?;
        for field in RELATIONSHIPS {
            if let Some(v) = relationship.bool(field)? {
                person["relationship"][*field] = json!(v);
            }
        }
        if let Some(title) = relationship.update_str("title")? {
            person["relationship"]["title"] = json!(title);
        }
        if let Some(percent) = relationship.str("percent_ownership")? {
            let value: f64 = percent
                .parse()
                .ok()
                .filter(|v: &f64| (0.0..=100.0).contains(v))
                .ok_or_else(|| {
                    ApiError::invalid_param(
                        &relationship.full_name("percent_ownership"),
                        "percent_ownership must be between 0 and 100.",
                    )
                })?;
            person["relationship"]["percent_ownership"] = json!(value);
        }
    }
    if p.has("id_number") {
        person["id_number_provided"] = json!(p.str("id_number")?.is_some());
    }
    if p.has("ssn_last_4") {
        person["ssn_last_4_provided"] = json!(p.str("ssn_last_4")?.is_some());
    }
    p.apply_metadata(&mut person["metadata"])
}

fn new_person(call: &Call, account: &str) -> Value {
    json!({
        "id": ids::new_id("person_"),
        "object": "person",
        "account": account,
        "address": null,
        "created": call.now,
        "dob": {"day": null, "month": null, "year": null},
        "email": null,
        "first_name": null,
        "id_number_provided": false,
        "last_name": null,
        "metadata": {},
        "nationality": null,
        "phone": null,
        "relationship": {"director": false, "executive": false, "legal_guardian": false, "owner": false, "percent_ownership": null, "representative": false, "title": null},
        "requirements": {"alternatives": [], "currently_due": [], "errors": [], "eventually_due": [], "past_due": [], "pending_verification": []},
        "ssn_last_4_provided": false,
        "verification": {"additional_document": null, "details": null, "details_code": null, "document": null, "status": "verified"}
    })
}

/// Store a person and re-evaluate the account (`person.created`, maybe `account.updated`).
fn store_new(state: &mut State, call: &Call, account_id: &str, person: Value) -> Result<Value, ApiError> {
    state.objects.insert(None, person.clone());
    state.emit_for(call, Some(account_id), "person.created", &person, None);
    let account = accounts::fetch(state, account_id, "account")?;
    accounts::refresh(state, call, &account, account.clone());
    Ok(person)
}

/// The onboarding page's representative, when none exists yet.
pub fn make_representative(state: &mut State, call: &Call, account_id: &str) -> Result<Value, ApiError> {
    let mut person = new_person(call, account_id);
    person["first_name"] = json!("Jenny");
    person["last_name"] = json!("Rosen");
    person["relationship"]["representative"] = json!(true);
    store_new(state, call, account_id, person)
}

fn create(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&[
        "first_name",
        "last_name",
        "email",
        "phone",
        "dob",
        "address",
        "relationship",
        "metadata",
        "id_number",
        "ssn_last_4",
        "nationality",
    ])?;
    let account = call.path("id").to_string();
    accounts::fetch(state, &account, "account")?;
    let mut person = new_person(call, &account);
    apply_fields(p, &mut person)?;
    store_new(state, call, &account, person)
}

fn owned(state: &State, call: &Call) -> Result<Value, ApiError> {
    let account = call.path("id");
    accounts::fetch(state, account, "account")?;
    let id = call.path("person");
    match state.objects.get(None, id) {
        Some(p) if p["object"] == "person" && p["account"] == account => Ok(p.clone()),
        _ => Err(ApiError::no_such("person", id, "person")),
    }
}

fn retrieve(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    owned(state, call)
}

fn update(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&[
        "first_name",
        "last_name",
        "email",
        "phone",
        "dob",
        "address",
        "relationship",
        "metadata",
        "id_number",
        "ssn_last_4",
        "nationality",
    ])?;
    let before = owned(state, call)?;
    let mut person = before.clone();
    apply_fields(p, &mut person)?;
    let account_id = call.path("id").to_string();
    if person != before {
        state.objects.replace(person.clone());
        state.emit_for(
            call,
            Some(&account_id),
            "person.updated",
            &person,
            Some(super::super::events::previous_attributes(&before, &person)),
        );
        let account = accounts::fetch(state, &account_id, "account")?;
        accounts::refresh(state, call, &account, account.clone());
    }
    Ok(person)
}

fn remove(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    let person = owned(state, call)?;
    let id = call.path("person").to_string();
    let account_id = call.path("id").to_string();
    state.objects.remove(&id);
    state.emit_for(call, Some(&account_id), "person.deleted", &person, None);
    let account = accounts::fetch(state, &account_id, "account")?;
    accounts::refresh(state, call, &account, account.clone());
    Ok(deleted(&id, "person"))
}

fn list(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.push("relationship");
    call.params.allow(&allowed)?;
    let account = call.path("id").to_string();
    accounts::fetch(state, &account, "account")?;
    let mut wanted: Vec<(&str, bool)> = Vec::new();
    if let Some(relationship) = call.params.hash("relationship")? {
        relationship.allow(RELATIONSHIPS)?;
        for field in RELATIONSHIPS {
            if let Some(v) = relationship.bool(field)? {
                wanted.push((field, v));
            }
        }
    }
    let items: Vec<Value> = state
        .objects
        .newest_first(None, "person")
        .filter(|p| p["account"] == account.as_str())
        .filter(|p| wanted.iter().all(|(field, v)| p["relationship"][*field] == *v))
        .cloned()
        .collect();
    super::super::list::page(
        items,
        &call.params,
        &format!("/v1/accounts/{account}/persons"),
        "person",
    )
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::TestApp;

    #[actix_web::test]
    async fn create_list_filter_update_delete() {
        let app = TestApp::new().await;
        let acct = app.post("/v1/accounts", "type=custom&business_type=company").await.body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let rep = app
            .post(&format!("/v1/accounts/{acct}/persons"), "first_name=Ren%C3%A9e&last_name=O%27Neil&email=r%40x.io&dob[day]=1&dob[month]=2&dob[year]=1980&relationship[representative]=true&relationship[percent_ownership]=51.5")
            .await;
        assert_eq!(rep.status, 200, "{}", rep.body);
        assert!(rep.body["id"].as_str().unwrap().starts_with("person_"));
        assert_eq!(rep.body["first_name"], "Renée");
        assert_eq!(rep.body["dob"]["year"], 1980);
        assert_eq!(rep.body["relationship"]["percent_ownership"], 51.5);
        app.post(
            &format!("/v1/accounts/{acct}/persons"),
            "first_name=Bo&relationship[director]=true",
        )
        .await;
        let all = app.get(&format!("/v1/accounts/{acct}/persons")).await.body;
        assert_eq!(all["data"].as_array().unwrap().len(), 2);
        assert_eq!(all["url"], format!("/v1/accounts/{acct}/persons"));
        let reps = app
            .get(&format!(
                "/v1/accounts/{acct}/persons?relationship[representative]=true"
            ))
            .await
            .body;
        assert_eq!(reps["data"].as_array().unwrap().len(), 1);
        let pid = rep.body["id"].as_str().unwrap();
        let updated = app
            .post(&format!("/v1/accounts/{acct}/persons/{pid}"), "phone=%2B15555550100")
            .await
            .body;
        assert_eq!(updated["phone"], "+15555550100");
        let gone = app.delete(&format!("/v1/accounts/{acct}/persons/{pid}")).await.body;
        assert_eq!(gone["deleted"], true);
        assert_eq!(app.get(&format!("/v1/accounts/{acct}/persons/{pid}")).await.status, 404);
        assert_eq!(app.get("/v1/accounts/acct_nope/persons").await.status, 404);
        assert_eq!(
            app.post(
                &format!("/v1/accounts/{acct}/persons"),
                "relationship[percent_ownership]=150"
            )
            .await
            .status,
            400
        );
    }
}
