//! Seed 004's GraphQL Stripe API: `stripe_customer(id:)`,
//! `stripe_createPaymentIntent(input: {amount: 12.35, …})`, … with its
//! exact names, arguments and typed objects.
//!
//! Where answers come from: a query reads the local records when webhooks
//! keep them current (the environment has a webhook signing secret, or the
//! query runs in a merchant's webhook processor) and Stripe otherwise (or
//! always, with `PAYFORMS_STRIPE_READS=stripe`); an object asked for by id
//! that has no record yet is read from Stripe. Every mutation sends the
//! module's request type of the same operation (`create_customer`, …), so
//! an app's override of that template changes this API too; the answer is
//! Stripe's answer to it. [`views`] makes records and Stripe's objects look
//! alike.

mod errors;
pub(crate) mod inputs;
mod source;
mod types;
pub mod views;

use std::sync::Arc;

use async_graphql::dynamic::{
    Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, TypeRef,
};
use async_graphql::Error;
use serde_json::{json, Map, Value};

use super::errors::BAD_USER_INPUT;
use super::values::to_graphql;
use super::RequestSender;
use crate::db::Store;
use errors::bad_input;
use inputs::{
    check_id, check_return_url, copy, currency_of, customer_data, gateway_id, input_of, minor_units,
    payment_intent_data, payment_intent_update, price_data, required_id, subscription_data, text_field,
};
use views::Kind;

/// Largest page: Stripe's own list limit.
pub(crate) const MAX_FIRST: i64 = 100;
pub(crate) const DEFAULT_FIRST: i64 = 10;
/// Longest Stripe id or cursor accepted.
pub(crate) const MAX_ID_LEN: usize = 255;

pub const QUERIES: [&str; 12] = [
    "stripe_customer",
    "stripe_customers",
    "stripe_paymentIntent",
    "stripe_paymentIntents",
    "stripe_subscription",
    "stripe_subscriptions",
    "stripe_products",
    "stripe_prices",
    "stripe_invoice",
    "stripe_invoices",
    "stripe_refunds",
    "stripe_paymentMethods",
];

pub const MUTATIONS: [&str; 16] = [
    "stripe_createCustomer",
    "stripe_updateCustomer",
    "stripe_deleteCustomer",
    "stripe_createPaymentIntent",
    "stripe_updatePaymentIntent",
    "stripe_confirmPaymentIntent",
    "stripe_cancelPaymentIntent",
    "stripe_createSubscription",
    "stripe_updateSubscription",
    "stripe_cancelSubscription",
    "stripe_createProduct",
    "stripe_createPrice",
    "stripe_payInvoice",
    "stripe_createRefund",
    "stripe_attachPaymentMethod",
    "stripe_detachPaymentMethod",
];

pub use types::type_names;

/// What the resolvers work with.
#[derive(Clone)]
pub struct StripeApi {
    pub store: Store,
    pub sender: RequestSender,
}

pub fn objects() -> Vec<Object> {
    types::objects()
}

pub fn inputs() -> Vec<InputObject> {
    types::inputs()
}

fn id_argument() -> InputValue {
    InputValue::new("id", TypeRef::named_nn(TypeRef::ID))
}

fn page_arguments(field: Field, filters: &[&str]) -> Field {
    let field = field
        .argument(
            InputValue::new("first", TypeRef::named(TypeRef::INT)).description("Page size (default 10, at most 100)."),
        )
        .argument(
            InputValue::new("after", TypeRef::named(TypeRef::STRING)).description("`endCursor` of the page before."),
        );
    filters.iter().fold(field, |field, name| {
        field.argument(InputValue::new(*name, TypeRef::named(TypeRef::STRING)))
    })
}

type Resolve = fn(&StripeApi, &ResolverContext<'_>) -> Result<Value, Error>;

fn field(api: &Arc<StripeApi>, name: &str, ty: TypeRef, resolve: Resolve) -> Field {
    let api = api.clone();
    Field::new(name, ty, move |ctx| {
        let result = resolve(&api, &ctx).map(|value| Some(FieldValue::value(to_graphql(value))));
        FieldFuture::new(futures::future::ready(result))
    })
}

pub fn query_fields(api: &Arc<StripeApi>) -> Vec<Field> {
    use types::*;
    vec![
        field(api, "stripe_customer", TypeRef::named_nn(CUSTOMER), |api, ctx| {
            api.get(ctx, Kind::Customer, &required_id(ctx)?)
        })
        .description("A customer by its Stripe id (cus_…).")
        .argument(id_argument()),
        page_arguments(
            field(
                api,
                "stripe_customers",
                TypeRef::named_nn(connection(CUSTOMER)),
                |api, ctx| api.list(ctx, Kind::Customer, &[("customerId", "gateway_id", "")]),
            )
            .description("Customers, newest first."),
            &["customerId"],
        ),
        field(
            api,
            "stripe_paymentIntent",
            TypeRef::named_nn(PAYMENT_INTENT),
            |api, ctx| api.get(ctx, Kind::PaymentIntent, &required_id(ctx)?),
        )
        .description("A payment intent by its Stripe id (pi_…).")
        .argument(id_argument()),
        page_arguments(
            field(
                api,
                "stripe_paymentIntents",
                TypeRef::named_nn(connection(PAYMENT_INTENT)),
                |api, ctx| api.list(ctx, Kind::PaymentIntent, &[("customerId", "customer_id", "customer")]),
            )
            .description("Payment intents, newest first."),
            &["customerId"],
        ),
        field(
            api,
            "stripe_subscription",
            TypeRef::named_nn(SUBSCRIPTION),
            |api, ctx| api.get(ctx, Kind::Subscription, &required_id(ctx)?),
        )
        .description("A subscription by its Stripe id (sub_…).")
        .argument(id_argument()),
        page_arguments(
            field(
                api,
                "stripe_subscriptions",
                TypeRef::named_nn(connection(SUBSCRIPTION)),
                |api, ctx| {
                    api.list(
                        ctx,
                        Kind::Subscription,
                        &[("customerId", "customer_id", "customer"), ("status", "state", "status")],
                    )
                },
            )
            .description("Subscriptions, newest first."),
            &["customerId", "status"],
        ),
        page_arguments(
            field(
                api,
                "stripe_products",
                TypeRef::named_nn(connection(PRODUCT)),
                |api, ctx| api.list(ctx, Kind::Product, &[]),
            )
            .description("Products, newest first."),
            &[],
        ),
        page_arguments(
            field(
                api,
                "stripe_prices",
                TypeRef::named_nn(connection(PRICE)),
                |api, ctx| api.list(ctx, Kind::Price, &[("productId", "product_id", "product")]),
            )
            .description("Prices, newest first."),
            &["productId"],
        ),
        field(api, "stripe_invoice", TypeRef::named_nn(INVOICE), |api, ctx| {
            api.get(ctx, Kind::Invoice, &required_id(ctx)?)
        })
        .description("An invoice by its Stripe id (in_…).")
        .argument(id_argument()),
        page_arguments(
            field(
                api,
                "stripe_invoices",
                TypeRef::named_nn(connection(INVOICE)),
                |api, ctx| {
                    api.list(
                        ctx,
                        Kind::Invoice,
                        &[("customerId", "customer_id", "customer"), ("status", "state", "status")],
                    )
                },
            )
            .description("Invoices, newest first."),
            &["customerId", "status"],
        ),
        page_arguments(
            field(
                api,
                "stripe_refunds",
                TypeRef::named_nn(connection(REFUND)),
                |api, ctx| {
                    api.list(
                        ctx,
                        Kind::Refund,
                        &[("paymentIntentId", "payment_intent_id", "payment_intent")],
                    )
                },
            )
            .description("Refunds, newest first."),
            &["paymentIntentId"],
        ),
        page_arguments(
            field(
                api,
                "stripe_paymentMethods",
                TypeRef::named_nn(connection(PAYMENT_METHOD)),
                |api, ctx| api.list(ctx, Kind::PaymentMethod, &[("customerId", "customer_id", "customer")]),
            )
            .description("Saved cards, newest first (only their safe details)."),
            &["customerId"],
        ),
    ]
}

fn idempotency_argument(field: Field) -> Field {
    field.argument(
        InputValue::new("idempotencyKey", TypeRef::named(TypeRef::STRING))
            .description("Sent to Stripe: a retry with the same key has one effect."),
    )
}

fn input_argument(field: Field, ty: &str, required: bool) -> Field {
    let ty = if required {
        TypeRef::named_nn(ty)
    } else {
        TypeRef::named(ty)
    };
    field.argument(InputValue::new("input", ty))
}

pub fn mutation_fields(api: &Arc<StripeApi>) -> Vec<Field> {
    use types::*;
    let fields = vec![
        input_argument(
            field(api, "stripe_createCustomer", TypeRef::named_nn(CUSTOMER), |api, ctx| {
                let input = input_of(ctx);
                api.send(ctx, Kind::Customer, "create_customer", customer_data(&input)?)
            }),
            CUSTOMER_INPUT,
            true,
        ),
        input_argument(
            field(api, "stripe_updateCustomer", TypeRef::named_nn(CUSTOMER), |api, ctx| {
                let id = required_id(ctx)?;
                api.get(ctx, Kind::Customer, &id)?;
                let mut data = customer_data(&input_of(ctx))?;
                data.insert("gateway_id".into(), json!(id));
                api.send(ctx, Kind::Customer, "update_customer", data)
            })
            .argument(id_argument()),
            CUSTOMER_INPUT,
            true,
        ),
        field(
            api,
            "stripe_deleteCustomer",
            TypeRef::named_nn(TypeRef::BOOLEAN),
            |api, ctx| {
                let id = required_id(ctx)?;
                api.get(ctx, Kind::Customer, &id)?;
                api.dispatch(ctx, Kind::Customer, "delete_customer", gateway_id(&id))?;
                Ok(json!(true))
            },
        )
        .argument(id_argument()),
        input_argument(
            field(
                api,
                "stripe_createPaymentIntent",
                TypeRef::named_nn(PAYMENT_INTENT),
                |api, ctx| {
                    let data = payment_intent_data(&input_of(ctx))?;
                    api.send(ctx, Kind::PaymentIntent, "create_payment", data)
                },
            ),
            PAYMENT_INTENT_INPUT,
            true,
        ),
        input_argument(
            field(
                api,
                "stripe_updatePaymentIntent",
                TypeRef::named_nn(PAYMENT_INTENT),
                |api, ctx| {
                    let id = required_id(ctx)?;
                    let current = api.get(ctx, Kind::PaymentIntent, &id)?;
                    let data = payment_intent_update(&id, &input_of(ctx), &current)?;
                    api.send(ctx, Kind::PaymentIntent, "update_payment_intent", data)
                },
            )
            .argument(id_argument()),
            PAYMENT_INTENT_UPDATE_INPUT,
            true,
        ),
        input_argument(
            field(
                api,
                "stripe_confirmPaymentIntent",
                TypeRef::named_nn(PAYMENT_INTENT),
                |api, ctx| {
                    let id = required_id(ctx)?;
                    let input = input_of(ctx);
                    let mut data = gateway_id(&id);
                    copy(
                        &input,
                        &mut data,
                        &[("paymentMethodId", "payment_method"), ("returnUrl", "return_url")],
                    )?;
                    if let Some(url) = data.get("return_url").and_then(Value::as_str) {
                        check_return_url(url)?;
                    }
                    api.send(ctx, Kind::PaymentIntent, "confirm_payment_intent", data)
                },
            )
            .argument(id_argument()),
            CONFIRM_INPUT,
            false,
        ),
        field(
            api,
            "stripe_cancelPaymentIntent",
            TypeRef::named_nn(PAYMENT_INTENT),
            |api, ctx| {
                let id = required_id(ctx)?;
                api.send(ctx, Kind::PaymentIntent, "cancel_payment_intent", gateway_id(&id))
            },
        )
        .argument(id_argument()),
        input_argument(
            field(
                api,
                "stripe_createSubscription",
                TypeRef::named_nn(SUBSCRIPTION),
                |api, ctx| {
                    let data = subscription_data(&input_of(ctx))?;
                    let outcome = api.dispatch(ctx, Kind::Subscription, "create_subscription", data)?;
                    api.store_latest_invoice(ctx, &outcome);
                    api.view_of(ctx, Kind::Subscription, &outcome)
                },
            ),
            SUBSCRIPTION_INPUT,
            true,
        ),
        input_argument(
            field(
                api,
                "stripe_updateSubscription",
                TypeRef::named_nn(SUBSCRIPTION),
                |api, ctx| {
                    let id = required_id(ctx)?;
                    api.check_not_canceled(ctx, &id)?;
                    let mut data = gateway_id(&id);
                    copy(
                        &input_of(ctx),
                        &mut data,
                        &[
                            ("cancelAtPeriodEnd", "cancel_at_period_end"),
                            ("defaultPaymentMethod", "default_payment_method"),
                            ("prorationBehavior", "proration_behavior"),
                            ("metadata", "metadata"),
                        ],
                    )?;
                    api.send(ctx, Kind::Subscription, "update_subscription", data)
                },
            )
            .argument(id_argument()),
            SUBSCRIPTION_UPDATE_INPUT,
            true,
        ),
        field(
            api,
            "stripe_cancelSubscription",
            TypeRef::named_nn(SUBSCRIPTION),
            |api, ctx| {
                let id = required_id(ctx)?;
                api.check_not_canceled(ctx, &id)?;
                let at_period_end = ctx
                    .args
                    .get("cancelAtPeriodEnd")
                    .and_then(|v| v.boolean().ok())
                    .unwrap_or(false);
                let mut data = gateway_id(&id);
                data.insert("at_period_end".into(), json!(at_period_end));
                api.send(ctx, Kind::Subscription, "cancel_subscription", data)
            },
        )
        .argument(id_argument())
        .argument(
            InputValue::new("cancelAtPeriodEnd", TypeRef::named(TypeRef::BOOLEAN))
                .description("true: at the end of the current period; false (default): now."),
        ),
        input_argument(
            field(api, "stripe_createProduct", TypeRef::named_nn(PRODUCT), |api, ctx| {
                let mut data = Map::new();
                copy(
                    &input_of(ctx),
                    &mut data,
                    &[
                        ("name", "name"),
                        ("description", "description"),
                        ("active", "active"),
                        ("metadata", "metadata"),
                    ],
                )?;
                api.send(ctx, Kind::Product, "create_product", data)
            }),
            PRODUCT_INPUT,
            true,
        ),
        input_argument(
            field(api, "stripe_createPrice", TypeRef::named_nn(PRICE), |api, ctx| {
                let data = price_data(&input_of(ctx))?;
                api.send(ctx, Kind::Price, "create_price", data)
            }),
            PRICE_INPUT,
            true,
        ),
        field(api, "stripe_payInvoice", TypeRef::named_nn(INVOICE), |api, ctx| {
            let id = required_id(ctx)?;
            api.send(ctx, Kind::Invoice, "pay_invoice", gateway_id(&id))
        })
        .argument(id_argument()),
        input_argument(
            field(api, "stripe_createRefund", TypeRef::named_nn(REFUND), |api, ctx| {
                let input = input_of(ctx);
                let payment_intent = text_field(&input, "paymentIntentId")?.unwrap_or_default();
                check_id("paymentIntentId", &payment_intent)?;
                let current = api.get(ctx, Kind::PaymentIntent, &payment_intent)?;
                let mut data = Map::new();
                data.insert("payment_intent".into(), json!(payment_intent));
                if let Some(amount) = input.get("amount").filter(|a| !a.is_null()) {
                    let currency = currency_of("amount", current["currency"].as_str().unwrap_or_default())?;
                    data.insert("amount".into(), json!(minor_units("amount", &currency, amount)?));
                }
                if let Some(reason) = text_field(&input, "reason")? {
                    if !["duplicate", "fraudulent", "requested_by_customer"].contains(&reason.as_str()) {
                        return Err(bad_input(
                            "reason",
                            "reason must be one of duplicate, fraudulent, requested_by_customer",
                        ));
                    }
                    data.insert("reason".into(), json!(reason));
                }
                copy(&input, &mut data, &[("metadata", "metadata")])?;
                // Links the refund's record to the payment's, when payforms has it.
                if let Some(payment) = api.local_record(ctx, Kind::PaymentIntent, &payment_intent)? {
                    data.insert("payment_id".into(), json!(payment.id.to_string()));
                }
                api.send(ctx, Kind::Refund, "create_refund", data)
            }),
            REFUND_INPUT,
            true,
        ),
        input_argument(
            field(
                api,
                "stripe_attachPaymentMethod",
                TypeRef::named_nn(PAYMENT_METHOD),
                |api, ctx| {
                    let id = required_id(ctx)?;
                    let mut data = gateway_id(&id);
                    copy(&input_of(ctx), &mut data, &[("customerId", "customer")])?;
                    let customer_id = data["customer"].as_str().unwrap_or_default().to_string();
                    let customer = api.get(ctx, Kind::Customer, &customer_id)?;
                    let attached = api.send(ctx, Kind::PaymentMethod, "attach_payment_method", data)?;
                    // A customer's first card becomes its default, so that its
                    // invoices and subscriptions are paid with it.
                    if customer["defaultPaymentMethodId"].is_null() {
                        let mut update = gateway_id(&customer_id);
                        update.insert("default_payment_method".into(), attached["id"].clone());
                        api.follow_up(ctx, Kind::Customer, "update_customer", update);
                    }
                    Ok(attached)
                },
            )
            .argument(id_argument()),
            ATTACH_INPUT,
            true,
        ),
        field(
            api,
            "stripe_detachPaymentMethod",
            TypeRef::named_nn(PAYMENT_METHOD),
            |api, ctx| {
                let id = required_id(ctx)?;
                api.send(ctx, Kind::PaymentMethod, "detach_payment_method", gateway_id(&id))
            },
        )
        .argument(id_argument()),
    ];
    fields.into_iter().map(idempotency_argument).collect()
}
