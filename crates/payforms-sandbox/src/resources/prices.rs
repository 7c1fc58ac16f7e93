//! Prices: one-time or recurring (`recurring[interval]`,
//! `recurring[interval_count]`), per unit; create (with `product` or
//! `product_data`), retrieve, update, list by product.

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::endpoint::{get, post, ApiRoute, Call};
use super::super::ids;
use super::super::list::LIST_PARAMS;
use super::super::money;
use super::super::params::Params;
use super::super::state::State;
use super::{list_of, products, update_field};

pub const ROUTES: &[ApiRoute] = &[
    post("/prices", create),
    get("/prices", list),
    get("/prices/{id}", retrieve),
    post("/prices/{id}", update),
];

/// Maximum `interval_count` per interval: three years, as Stripe allows.
const MAX_COUNT: &[(&str, i64)] = &[("day", 1095), ("week", 156), ("month", 36), ("year", 3)];

pub fn fetch(state: &State, call: &Call, id: &str, param: &str) -> Result<Value, ApiError> {
    state.objects.fetch(call.owner(), "price", "price", id, param)
}

/// A price from `currency`, `unit_amount`, `recurring[...]` for `product`
/// (`price.created`). Shared by prices, products' `default_price_data`,
/// Checkout's and subscriptions' `price_data`.
pub fn from_params(state: &mut State, call: &Call, p: &Params, product: &str) -> Result<Value, ApiError> {
    let currency = money::required_currency(p, "currency")?;
    let unit_amount = match (p.amount("unit_amount")?, p.str("unit_amount_decimal")?) {
        (Some(a), _) => a,
        (None, Some(decimal)) => decimal
            .parse::<f64>()
            .ok()
            .filter(|d| d.fract() == 0.0 && *d >= 0.0)
            .map(|d| d as i64)
            .ok_or_else(|| {
                ApiError::invalid_param(
                    &p.full_name("unit_amount_decimal"),
                    "The payforms sandbox supports whole minor units only in unit_amount_decimal.",
                )
            })?,
        (None, None) => return Err(ApiError::missing_param(&p.full_name("unit_amount"))),
    };
    if unit_amount > money::MAX_AMOUNT {
        return Err(ApiError::invalid_param(
            &p.full_name("unit_amount"),
            "unit_amount is too large.",
        ));
    }
    let recurring = match p.hash("recurring")? {
        None => Value::Null,
        Some(r) => {
            r.allow(&[
                "interval",
                "interval_count",
                "usage_type",
                "aggregate_usage",
                "trial_period_days",
            ])?;
            let interval = r
                .choice("interval", &["day", "week", "month", "year"])?
                .ok_or_else(|| ApiError::missing_param(&r.full_name("interval")))?;
            let count = r.int("interval_count")?.unwrap_or(1);
            let max = MAX_COUNT
                .iter()
                .find(|(i, _)| *i == interval)
                .map(|(_, m)| *m)
                .unwrap_or(1);
            if count < 1 || count > max {
                return Err(ApiError::invalid_param(
                    &r.full_name("interval_count"),
                    "The maximum billing interval is three years (3 years, 36 months, 156 weeks or 1095 days).",
                ));
            }
            if let Some(usage) = r.str("usage_type")? {
                if usage != "licensed" {
                    return Err(ApiError::invalid_param(
                        &r.full_name("usage_type"),
                        "The payforms sandbox supports licensed prices only.",
                    ));
                }
            }
            json!({"aggregate_usage": null, "interval": interval, "interval_count": count, "meter": null, "trial_period_days": r.int("trial_period_days")?, "usage_type": "licensed"})
        }
    };
    let mut metadata = json!({});
    p.apply_metadata(&mut metadata)?;
    let price = json!({
        "id": ids::new_id("price_"),
        "object": "price",
        "active": true,
        "billing_scheme": "per_unit",
        "created": call.now,
        "currency": currency,
        "custom_unit_amount": null,
        "livemode": false,
        "lookup_key": null,
        "metadata": metadata,
        "nickname": null,
        "product": product,
        "recurring": recurring,
        "tax_behavior": p.choice("tax_behavior", &["exclusive", "inclusive", "unspecified"])?.unwrap_or_else(|| "unspecified".into()),
        "tiers_mode": null,
        "transform_quantity": null,
        "type": if recurring.is_null() { "one_time" } else { "recurring" },
        "unit_amount": unit_amount,
        "unit_amount_decimal": unit_amount.to_string()
    });
    state.objects.insert(call.owner(), price.clone());
    state.emit(call, "price.created", &price);
    Ok(price)
}

/// `product` (an id) or `product_data[name]` (a new product).
pub fn product_for(state: &mut State, call: &Call, p: &Params) -> Result<String, ApiError> {
    match (p.str("product")?, p.hash("product_data")?) {
        (Some(product), None) => {
            products::fetch(state, call, &product, &p.full_name("product"))?;
            Ok(product)
        }
        (None, Some(data)) => {
            data.allow(&[
                "name",
                "description",
                "metadata",
                "images",
                "statement_descriptor",
                "unit_label",
                "tax_code",
            ])?;
            let name = data.required_str("name")?;
            let mut product = products::make(state, call, None, &name)?;
            super::update_field(&data, &mut product, "description")?;
            data.apply_metadata(&mut product["metadata"])?;
            state.objects.replace(product.clone());
            Ok(product["id"].as_str().unwrap_or_default().to_string())
        }
        (Some(_), Some(_)) => Err(ApiError::invalid(
            "You may only specify one of these parameters: product, product_data.",
        )),
        (None, None) => Err(ApiError::missing_param(&p.full_name("product"))),
    }
}

fn create(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&[
        "currency",
        "unit_amount",
        "unit_amount_decimal",
        "product",
        "product_data",
        "recurring",
        "nickname",
        "lookup_key",
        "metadata",
        "active",
        "tax_behavior",
        "billing_scheme",
    ])?;
    if let Some(scheme) = p.str("billing_scheme")? {
        if scheme != "per_unit" {
            return Err(ApiError::invalid_param(
                "billing_scheme",
                "The payforms sandbox supports per_unit prices only.",
            ));
        }
    }
    let product = product_for(state, call, p)?;
    let mut price = from_params(state, call, p, &product)?;
    update_field(p, &mut price, "nickname")?;
    if let Some(key) = p.str("lookup_key")? {
        if state
            .objects
            .newest_first(call.owner(), "price")
            .any(|x| x["lookup_key"] == key.as_str())
        {
            return Err(ApiError::invalid_param(
                "lookup_key",
                format!("A price (`{key}`) already uses that lookup key."),
            ));
        }
        price["lookup_key"] = json!(key);
    }
    if let Some(active) = p.bool("active")? {
        price["active"] = json!(active);
    }
    state.objects.replace(price.clone());
    Ok(price)
}

fn retrieve(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    fetch(state, call, call.path("id"), "id")
}

fn update(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    p.allow(&["active", "nickname", "lookup_key", "metadata", "tax_behavior"])?;
    let before = fetch(state, call, call.path("id"), "id")?;
    let mut price = before.clone();
    if let Some(active) = p.bool("active")? {
        price["active"] = json!(active);
    }
    update_field(p, &mut price, "nickname")?;
    update_field(p, &mut price, "lookup_key")?;
    p.apply_metadata(&mut price["metadata"])?;
    if price != before {
        state.objects.replace(price.clone());
        state.emit_update(call, "price.updated", &before, &price);
    }
    Ok(price)
}

fn list(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.extend(["product", "active", "type", "currency", "lookup_keys", "recurring"]);
    let p = &call.params;
    p.allow(&allowed)?;
    let (product, kind, currency) = (
        p.str("product")?,
        p.choice("type", &["one_time", "recurring"])?,
        p.str("currency")?,
    );
    let active = p.bool("active")?;
    let keys = p.str_list("lookup_keys")?;
    let interval = match p.hash("recurring")? {
        Some(r) => {
            r.allow(&["interval", "usage_type", "meter"])?;
            r.str("interval")?
        }
        None => None,
    };
    list_of(state, call, "price", "price", "/v1/prices", |x| {
        super::matches_filter(x, "product", &product)
            && super::matches_filter(x, "type", &kind)
            && super::matches_filter(x, "currency", &currency)
            && active.map(|a| x["active"] == a).unwrap_or(true)
            && keys
                .as_ref()
                .map(|k| k.iter().any(|key| x["lookup_key"] == key.as_str()))
                .unwrap_or(true)
            && interval
                .as_ref()
                .map(|i| x["recurring"]["interval"] == i.as_str())
                .unwrap_or(true)
    })
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::TestApp;
    use serde_json::json;

    #[actix_web::test]
    async fn one_time_and_recurring_prices() {
        let app = TestApp::new().await;
        let product = app.post("/v1/products", "name=Plan").await.body["id"]
            .as_str()
            .unwrap()
            .to_string();
        let once = app
            .post(
                "/v1/prices",
                &format!("product={product}&currency=usd&unit_amount=1200"),
            )
            .await
            .body;
        assert!(once["id"].as_str().unwrap().starts_with("price_"));
        assert_eq!(once["type"], "one_time");
        assert_eq!(once["recurring"], json!(null));
        assert_eq!(once["unit_amount_decimal"], "1200");
        let monthly = app
            .post("/v1/prices", &format!("product={product}&currency=eur&unit_amount=999&recurring[interval]=month&recurring[interval_count]=3&nickname=Quarterly"))
            .await
            .body;
        assert_eq!(monthly["type"], "recurring");
        assert_eq!(monthly["recurring"]["interval_count"], 3);
        assert_eq!(monthly["nickname"], "Quarterly");
        let list = app.get(&format!("/v1/prices?product={product}")).await.body;
        assert_eq!(list["data"].as_array().unwrap().len(), 2);
        let recurring = app.get("/v1/prices?type=recurring").await.body;
        assert_eq!(recurring["data"].as_array().unwrap().len(), 1);
        let updated = app
            .post(
                &format!("/v1/prices/{}", once["id"].as_str().unwrap()),
                "active=false&metadata[a]=b",
            )
            .await
            .body;
        assert_eq!(updated["active"], false);
        assert_eq!(
            app.event_types().await.iter().filter(|t| *t == "price.created").count(),
            2
        );
    }

    #[actix_web::test]
    async fn product_data_and_validation() {
        let app = TestApp::new().await;
        let price = app
            .post("/v1/prices", "currency=usd&unit_amount=500&product_data[name]=Sticker")
            .await
            .body;
        let product = app
            .get(&format!("/v1/products/{}", price["product"].as_str().unwrap()))
            .await
            .body;
        assert_eq!(product["name"], "Sticker");
        assert_eq!(
            app.post("/v1/prices", "currency=usd&unit_amount=500").await.body["error"]["param"],
            "product"
        );
        assert_eq!(
            app.post("/v1/prices", "currency=usd&unit_amount=500&product=prod_nope")
                .await
                .status,
            404
        );
        let bad_interval = app
            .post(
                "/v1/prices",
                "currency=usd&unit_amount=5&product_data[name]=x&recurring[interval]=fortnight",
            )
            .await;
        assert_eq!(bad_interval.body["error"]["param"], "recurring[interval]");
        let too_long = app
            .post(
                "/v1/prices",
                "currency=usd&unit_amount=5&product_data[name]=x&recurring[interval]=year&recurring[interval_count]=4",
            )
            .await;
        assert_eq!(too_long.status, 400);
        assert_eq!(
            app.post("/v1/prices", "product_data[name]=x&unit_amount=5").await.body["error"]["param"],
            "currency"
        );
        // Failed creates left no stray products behind.
        assert_eq!(app.get("/v1/products").await.body["data"].as_array().unwrap().len(), 1);
    }
}
