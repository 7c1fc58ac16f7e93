//! The Stripe resources the sandbox serves, one file per resource, each
//! exporting its `ROUTES`; and small helpers they share.

pub mod accounts;
pub mod balance;
pub mod charges;
pub mod checkout;
pub mod confirmation_tokens;
pub mod customers;
pub mod disputes;
pub mod events;
pub mod invoices;
pub mod payment_intents;
pub mod payment_methods;
pub mod payouts;
pub mod persons;
pub mod prices;
pub mod products;
pub mod refunds;
pub mod setup_intents;
pub mod sources;
pub mod subscriptions;
pub mod tokens;
pub mod transfers;
pub mod webhook_endpoints;

use serde_json::{json, Value};

use super::api_error::ApiError;
use super::endpoint::{ApiRoute, Call};
use super::list;
use super::params::Params;
use super::state::State;

/// Every API endpoint the sandbox serves.
pub fn all_routes() -> Vec<ApiRoute> {
    [
        customers::ROUTES,
        sources::ROUTES,
        payment_methods::ROUTES,
        tokens::ROUTES,
        confirmation_tokens::ROUTES,
        payment_intents::ROUTES,
        charges::ROUTES,
        refunds::ROUTES,
        disputes::ROUTES,
        setup_intents::ROUTES,
        checkout::ROUTES,
        products::ROUTES,
        prices::ROUTES,
        subscriptions::ROUTES,
        invoices::ROUTES,
        accounts::ROUTES,
        persons::ROUTES,
        transfers::ROUTES,
        payouts::ROUTES,
        balance::ROUTES,
        webhook_endpoints::ROUTES,
        events::ROUTES,
    ]
    .concat()
}

/// One page of the caller's objects of `kind` that pass `keep`.
pub fn list_of(
    state: &State,
    call: &Call,
    kind: &str,
    label: &str,
    url: &str,
    keep: impl Fn(&Value) -> bool,
) -> Result<Value, ApiError> {
    let items: Vec<Value> = state
        .objects
        .newest_first(call.owner(), kind)
        .filter(|v| v["deleted"] != true)
        .filter(|v| keep(v))
        .cloned()
        .collect();
    list::page(items, &call.params, url, label)
}

/// A filter from an optional query value: everything passes when absent.
pub fn matches_filter(value: &Value, field: &str, wanted: &Option<String>) -> bool {
    match wanted {
        None => true,
        Some(w) => value[field] == w.as_str(),
    }
}

/// Add `more`'s members to `object` (for objects too large for one `json!`).
pub fn extend(object: &mut Value, more: Value) {
    if let (Value::Object(target), Value::Object(extra)) = (object, more) {
        target.extend(extra);
    }
}

/// Stripe's answer to a DELETE.
pub fn deleted(id: &str, object: &str) -> Value {
    json!({"id": id, "object": object, "deleted": true})
}

/// An email as Stripe validates it: something@something, no spaces.
pub fn email(params: &Params, key: &str) -> Result<Option<String>, ApiError> {
    let Some(email) = params.str(key)? else {
        return Ok(None);
    };
    let valid = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@') && !email.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if valid {
        Ok(Some(email))
    } else {
        Err(
            ApiError::invalid_param(&params.full_name(key), format!("Invalid email address: {email}"))
                .with_code("email_invalid"),
        )
    }
}

/// Set `field` from an optional-string update parameter (empty unsets).
pub fn update_field(params: &Params, object: &mut Value, field: &str) -> Result<(), ApiError> {
    if let Some(value) = params.update_str(field)? {
        object[field] = json!(value);
    }
    Ok(())
}

/// Set a hash member from the parameter of the same name (empty unsets).
pub fn update_hash(params: &Params, object: &mut Value, field: &str) -> Result<(), ApiError> {
    if params.has(field) {
        object[field] = params.plain_hash(field)?.unwrap_or(Value::Null);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::form;
    use super::*;

    fn params(q: &str) -> Params {
        Params::new(form::decode(q).unwrap())
    }

    #[test]
    fn email_validation() {
        assert_eq!(
            email(&params("email=a%40b.co"), "email").unwrap().as_deref(),
            Some("a@b.co")
        );
        assert_eq!(
            email(&params("email=j%C3%BCrgen%40b%C3%BCcher.de"), "email")
                .unwrap()
                .as_deref(),
            Some("jürgen@bücher.de")
        );
        assert!(email(&params("email=nope"), "email").is_err());
        assert!(email(&params("email=a+b%40c"), "email").is_err());
        assert!(email(&params("email=%40c"), "email").is_err());
        assert_eq!(email(&params("email="), "email").unwrap(), None);
    }

    #[test]
    fn every_route_is_unique() {
        let routes = all_routes();
        for (i, a) in routes.iter().enumerate() {
            for b in &routes[i + 1..] {
                assert!(
                    !(a.path == b.path && a.verb == b.verb),
                    "duplicate route {} {}",
                    a.verb.as_str(),
                    a.path
                );
            }
        }
    }
}
