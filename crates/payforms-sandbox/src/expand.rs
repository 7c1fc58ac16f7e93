//! `expand[]=customer`, `expand[]=latest_charge.balance_transaction`,
//! `expand[]=data.customer` (lists): replace ids with the objects they name.

use serde_json::Value;

use super::api_error::ApiError;
use super::objects::Objects;

/// Stripe's limit on expansion depth.
const MAX_DEPTH: usize = 4;

/// Check the shape of `expand` paths before anything executes.
pub fn validate(paths: &[String]) -> Result<(), ApiError> {
    for path in paths {
        let depth = path.split('.').count();
        if path.split('.').any(str::is_empty) {
            return Err(ApiError::invalid_param(
                "expand",
                format!("Invalid expand path: {path}"),
            ));
        }
        let list_prefix = usize::from(path.starts_with("data."));
        if depth - list_prefix > MAX_DEPTH {
            return Err(ApiError::invalid_param(
                "expand",
                format!("You cannot expand more than {MAX_DEPTH} levels of a property. Property: {path}"),
            ));
        }
    }
    Ok(())
}

/// Expand every path in `value`. Ids resolve among `owner`'s objects
/// (connected accounts resolve from the platform too).
pub fn apply(objects: &Objects, owner: Option<&str>, value: &mut Value, paths: &[String]) -> Result<(), ApiError> {
    for path in paths {
        let segments: Vec<&str> = path.split('.').collect();
        expand_path(objects, owner, value, &segments)?;
    }
    Ok(())
}

fn expand_path(objects: &Objects, owner: Option<&str>, value: &mut Value, segments: &[&str]) -> Result<(), ApiError> {
    let Some((first, rest)) = segments.split_first() else {
        return Ok(());
    };
    let cannot = || ApiError::invalid_param("expand", format!("This property cannot be expanded ({first})."));
    let Value::Object(map) = value else {
        return Err(cannot());
    };
    // `latest_invoice.confirmation_secret` and the like name members of the
    // current API versions: fill them in before looking.
    super::current::complete(objects, owner, map);
    let Some(target) = map.get_mut(*first) else {
        return Err(cannot());
    };
    match target {
        Value::Null => return Ok(()),
        Value::String(id) => {
            let resolved = objects
                .get(owner, id)
                .or_else(|| objects.get(None, id).filter(|v| v["object"] == "account"))
                .cloned()
                .ok_or_else(cannot)?;
            *target = resolved;
        }
        Value::Object(_) => {}
        Value::Array(items) => {
            for item in items.iter_mut() {
                if item.is_string() {
                    let Value::String(id) = &*item else { continue };
                    if let Some(resolved) = objects.get(owner, id).cloned() {
                        *item = resolved;
                    }
                }
                if !rest.is_empty() {
                    expand_path(objects, owner, item, rest)?;
                }
            }
            return Ok(());
        }
        _ => return Err(cannot()),
    }
    if rest.is_empty() {
        return Ok(());
    }
    expand_path(objects, owner, target, rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn objects() -> Objects {
        let mut o = Objects::default();
        o.insert(None, json!({"id": "cus_1", "object": "customer", "name": "Zoë"}));
        o.insert(
            None,
            json!({"id": "ch_1", "object": "charge", "customer": "cus_1", "balance_transaction": "txn_1"}),
        );
        o.insert(
            None,
            json!({"id": "txn_1", "object": "balance_transaction", "amount": 100}),
        );
        o.insert(None, json!({"id": "acct_1", "object": "account"}));
        o.insert(Some("acct_1"), json!({"id": "cus_2", "object": "customer"}));
        o
    }

    #[test]
    fn expands_nested_paths() {
        let mut pi = json!({"id": "pi_1", "latest_charge": "ch_1", "customer": null});
        apply(
            &objects(),
            None,
            &mut pi,
            &["latest_charge.balance_transaction".into(), "customer".into()],
        )
        .unwrap();
        assert_eq!(pi["latest_charge"]["balance_transaction"]["amount"], 100);
        assert_eq!(pi["latest_charge"]["customer"], "cus_1");
        assert_eq!(pi["customer"], json!(null));
    }

    #[test]
    fn expands_list_items_through_data() {
        let mut list = json!({"object": "list", "data": [{"customer": "cus_1"}, {"customer": null}]});
        apply(&objects(), None, &mut list, &["data.customer".into()]).unwrap();
        assert_eq!(list["data"][0]["customer"]["name"], "Zoë");
    }

    #[test]
    fn unknown_or_scalar_properties_cannot_be_expanded() {
        let mut pi = json!({"amount": 100, "customer": "cus_missing"});
        let err = apply(&objects(), None, &mut pi, &["amount".into()]).unwrap_err();
        assert_eq!(err.message, "This property cannot be expanded (amount).");
        assert!(apply(&objects(), None, &mut pi, &["nope".into()]).is_err());
        assert!(apply(&objects(), None, &mut pi, &["customer".into()]).is_err());
    }

    #[test]
    fn owners_are_respected_but_accounts_resolve_from_the_platform() {
        let mut charge = json!({"customer": "cus_2", "destination": "acct_1"});
        assert!(apply(&objects(), None, &mut charge.clone(), &["customer".into()]).is_err());
        apply(
            &objects(),
            Some("acct_1"),
            &mut charge,
            &["customer".into(), "destination".into()],
        )
        .unwrap();
        assert_eq!(charge["customer"]["id"], "cus_2");
        assert_eq!(charge["destination"]["object"], "account");
    }

    #[test]
    fn path_shape_is_validated() {
        assert!(validate(&["a.b.c.d".into()]).is_ok());
        assert!(validate(&["data.a.b.c.d".into()]).is_ok());
        assert!(validate(&["a.b.c.d.e".into()]).is_err());
        assert!(validate(&["a..b".into()]).is_err());
        assert!(validate(&[]).is_ok());
    }
}
