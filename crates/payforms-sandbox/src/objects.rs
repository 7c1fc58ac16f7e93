//! The sandbox's in-memory objects: every Stripe object by id, who owns it
//! (the platform or a connected account, via `Stripe-Account`), and the
//! creation order that lists walk newest first.
//!
//! Objects are kept as Stripe's JSON, always a JSON object (the `Value`
//! indexing used by resources relies on that).

use std::collections::HashMap;

use serde_json::Value;

use super::api_error::ApiError;

#[derive(Clone)]
struct Stored {
    value: Value,
    /// `None` for the platform, `Some(acct_...)` for a connected account.
    owner: Option<String>,
}

/// How to undo one change, for rolling back a failed request.
enum Undo {
    Inserted(String),
    Replaced(String, Value),
    Removed {
        id: String,
        stored: Stored,
        position: usize,
    },
}

#[derive(Default)]
pub struct Objects {
    by_id: HashMap<String, Stored>,
    /// Ids per `object` type, oldest first.
    order: HashMap<String, Vec<String>>,
    /// Changes since `begin()`; `None` outside a transaction.
    journal: Option<Vec<Undo>>,
}

impl Objects {
    /// Start recording changes so a failed request can leave data as it was.
    pub fn begin(&mut self) {
        self.journal = Some(Vec::new());
    }

    /// Keep the changes made since `begin()`.
    pub fn commit(&mut self) {
        self.journal = None;
    }

    /// Undo every change made since `begin()`, newest first.
    pub fn rollback(&mut self) {
        let Some(journal) = self.journal.take() else {
            return;
        };
        for undo in journal.into_iter().rev() {
            match undo {
                Undo::Inserted(id) => {
                    if let Some(stored) = self.by_id.remove(&id) {
                        if let Some(ids) = stored.value["object"].as_str().and_then(|k| self.order.get_mut(k)) {
                            ids.retain(|x| *x != id);
                        }
                    }
                }
                Undo::Replaced(id, old) => {
                    if let Some(stored) = self.by_id.get_mut(&id) {
                        stored.value = old;
                    }
                }
                Undo::Removed { id, stored, position } => {
                    if let Some(kind) = stored.value["object"].as_str() {
                        let ids = self.order.entry(kind.to_string()).or_default();
                        ids.insert(position.min(ids.len()), id.clone());
                    }
                    self.by_id.insert(id, stored);
                }
            }
        }
    }

    fn record(&mut self, undo: Undo) {
        if let Some(journal) = &mut self.journal {
            journal.push(undo);
        }
    }

    /// Store a new object (its `id` and `object` members name it).
    pub fn insert(&mut self, owner: Option<&str>, value: Value) {
        let (Some(id), Some(kind)) = (value["id"].as_str(), value["object"].as_str()) else {
            return;
        };
        let (id, kind) = (id.to_string(), kind.to_string());
        if let Some(existing) = self.by_id.get(&id) {
            let old = existing.value.clone();
            self.record(Undo::Replaced(id.clone(), old));
        } else {
            self.order.entry(kind).or_default().push(id.clone());
            self.record(Undo::Inserted(id.clone()));
        }
        self.by_id.insert(
            id,
            Stored {
                value,
                owner: owner.map(str::to_string),
            },
        );
    }

    /// Replace an existing object, keeping its owner and place in lists.
    pub fn replace(&mut self, value: Value) {
        let Some(id) = value["id"].as_str().map(str::to_string) else {
            return;
        };
        if let Some(stored) = self.by_id.get_mut(&id) {
            let old = std::mem::replace(&mut stored.value, value);
            self.record(Undo::Replaced(id, old));
        }
    }

    /// Forget an object (deleted customers, detached sources).
    pub fn remove(&mut self, id: &str) {
        let Some(stored) = self.by_id.remove(id) else {
            return;
        };
        let mut position = 0;
        if let Some(ids) = stored.value["object"].as_str().and_then(|k| self.order.get_mut(k)) {
            position = ids.iter().position(|x| x == id).unwrap_or(ids.len());
            ids.retain(|x| x != id);
        }
        self.record(Undo::Removed {
            id: id.to_string(),
            stored,
            position,
        });
    }

    /// Any object with this id visible to `owner`.
    pub fn get(&self, owner: Option<&str>, id: &str) -> Option<&Value> {
        self.by_id
            .get(id)
            .filter(|s| s.owner.as_deref() == owner)
            .map(|s| &s.value)
    }

    /// The object regardless of owner (internal bookkeeping across accounts).
    pub fn get_any(&self, id: &str) -> Option<&Value> {
        self.by_id.get(id).map(|s| &s.value)
    }

    pub fn owner_of(&self, id: &str) -> Option<Option<&str>> {
        self.by_id.get(id).map(|s| s.owner.as_deref())
    }

    /// An object of one `object` type, or Stripe's 404 `No such <label>: 'id'`.
    pub fn fetch(
        &self,
        owner: Option<&str>,
        kind: &str,
        label: &str,
        id: &str,
        param: &str,
    ) -> Result<Value, ApiError> {
        match self.get(owner, id) {
            Some(v) if v["object"] == kind => Ok(v.clone()),
            _ => Err(ApiError::no_such(label, id, param)),
        }
    }

    /// All objects of one type visible to `owner`, newest first.
    pub fn newest_first<'a>(&'a self, owner: Option<&'a str>, kind: &str) -> impl Iterator<Item = &'a Value> + 'a {
        self.order
            .get(kind)
            .into_iter()
            .flat_map(|ids| ids.iter().rev())
            .filter_map(move |id| self.get(owner, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn owners_do_not_see_each_others_objects() {
        let mut objects = Objects::default();
        objects.insert(None, json!({"id": "cus_1", "object": "customer"}));
        objects.insert(Some("acct_1"), json!({"id": "cus_2", "object": "customer"}));
        assert!(objects.get(None, "cus_1").is_some());
        assert!(objects.get(None, "cus_2").is_none());
        assert!(objects.get(Some("acct_1"), "cus_2").is_some());
        assert_eq!(objects.owner_of("cus_2"), Some(Some("acct_1")));
        let err = objects.fetch(None, "customer", "customer", "cus_2", "id").unwrap_err();
        assert_eq!(err.message, "No such customer: 'cus_2'");
    }

    #[test]
    fn fetch_checks_the_object_type() {
        let mut objects = Objects::default();
        objects.insert(None, json!({"id": "pi_1", "object": "payment_intent"}));
        assert!(objects.fetch(None, "customer", "customer", "pi_1", "id").is_err());
        assert!(objects
            .fetch(None, "payment_intent", "payment_intent", "pi_1", "id")
            .is_ok());
    }

    #[test]
    fn lists_are_newest_first_and_skip_removed() {
        let mut objects = Objects::default();
        for i in 0..3 {
            objects.insert(None, json!({"id": format!("prod_{i}"), "object": "product"}));
        }
        objects.remove("prod_1");
        objects.replace(json!({"id": "prod_0", "object": "product", "name": "x"}));
        let ids: Vec<&str> = objects
            .newest_first(None, "product")
            .filter_map(|v| v["id"].as_str())
            .collect();
        assert_eq!(ids, vec!["prod_2", "prod_0"]);
        assert_eq!(objects.get(None, "prod_0").unwrap()["name"], "x");
        assert_eq!(objects.newest_first(None, "customer").count(), 0);
    }

    #[test]
    fn rollback_restores_inserts_replacements_and_removals() {
        let mut objects = Objects::default();
        objects.insert(None, json!({"id": "cus_1", "object": "customer", "name": "a"}));
        objects.insert(None, json!({"id": "cus_2", "object": "customer"}));
        objects.begin();
        objects.insert(None, json!({"id": "cus_3", "object": "customer"}));
        objects.replace(json!({"id": "cus_1", "object": "customer", "name": "b"}));
        objects.remove("cus_2");
        objects.rollback();
        let ids: Vec<&str> = objects
            .newest_first(None, "customer")
            .filter_map(|v| v["id"].as_str())
            .collect();
        assert_eq!(ids, vec!["cus_2", "cus_1"]);
        assert_eq!(objects.get(None, "cus_1").unwrap()["name"], "a");
        objects.begin();
        objects.insert(None, json!({"id": "cus_4", "object": "customer"}));
        objects.commit();
        objects.rollback();
        assert!(objects.get(None, "cus_4").is_some());
    }

    #[test]
    fn objects_without_id_are_ignored() {
        let mut objects = Objects::default();
        objects.insert(None, json!({"object": "customer"}));
        objects.insert(None, json!(null));
        assert_eq!(objects.newest_first(None, "customer").count(), 0);
    }
}
