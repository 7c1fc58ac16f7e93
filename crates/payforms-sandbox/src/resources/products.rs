//! Products: create (optionally with `default_price_data`), retrieve,
//! update, delete (only without prices, as Stripe), list.

use serde_json::{json, Value};

use super::super::api_error::ApiError;
use super::super::endpoint::{delete, get, post, ApiRoute, Call};
use super::super::ids;
use super::super::list::LIST_PARAMS;
use super::super::params::Params;
use super::super::state::State;
use super::{deleted, list_of, prices, update_field};

pub const ROUTES: &[ApiRoute] = &[
    post("/products", create),
    get("/products", list),
    get("/products/{id}", retrieve),
    post("/products/{id}", update),
    delete("/products/{id}", remove),
];

/// Store a new product (`product.created`); `id` may be chosen by the caller.
pub fn make(state: &mut State, call: &Call, id: Option<String>, name: &str) -> Result<Value, ApiError> {
    let id = id.unwrap_or_else(|| ids::new_id("prod_"));
    if state.objects.get_any(&id).is_some() {
        return Err(ApiError::invalid(format!("Product already exists: {id}"))
            .with_code("resource_already_exists")
            .with_param("id"));
    }
    let product = json!({
        "id": id,
        "object": "product",
        "active": true,
        "created": call.now,
        "default_price": null,
        "description": null,
        "images": [],
        "livemode": false,
        "marketing_features": [],
        "metadata": {},
        "name": name,
        "package_dimensions": null,
        "shippable": null,
        "statement_descriptor": null,
        "tax_code": null,
        "type": "service",
        "unit_label": null,
        "updated": call.now,
        "url": null
    });
    state.objects.insert(call.owner(), product.clone());
    state.emit(call, "product.created", &product);
    Ok(product)
}

pub fn fetch(state: &State, call: &Call, id: &str, param: &str) -> Result<Value, ApiError> {
    let product = state.objects.fetch(call.owner(), "product", "product", id, param)?;
    if product["deleted"] == true {
        return Err(ApiError::no_such("product", id, param));
    }
    Ok(product)
}

fn apply_fields(p: &Params, product: &mut Value) -> Result<(), ApiError> {
    for field in ["description", "statement_descriptor", "unit_label", "url", "tax_code"] {
        update_field(p, product, field)?;
    }
    if let Some(active) = p.bool("active")? {
        product["active"] = json!(active);
    }
    if let Some(shippable) = p.bool("shippable")? {
        product["shippable"] = json!(shippable);
    }
    if let Some(images) = p.str_list("images")? {
        product["images"] = json!(images);
    }
    p.apply_metadata(&mut product["metadata"])
}

const WRITABLE: &[&str] = &[
    "name",
    "description",
    "active",
    "metadata",
    "images",
    "statement_descriptor",
    "unit_label",
    "url",
    "tax_code",
    "shippable",
];

fn create(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    let mut allowed = WRITABLE.to_vec();
    allowed.extend(["id", "default_price_data", "type"]);
    p.allow(&allowed)?;
    let name = p.required_str("name")?;
    let mut product = make(state, call, p.str("id")?, &name)?;
    apply_fields(p, &mut product)?;
    state.objects.replace(product.clone());
    if let Some(data) = p.hash("default_price_data")? {
        data.allow(&[
            "currency",
            "unit_amount",
            "unit_amount_decimal",
            "recurring",
            "tax_behavior",
            "metadata",
        ])?;
        let price = prices::from_params(state, call, &data, product["id"].as_str().unwrap_or_default())?;
        product["default_price"] = price["id"].clone();
        state.objects.replace(product.clone());
    }
    Ok(product)
}

fn retrieve(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    state
        .objects
        .fetch(call.owner(), "product", "product", call.path("id"), "id")
}

fn update(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let p = &call.params;
    let mut allowed = WRITABLE.to_vec();
    allowed.push("default_price");
    p.allow(&allowed)?;
    let id = call.path("id").to_string();
    let before = fetch(state, call, &id, "id")?;
    let mut product = before.clone();
    if let Some(name) = p.update_str("name")? {
        product["name"] = json!(name.ok_or_else(|| ApiError::invalid_param("name", "A product must have a name."))?);
    }
    if let Some(default_price) = p.update_str("default_price")? {
        if let Some(price) = &default_price {
            let found = prices::fetch(state, call, price, "default_price")?;
            if found["product"] != id.as_str() {
                return Err(ApiError::invalid_param(
                    "default_price",
                    "The default price must belong to this product.",
                ));
            }
        }
        product["default_price"] = json!(default_price);
    }
    apply_fields(p, &mut product)?;
    if product != before {
        product["updated"] = json!(call.now);
        state.objects.replace(product.clone());
        state.emit_update(call, "product.updated", &before, &product);
    }
    Ok(product)
}

fn remove(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    call.params.allow(&[])?;
    let id = call.path("id").to_string();
    let product = fetch(state, call, &id, "id")?;
    if state
        .objects
        .newest_first(call.owner(), "price")
        .any(|p| p["product"] == id.as_str())
    {
        return Err(ApiError::invalid(
            "This product cannot be deleted because it has one or more user-created prices.",
        )
        .with_code("product_has_prices"));
    }
    state.objects.replace(deleted(&id, "product"));
    state.emit(call, "product.deleted", &product);
    Ok(deleted(&id, "product"))
}

fn list(state: &mut State, call: &Call) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.extend(["active", "ids", "shippable", "url"]);
    call.params.allow(&allowed)?;
    let active = call.params.bool("active")?;
    let wanted = call.params.str_list("ids")?;
    list_of(state, call, "product", "product", "/v1/products", |p| {
        active.map(|a| p["active"] == a).unwrap_or(true)
            && wanted
                .as_ref()
                .map(|ids| ids.iter().any(|i| p["id"] == i.as_str()))
                .unwrap_or(true)
    })
}

#[cfg(test)]
mod tests {
    use super::super::super::test_support::TestApp;
    use serde_json::json;

    #[actix_web::test]
    async fn create_update_list_delete() {
        let app = TestApp::new().await;
        let p = app
            .post(
                "/v1/products",
                "name=T-shirt+%F0%9F%91%95&description=Cotton&metadata[sku]=TS1",
            )
            .await;
        assert_eq!(p.status, 200, "{}", p.body);
        let p = p.body;
        assert!(p["id"].as_str().unwrap().starts_with("prod_"));
        assert_eq!(p["name"], "T-shirt 👕");
        assert_eq!(p["active"], true);
        let id = p["id"].as_str().unwrap();
        let u = app
            .post(&format!("/v1/products/{id}"), "active=false&description=")
            .await
            .body;
        assert_eq!(u["active"], false);
        assert_eq!(u["description"], json!(null));
        let active = app.get("/v1/products?active=true").await.body;
        assert_eq!(active["data"], json!([]));
        let gone = app.delete(&format!("/v1/products/{id}")).await.body;
        assert_eq!(gone["deleted"], true);
        assert_eq!(app.get("/v1/products").await.body["data"], json!([]));
        let types = app.event_types().await;
        assert_eq!(types, vec!["product.created", "product.updated", "product.deleted"]);
    }

    #[actix_web::test]
    async fn custom_ids_default_price_and_validation() {
        let app = TestApp::new().await;
        let p = app
            .post("/v1/products", "id=gold&name=Gold&default_price_data[currency]=usd&default_price_data[unit_amount]=900&default_price_data[recurring][interval]=month")
            .await
            .body;
        assert_eq!(p["id"], "gold");
        let price = app
            .get(&format!("/v1/prices/{}", p["default_price"].as_str().unwrap()))
            .await
            .body;
        assert_eq!(price["unit_amount"], 900);
        assert_eq!(price["product"], "gold");
        assert_eq!(price["recurring"]["interval"], "month");
        let dup = app.post("/v1/products", "id=gold&name=Again").await;
        assert_eq!(dup.status, 400);
        assert_eq!(dup.body["error"]["code"], "resource_already_exists");
        assert_eq!(
            app.post("/v1/products", "").await.body["error"]["message"],
            "Missing required param: name."
        );
        let with_prices = app.delete("/v1/products/gold").await;
        assert_eq!(with_prices.status, 400);
    }
}
