//! Where a `stripe_…` answer comes from: the local records when webhooks
//! keep them current, Stripe otherwise; and sending a mutation's request
//! type as the caller's merchant.

use std::sync::Arc;

use async_graphql::dynamic::ResolverContext;
use async_graphql::Error;
use serde_json::{json, Map, Value};

use super::errors::{bad_input, failure_error, internal, is_not_found, mapper_error, not_found};
use super::inputs::{check_status, gateway_id, idempotency_key, optional_text};
use super::views::{self, Kind};
use super::{StripeApi, BAD_USER_INPUT, DEFAULT_FIRST, MAX_FIRST};
use crate::config::StripeReads;
use crate::db::models::record::Record;
use crate::db::query::{cursor_of, Filter, FilterOp, Order, RecordQuery};
use crate::db::Store;
use crate::gateway::{Caller, DispatchOutcome, Tenant};
use crate::graphql::errors::coded;

impl StripeApi {
    fn tenant<'a>(&self, ctx: &'a ResolverContext<'_>, default: &'a Tenant) -> &'a Tenant {
        ctx.data_opt::<crate::graphql::ForTenant>()
            .map_or(default, |t| &t.tenant)
    }

    fn store<'a>(&'a self, ctx: &'a ResolverContext<'_>) -> &'a Store {
        crate::graphql::store_for(ctx, &self.store)
    }

    /// Whether the local records are current: webhooks keep them so when
    /// Stripe's events reach this environment (a signing secret is set),
    /// and always in a merchant's webhook processor (its events arrive).
    fn records_are_current(&self, ctx: &ResolverContext<'_>) -> bool {
        let Some(settings) = &self.sender.settings else {
            return false;
        };
        match settings.stripe_reads {
            StripeReads::Stripe => false,
            StripeReads::Auto => {
                ctx.data_opt::<crate::graphql::ForTenant>().is_some() || !settings.stripe_webhook_secrets().is_empty()
            }
        }
    }

    fn model(&self, kind: Kind) -> Result<Arc<crate::db::schema::ModelType>, Error> {
        self.sender.app.model_type(kind.model()).cloned().ok_or_else(|| {
            coded(
                "INTERNAL_SERVER_ERROR",
                format!("the app has no `{}` model", kind.model()),
            )
        })
    }

    /// The local record of the Stripe object `id`, if there is one.
    pub(super) fn local_record(
        &self,
        ctx: &ResolverContext<'_>,
        kind: Kind,
        id: &str,
    ) -> Result<Option<Record>, Error> {
        let model = self.model(kind)?;
        let mut matching = Map::new();
        matching.insert("gateway_id".into(), json!(id));
        self.store(ctx).find_record(&model, &matching).map_err(internal)
    }

    /// One object by its Stripe id: the record when current, else Stripe.
    pub(super) fn get(&self, ctx: &ResolverContext<'_>, kind: Kind, id: &str) -> Result<Value, Error> {
        if self.records_are_current(ctx) {
            if let Some(record) = self.local_record(ctx, kind, id)? {
                let property = |name: &str| record.properties.get(name).cloned().unwrap_or(Value::Null);
                match kind {
                    Kind::Customer if property("deleted") == json!(true) => return Err(not_found(kind)),
                    // A charge made without a PaymentIntent is a payment
                    // record too, but not an intent (Stripe says not found).
                    Kind::PaymentIntent if property("kind") != json!("payment_intent") => {}
                    _ => return Ok(views::from_record(kind, &record)),
                }
            }
        }
        let request_type = match kind {
            Kind::Customer => "get_customer",
            Kind::PaymentIntent => "get_payment_intent",
            Kind::Subscription => "get_subscription",
            Kind::Invoice => "get_invoice",
            _ => return Err(not_found(kind)),
        };
        let outcome = self.dispatch(ctx, kind, request_type, gateway_id(id))?;
        let body = outcome.response.as_ref().map_or(&Value::Null, |r| &r["body"]);
        if body["deleted"] == json!(true) {
            return Err(not_found(kind));
        }
        self.view_of(ctx, kind, &outcome)
    }

    /// `BAD_USER_INPUT` for a subscription that is canceled.
    pub(super) fn check_not_canceled(&self, ctx: &ResolverContext<'_>, id: &str) -> Result<(), Error> {
        let current = self.get(ctx, Kind::Subscription, id)?;
        if current["status"] == json!("canceled") {
            return Err(coded(BAD_USER_INPUT, "Cannot update canceled subscription"));
        }
        Ok(())
    }

    pub(super) fn list(
        &self,
        ctx: &ResolverContext<'_>,
        kind: Kind,
        filters: &[(&str, &str, &str)],
    ) -> Result<Value, Error> {
        let first = match ctx.args.get("first").filter(|v| !v.is_null()) {
            Some(value) => value.i64()?,
            None => DEFAULT_FIRST,
        };
        if !(1..=MAX_FIRST).contains(&first) {
            return Err(bad_input("first", format!("first must be 1 to {MAX_FIRST}")));
        }
        let first = first as usize;
        let after = optional_text(ctx, "after")?;
        let mut given = Vec::new();
        for (argument, property, parameter) in filters {
            if let Some(value) = optional_text(ctx, argument)? {
                if *argument == "status" {
                    check_status(kind, &value)?;
                }
                given.push((*property, *parameter, value));
            }
        }
        if self.records_are_current(ctx) {
            self.list_records(ctx, kind, first, after, &given)
        } else {
            self.list_stripe(ctx, kind, first, after, &given)
        }
    }

    fn list_records(
        &self,
        ctx: &ResolverContext<'_>,
        kind: Kind,
        first: usize,
        after: Option<String>,
        given: &[(&str, &str, String)],
    ) -> Result<Value, Error> {
        let model = self.model(kind)?;
        let mut filters: Vec<Filter> = given
            .iter()
            .filter_map(|(property, _, value)| match (*property, value.as_str()) {
                // Stripe's two statuses that stand for several.
                ("state", "all") => None,
                ("state", "ended") => Some(Filter::new(
                    "state",
                    FilterOp::In(vec![json!("canceled"), json!("incomplete_expired")]),
                )),
                _ => Some(Filter::new(*property, FilterOp::Eq(json!(value)))),
            })
            .collect();
        match kind {
            Kind::Customer => filters.push(Filter::new("deleted", FilterOp::Ne(json!(true)))),
            // Charges made without a PaymentIntent are payments too, not intents.
            Kind::PaymentIntent => filters.push(Filter::new("kind", FilterOp::Eq(json!("payment_intent")))),
            _ => {}
        }
        let order = Order::default();
        let query = RecordQuery {
            filters,
            order: order.clone(),
            first: Some(first),
            after,
            ..RecordQuery::default()
        };
        let page = match self.store(ctx).query_records(&model, &query) {
            Ok(page) => page,
            Err(crate::db::StoreError::InvalidCursor(_)) => {
                return Err(bad_input("after", "after is not a cursor of this list"))
            }
            Err(e) => return Err(internal(e)),
        };
        let edges: Vec<Value> = page
            .records
            .iter()
            .map(|record| json!({"node": views::from_record(kind, record), "cursor": cursor_of(record, &order)}))
            .collect();
        Ok(connection_value(edges, page.has_next_page, page.has_previous_page))
    }

    fn list_stripe(
        &self,
        ctx: &ResolverContext<'_>,
        kind: Kind,
        first: usize,
        after: Option<String>,
        given: &[(&str, &str, String)],
    ) -> Result<Value, Error> {
        // Stripe lists have no id filter: a customer by id is a page of one.
        if kind == Kind::Customer {
            if let Some((_, _, id)) = given.iter().find(|(property, _, _)| *property == "gateway_id") {
                let edges = match self.get(ctx, kind, id) {
                    Ok(node) => vec![json!({"cursor": node["id"], "node": node})],
                    Err(e) if is_not_found(&e) => Vec::new(),
                    Err(e) => return Err(e),
                };
                return Ok(connection_value(edges, false, false));
            }
        }
        let request_type = match kind {
            Kind::Customer => "list_customers",
            Kind::PaymentIntent => "list_payment_intents",
            Kind::Subscription => "list_subscriptions",
            Kind::Product => "list_products",
            Kind::Price => "list_prices",
            Kind::Invoice => "list_invoices",
            Kind::Refund => "list_refunds",
            Kind::PaymentMethod => "list_payment_methods",
        };
        let mut data = Map::new();
        data.insert("limit".into(), json!(first));
        let has_previous = after.is_some();
        if let Some(after) = after {
            data.insert("starting_after".into(), json!(after));
        }
        for (_, parameter, value) in given {
            data.insert((*parameter).into(), json!(value));
        }
        if kind == Kind::Subscription && !data.contains_key("status") {
            // Stripe leaves canceled subscriptions out unless asked; the
            // records list them.
            data.insert("status".into(), json!("all"));
        }
        let outcome = match self.dispatch(ctx, kind, request_type, data) {
            // Stripe answers an unknown `starting_after` with "No such …".
            Err(e) if has_previous && is_not_found(&e) => {
                return Err(bad_input("after", "after is not a cursor of this list"))
            }
            other => other?,
        };
        let body = outcome.response.as_ref().map_or(&Value::Null, |r| &r["body"]);
        let edges: Vec<Value> = body["data"]
            .as_array()
            .map(|objects| {
                objects
                    .iter()
                    .map(|object| json!({"node": views::from_stripe(kind, object), "cursor": object["id"]}))
                    .collect()
            })
            .unwrap_or_default();
        Ok(connection_value(
            edges,
            body["has_more"].as_bool().unwrap_or(false),
            has_previous,
        ))
    }

    /// Send the module's `request_type` as the caller's merchant, with
    /// the caller's `idempotencyKey`.
    pub(super) fn dispatch(
        &self,
        ctx: &ResolverContext<'_>,
        kind: Kind,
        request_type: &str,
        data: Map<String, Value>,
    ) -> Result<DispatchOutcome, Error> {
        let key = idempotency_key(&ctx.args)?;
        self.dispatch_with_key(ctx, kind, request_type, data, key)
    }

    /// A second request of one mutation (a new subscription's invoice, a
    /// first card made the default): best effort, with a key of its own
    /// derived from the caller's, so that a retry repeats it once.
    pub(super) fn follow_up(
        &self,
        ctx: &ResolverContext<'_>,
        kind: Kind,
        request_type: &str,
        data: Map<String, Value>,
    ) {
        let key = match idempotency_key(&ctx.args) {
            Ok(key) => key.map(|key| format!("{key}:{request_type}")),
            Err(_) => None,
        };
        if let Err(error) = self.dispatch_with_key(ctx, kind, request_type, data, key) {
            tracing::warn!(request_type, error = %error.message, "a follow-up request of a stripe_ mutation failed");
        }
    }

    fn dispatch_with_key(
        &self,
        ctx: &ResolverContext<'_>,
        kind: Kind,
        request_type: &str,
        data: Map<String, Value>,
        idempotency_key: Option<String>,
    ) -> Result<DispatchOutcome, Error> {
        let own_id = data.get("gateway_id").and_then(Value::as_str).map(str::to_string);
        let default_tenant = Tenant::default();
        let outcome = self
            .sender
            .gateway
            .dispatch_for(
                self.tenant(ctx, &default_tenant),
                &self.sender.app,
                &format!("modules/stripe/{request_type}"),
                Value::Object(data),
                idempotency_key,
                Caller::Visitor,
            )
            .map_err(|failure| failure_error(kind, own_id.as_deref(), failure))?;
        if let Some(error) = outcome.errors.first() {
            return Err(mapper_error(kind, error));
        }
        Ok(outcome)
    }

    /// Send and answer with the object the request type's mapper wrote.
    pub(super) fn send(
        &self,
        ctx: &ResolverContext<'_>,
        kind: Kind,
        request_type: &str,
        data: Map<String, Value>,
    ) -> Result<Value, Error> {
        let outcome = self.dispatch(ctx, kind, request_type, data)?;
        self.view_of(ctx, kind, &outcome)
    }

    /// A new subscription's first invoice, read and stored at once when
    /// the records answer queries: a client lists it next (to pay it),
    /// before its webhook events may have arrived.
    pub(super) fn store_latest_invoice(&self, ctx: &ResolverContext<'_>, outcome: &DispatchOutcome) {
        if !self.records_are_current(ctx) {
            return;
        }
        let body = outcome.response.as_ref().map_or(&Value::Null, |r| &r["body"]);
        let invoice = match &body["latest_invoice"] {
            Value::String(id) => id.as_str(),
            Value::Object(object) => object.get("id").and_then(Value::as_str).unwrap_or_default(),
            _ => "",
        };
        if !invoice.is_empty() {
            self.follow_up(ctx, Kind::Invoice, "get_invoice", gateway_id(invoice));
        }
    }

    /// Stripe's answer when it is the object (exactly what the request
    /// did; the record may meanwhile be rewritten by an older event of the
    /// same second, until the next one arrives), else the record the
    /// (overridden) mapper wrote.
    pub(super) fn view_of(
        &self,
        ctx: &ResolverContext<'_>,
        kind: Kind,
        outcome: &DispatchOutcome,
    ) -> Result<Value, Error> {
        if let Some(body) = outcome.response.as_ref().map(|r| &r["body"]) {
            if body["object"] == json!(kind.object()) && body["id"].is_string() {
                return Ok(views::from_stripe(kind, body));
            }
        }
        let written_id = outcome
            .record
            .as_ref()
            .filter(|_| outcome.model.as_deref().is_none_or(|m| m == kind.model()))
            .and_then(|r| r["id"].as_str())
            .and_then(|id| id.parse::<i64>().ok());
        if let Some(id) = written_id {
            let model = self.model(kind)?;
            if let Some(record) = self.store(ctx).get_record(&model, id).map_err(internal)? {
                return Ok(views::from_record(kind, &record));
            }
        }
        Err(internal(format!("Stripe's answer holds no {}", kind.object())))
    }
}

fn connection_value(edges: Vec<Value>, has_next: bool, has_previous: bool) -> Value {
    let start = edges.first().map_or(Value::Null, |e| e["cursor"].clone());
    let end = edges.last().map_or(Value::Null, |e| e["cursor"].clone());
    let nodes: Vec<Value> = edges.iter().map(|e| e["node"].clone()).collect();
    json!({
        "edges": edges,
        "nodes": nodes,
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": start,
            "endCursor": end,
        },
    })
}
