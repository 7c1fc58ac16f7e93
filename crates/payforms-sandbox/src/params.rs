//! Typed access to decoded request parameters, with Stripe's validation
//! messages: unknown parameters, missing ones, integers and booleans that
//! arrive as strings, metadata limits.

use serde_json::{Map, Value};

use super::api_error::ApiError;

/// Parameters always accepted, whatever the endpoint.
const ALWAYS_ALLOWED: &[&str] = &["expand"];

/// A hash of parameters, and where it sits in the request (`card`,
/// `items[0]`), so error `param`s name the full bracket path.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    map: Map<String, Value>,
    prefix: String,
}

impl Params {
    pub fn new(map: Map<String, Value>) -> Params {
        Params {
            map,
            prefix: String::new(),
        }
    }

    fn nested(map: Map<String, Value>, prefix: String) -> Params {
        Params { map, prefix }
    }

    /// The full name of a member, e.g. `card[number]`.
    pub fn full_name(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}[{key}]", self.prefix)
        }
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.map
    }

    /// `None`: absent; `Some(true)`: sent as a hash; `Some(false)`: a value.
    pub fn raw_kind(&self, key: &str) -> Option<bool> {
        self.map.get(key).map(Value::is_object)
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// Reject any member not in `allowed` (Stripe: "Received unknown parameter").
    pub fn allow(&self, allowed: &[&str]) -> Result<(), ApiError> {
        for key in self.map.keys() {
            let top_level_extra = self.prefix.is_empty() && ALWAYS_ALLOWED.contains(&key.as_str());
            if !allowed.contains(&key.as_str()) && !top_level_extra {
                return Err(ApiError::unknown_param(&self.full_name(key)));
            }
        }
        Ok(())
    }

    /// A string member; `None` when absent or sent empty (Stripe's "unset").
    pub fn str(&self, key: &str) -> Result<Option<String>, ApiError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::invalid_param(
                &self.full_name(key),
                format!("Invalid string: {} is a hash or an array", self.full_name(key)),
            )),
        }
    }

    pub fn required_str(&self, key: &str) -> Result<String, ApiError> {
        self.str(key)?
            .ok_or_else(|| ApiError::missing_param(&self.full_name(key)))
    }

    /// For updates: `None` = not sent, `Some(None)` = sent empty (unset),
    /// `Some(Some(s))` = new value.
    pub fn update_str(&self, key: &str) -> Result<Option<Option<String>>, ApiError> {
        if !self.has(key) {
            return Ok(None);
        }
        Ok(Some(self.str(key)?))
    }

    /// A string that must be one of `choices`.
    pub fn choice(&self, key: &str, choices: &[&str]) -> Result<Option<String>, ApiError> {
        let Some(value) = self.str(key)? else {
            return Ok(None);
        };
        if choices.contains(&value.as_str()) {
            Ok(Some(value))
        } else {
            Err(ApiError::invalid_param(
                &self.full_name(key),
                format!(
                    "Invalid {}: must be one of {}",
                    self.full_name(key),
                    join_choices(choices)
                ),
            ))
        }
    }

    /// An integer member (sent as a string, as forms do).
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        let Some(text) = self.str(key)? else {
            return Ok(None);
        };
        text.trim().parse::<i64>().map(Some).map_err(|_| {
            ApiError::invalid(format!("Invalid integer: {text}"))
                .with_code("parameter_invalid_integer")
                .with_param(&self.full_name(key))
        })
    }

    pub fn required_int(&self, key: &str) -> Result<i64, ApiError> {
        self.int(key)?
            .ok_or_else(|| ApiError::missing_param(&self.full_name(key)))
    }

    /// A non-negative integer (amounts, quantities).
    pub fn amount(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.int(key)? {
            Some(n) if n < 0 => Err(ApiError::invalid_param(
                &self.full_name(key),
                "This value must be greater than or equal to 0.",
            )),
            other => Ok(other),
        }
    }

    /// `true`/`false` only, as Stripe accepts.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.str(key)?.as_deref() {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(ApiError::invalid(format!("Invalid boolean: {other}"))
                .with_code("parameter_invalid_boolean")
                .with_param(&self.full_name(key))),
        }
    }

    /// A nested hash (`card[...]`, `transfer_data[...]`). Sent empty means unset.
    pub fn hash(&self, key: &str) -> Result<Option<Params>, ApiError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Params::nested(map.clone(), self.full_name(key)))),
            Some(_) => Err(ApiError::invalid_param(
                &self.full_name(key),
                format!("Invalid hash: {} must be a hash", self.full_name(key)),
            )),
        }
    }

    /// An array of hashes (`items[0][price]`, `line_items[]`).
    pub fn hash_list(&self, key: &str) -> Result<Vec<Params>, ApiError> {
        match self.map.get(key) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Object(map) => Ok(Params::nested(map.clone(), format!("{}[{i}]", self.full_name(key)))),
                    _ => Err(ApiError::invalid_param(
                        &format!("{}[{i}]", self.full_name(key)),
                        format!("Invalid hash: {}[{i}] must be a hash", self.full_name(key)),
                    )),
                })
                .collect(),
            Some(_) => Err(invalid_array(&self.full_name(key))),
        }
    }

    /// An array of strings (`expand[]`, `enabled_events[]`).
    pub fn str_list(&self, key: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(Some(Vec::new())),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(invalid_array(&self.full_name(key))),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(invalid_array(&self.full_name(key))),
        }
    }

    /// Validate `metadata[...]` as Stripe does (50 keys, key <= 40 chars,
    /// value <= 500 chars) and apply it to `existing`: an empty value removes
    /// the key, `metadata=` (empty) clears everything.
    pub fn apply_metadata(&self, existing: &mut Value) -> Result<(), ApiError> {
        let Some(sent) = self.map.get("metadata") else {
            return Ok(());
        };
        let name = self.full_name("metadata");
        if !existing.is_object() {
            *existing = Value::Object(Map::new());
        }
        let Value::Object(target) = existing else {
            return Ok(());
        };
        match sent {
            Value::String(s) if s.is_empty() => target.clear(),
            Value::Object(pairs) => {
                for (key, value) in pairs {
                    let Value::String(value) = value else {
                        return Err(ApiError::invalid_param(
                            &format!("{name}[{key}]"),
                            "Metadata values must be strings.",
                        ));
                    };
                    if key.chars().count() > 40 {
                        return Err(ApiError::invalid_param(
                            &format!("{name}[{key}]"),
                            "Metadata keys can have up to 40 characters.",
                        ));
                    }
                    if value.chars().count() > 500 {
                        return Err(ApiError::invalid_param(
                            &format!("{name}[{key}]"),
                            "Metadata values can have up to 500 characters.",
                        ));
                    }
                    if value.is_empty() {
                        target.remove(key);
                    } else {
                        target.insert(key.clone(), Value::String(value.clone()));
                    }
                }
                if target.len() > 50 {
                    return Err(ApiError::invalid_param(&name, "Metadata can have up to 50 keys."));
                }
            }
            _ => {
                return Err(ApiError::invalid_param(
                    &name,
                    "Invalid hash: metadata must be a hash of strings",
                ))
            }
        }
        Ok(())
    }

    /// A hash copied as-is (addresses, billing details): strings and hashes only.
    pub fn plain_hash(&self, key: &str) -> Result<Option<Value>, ApiError> {
        Ok(self.hash(key)?.map(|p| Value::Object(p.map)))
    }
}

fn invalid_array(param: &str) -> ApiError {
    ApiError::invalid(format!("Invalid array: {param} must be an array"))
        .with_code("parameter_invalid")
        .with_param(param)
}

fn join_choices(choices: &[&str]) -> String {
    match choices {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{}, or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::form;
    use super::*;
    use serde_json::json;

    fn params(input: &str) -> Params {
        Params::new(form::decode(input).unwrap())
    }

    #[test]
    fn unknown_parameters_are_named_with_their_full_path() {
        let p = params("amount=1&amonut=2");
        let err = p.allow(&["amount"]).unwrap_err();
        assert_eq!(err.message, "Received unknown parameter: amonut");
        let card = params("card[numbr]=4242").hash("card").unwrap().unwrap();
        assert_eq!(
            card.allow(&["number"]).unwrap_err().param.as_deref(),
            Some("card[numbr]")
        );
        assert!(params("expand[]=customer").allow(&[]).is_ok());
    }

    #[test]
    fn integers_and_booleans_arrive_as_strings() {
        let p = params("amount=2000&bad=12a&capture=false&flag=yes");
        assert_eq!(p.int("amount").unwrap(), Some(2000));
        assert_eq!(p.int("missing").unwrap(), None);
        let err = p.int("bad").unwrap_err();
        assert_eq!(err.message, "Invalid integer: 12a");
        assert_eq!(err.param.as_deref(), Some("bad"));
        assert_eq!(p.bool("capture").unwrap(), Some(false));
        assert_eq!(p.bool("flag").unwrap_err().message, "Invalid boolean: yes");
        assert_eq!(
            p.required_int("nope").unwrap_err().message,
            "Missing required param: nope."
        );
    }

    #[test]
    fn negative_amounts_are_rejected() {
        assert!(params("amount=-5").amount("amount").is_err());
        assert_eq!(params("amount=0").amount("amount").unwrap(), Some(0));
    }

    #[test]
    fn nested_lists_carry_their_index_in_param_names() {
        let p = params("items[0][price]=p1&items[1][quantity]=x");
        let items = p.hash_list("items").unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].str("price").unwrap().as_deref(), Some("p1"));
        let err = items[1].int("quantity").unwrap_err();
        assert_eq!(err.param.as_deref(), Some("items[1][quantity]"));
        assert_eq!(
            items[1].required_str("price").unwrap_err().param.as_deref(),
            Some("items[1][price]")
        );
    }

    #[test]
    fn choices_list_the_allowed_values() {
        let err = params("capture_method=later")
            .choice("capture_method", &["automatic", "manual"])
            .unwrap_err();
        assert_eq!(
            err.message,
            "Invalid capture_method: must be one of automatic, or manual"
        );
    }

    #[test]
    fn metadata_merges_unsets_and_clears() {
        let mut existing = json!({"a": "1", "b": "2"});
        params("metadata[b]=&metadata[c]=3&metadata[ключ]=значение")
            .apply_metadata(&mut existing)
            .unwrap();
        assert_eq!(existing, json!({"a": "1", "c": "3", "ключ": "значение"}));
        params("metadata=").apply_metadata(&mut existing).unwrap();
        assert_eq!(existing, json!({}));
    }

    #[test]
    fn metadata_limits_are_enforced() {
        let mut existing = json!({});
        let long_key = "k".repeat(41);
        assert!(params(&format!("metadata[{long_key}]=v"))
            .apply_metadata(&mut existing)
            .is_err());
        let long_value = "v".repeat(501);
        assert!(params(&format!("metadata[k]={long_value}"))
            .apply_metadata(&mut existing)
            .is_err());
        let many: Vec<String> = (0..51).map(|i| format!("metadata[k{i}]=v")).collect();
        assert!(params(&many.join("&")).apply_metadata(&mut existing).is_err());
        assert!(params("metadata[a][b]=c").apply_metadata(&mut existing).is_err());
    }

    #[test]
    fn string_lists_accept_arrays_only() {
        assert_eq!(
            params("expand[]=a&expand[]=b").str_list("expand").unwrap(),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert!(params("expand=a").str_list("expand").is_err());
        assert_eq!(params("").str_list("expand").unwrap(), None);
    }

    #[test]
    fn empty_string_means_unset_for_updates() {
        let p = params("description=&name=Ann");
        assert_eq!(p.update_str("description").unwrap(), Some(None));
        assert_eq!(p.update_str("name").unwrap(), Some(Some("Ann".into())));
        assert_eq!(p.update_str("email").unwrap(), None);
    }
}
