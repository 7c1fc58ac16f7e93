//! Seed 004's configuration operations: `configureStripe`,
//! `updateStripeConfig` and `stripeConfig(environment)`. Only a program
//! with an admin API key may call them, and a page rendered for the
//! signed-in operator may read `stripeConfig` (no other template may: a
//! page must never read or change the keys); no answer ever holds a secret.

use async_graphql::dynamic::{
    Enum, EnumItem, Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, TypeRef,
};
use async_graphql::indexmap::IndexMap;
use async_graphql::{Error, Name, Value as GqlValue};

use super::errors::{coded, FORBIDDEN};
use super::values::{key_field, time_text, TIME};
use crate::app::gateway_defaults::GatewayDefaults;
use crate::config::{Secret, Settings};
use crate::db::Store;
use crate::environment::Environment;
use crate::gateway::configuration::{self, ConfigInput, ConfigView, ConfigurationError};
use crate::gateway::RequestDispatcher;
use std::sync::Arc;

pub use super::callers::ApiCaller;

const ENVIRONMENT: &str = "StripeEnvironment";
const CONFIG: &str = "StripeConfig";
const CONFIGURE_INPUT: &str = "ConfigureStripeInput";
const CONFIGURE_PAYLOAD: &str = "ConfigureStripePayload";
const UPDATE_INPUT: &str = "UpdateStripeConfigInput";
const UPDATE_PAYLOAD: &str = "UpdateStripeConfigPayload";

const PAYMENT_GATEWAY: &str = "PaymentGateway";
const PAYMENT_GATEWAY_QUERY: &str = "paymentGateway";
/// platformOS's name (seed 000, "Integrating Stripe").
const PAYMENT_GATEWAYS_QUERY: &str = "payment_gateways";
const PAYMENT_GATEWAY_MODE: &str = "PaymentGatewayMode";
const PAYMENT_METHOD: &str = "PaymentGatewayMethod";

pub const QUERIES: [&str; 3] = ["stripeConfig", "paymentGateway", PAYMENT_GATEWAYS_QUERY];
pub const MUTATIONS: [&str; 2] = ["configureStripe", "updateStripeConfig"];

pub fn type_names() -> [&'static str; 9] {
    [
        PAYMENT_GATEWAY_MODE,
        PAYMENT_METHOD,
        ENVIRONMENT,
        CONFIG,
        CONFIGURE_INPUT,
        CONFIGURE_PAYLOAD,
        UPDATE_INPUT,
        UPDATE_PAYLOAD,
        PAYMENT_GATEWAY,
    ]
}

/// What the resolvers need.
#[derive(Clone)]
pub struct ConfigOperations {
    pub settings: Settings,
    pub store: Store,
    pub gateway: Arc<dyn RequestDispatcher>,
    /// The app's `gateways/stripe.yml` (or the module's).
    pub defaults: GatewayDefaults,
}

/// platformOS's `mode: test` / `mode: live`.
pub fn mode_enum() -> Enum {
    Enum::new(PAYMENT_GATEWAY_MODE).item("test").item("live")
}

pub fn environment_enum() -> Enum {
    Enum::new(ENVIRONMENT)
        .description("Test or live mode.")
        .item(EnumItem::new("TEST").description("Test mode"))
        .item(EnumItem::new("LIVE").description("Live/production mode"))
}

fn config_fields(object: Object) -> Object {
    object
        .field(key_field("id", TypeRef::named_nn(TypeRef::ID)).description("Configuration ID"))
        .field(key_field("environment", TypeRef::named_nn(ENVIRONMENT)))
        .field(key_field("publishableKey", TypeRef::named_nn(TypeRef::STRING)))
        .field(
            key_field("webhookUrl", TypeRef::named_nn(TypeRef::STRING))
                .description("Where Stripe sends this instance's events."),
        )
        .field(key_field("hasWebhookSecret", TypeRef::named_nn(TypeRef::BOOLEAN)))
        .field(
            key_field("connectionStatus", TypeRef::named_nn(TypeRef::STRING))
                .description("connected, failed (see statusReason) or unchecked"),
        )
        .field(key_field("statusReason", TypeRef::named(TypeRef::STRING)))
        .field(key_field("checkedAt", TypeRef::named(TIME)))
        .field(
            key_field("inUse", TypeRef::named_nn(TypeRef::BOOLEAN))
                .description("This instance runs in this environment with these keys (settings' keys win)."),
        )
}

pub fn types() -> (Vec<Object>, Vec<InputObject>) {
    let list = || TypeRef::named_nn_list_nn(TypeRef::STRING);
    let payment_gateway = Object::new(PAYMENT_GATEWAY)
        .description("What a front end needs to take a payment: public values only.")
        .field(key_field("name", TypeRef::named_nn(TypeRef::STRING)))
        .field(key_field("environment", TypeRef::named_nn(ENVIRONMENT)))
        .field(key_field("livemode", TypeRef::named_nn(TypeRef::BOOLEAN)))
        .field(key_field("publishableKey", TypeRef::named(TypeRef::STRING)))
        .field(key_field("jsUrl", TypeRef::named_nn(TypeRef::STRING)))
        .field(key_field("currencies", list()).description("Accepted currencies; empty: any."))
        .field(key_field("paymentMethods", list()))
        .field(
            key_field("captureMethod", TypeRef::named_nn(TypeRef::STRING))
                .description("automatic or manual: how payments are captured when a form does not say"),
        )
        // platformOS's PaymentGateway fields (seed 000): publishable keys only.
        .field(key_field("id", TypeRef::named_nn(TypeRef::ID)).description("The gateway's name, `stripe`."))
        .field(key_field("test_publishable_key", TypeRef::named(TypeRef::STRING)))
        .field(key_field("live_publishable_key", TypeRef::named(TypeRef::STRING)))
        .field(
            key_field("current_mode_publishable_key", TypeRef::named(TypeRef::STRING))
                .description("The key of the mode the instance runs in."),
        )
        .field(
            key_field("payment_methods", TypeRef::named_nn_list_nn(PAYMENT_METHOD))
                .description("The gateway's payment methods (gateways/stripe.yml); `card` when it lists none."),
        );
    let payment_method = Object::new(PAYMENT_METHOD)
        .description("A payment method: its id is Stripe's method type (`card`), what a form sends back.")
        .field(key_field("id", TypeRef::named_nn(TypeRef::ID)))
        .field(key_field("name", TypeRef::named_nn(TypeRef::STRING)));
    let objects = vec![
        payment_gateway,
        payment_method,
        config_fields(Object::new(CONFIG).description("A Stripe configuration; its secrets are never returned.")),
        config_fields(Object::new(CONFIGURE_PAYLOAD)),
        config_fields(Object::new(UPDATE_PAYLOAD)),
    ];
    let inputs = vec![
        InputObject::new(CONFIGURE_INPUT)
            .field(InputValue::new("secretKey", TypeRef::named_nn(TypeRef::STRING)))
            .field(InputValue::new("publishableKey", TypeRef::named_nn(TypeRef::STRING)))
            .field(InputValue::new("environment", TypeRef::named_nn(ENVIRONMENT)))
            .field(InputValue::new("webhookSecret", TypeRef::named(TypeRef::STRING))),
        InputObject::new(UPDATE_INPUT)
            .field(InputValue::new("secretKey", TypeRef::named(TypeRef::STRING)))
            .field(InputValue::new("publishableKey", TypeRef::named(TypeRef::STRING)))
            .field(
                InputValue::new("environment", TypeRef::named(ENVIRONMENT))
                    .description("Which configuration; the instance's environment when not given."),
            )
            .field(InputValue::new("webhookSecret", TypeRef::named(TypeRef::STRING))),
    ];
    (objects, inputs)
}

fn object(view: &ConfigView) -> GqlValue {
    let mut map: IndexMap<Name, GqlValue> = IndexMap::new();
    let text = |s: &str| GqlValue::String(s.to_string());
    map.insert(Name::new("id"), text(&view.id.to_string()));
    map.insert(
        Name::new("environment"),
        GqlValue::Enum(Name::new(view.environment.graphql_name())),
    );
    map.insert(Name::new("publishableKey"), text(&view.publishable_key));
    map.insert(Name::new("webhookUrl"), text(&view.webhook_url));
    map.insert(
        Name::new("hasWebhookSecret"),
        GqlValue::Boolean(view.has_webhook_secret),
    );
    map.insert(Name::new("connectionStatus"), text(&view.status));
    if let Some(reason) = &view.status_reason {
        map.insert(Name::new("statusReason"), text(reason));
    }
    if let Some(at) = view.checked_at {
        map.insert(Name::new("checkedAt"), text(&time_text(at)));
    }
    map.insert(Name::new("inUse"), GqlValue::Boolean(view.in_use));
    GqlValue::Object(map)
}

fn error(e: ConfigurationError) -> Error {
    coded(e.code(), e.to_string())
}

fn only_programs(ctx: &ResolverContext<'_>) -> Result<(), Error> {
    match ctx.data_opt::<ApiCaller>() {
        Some(ApiCaller { admin: true }) => Ok(()),
        _ => Err(coded(
            FORBIDDEN,
            "Stripe configurations are read and changed only with an admin key (PAYFORMS_ADMIN_API_KEYS), \
             never by templates",
        )),
    }
}

fn environment_arg(value: Option<async_graphql::dynamic::ValueAccessor<'_>>) -> Result<Option<Environment>, Error> {
    match value {
        None => Ok(None),
        Some(v) if v.is_null() => Ok(None),
        Some(v) => {
            let name = v.enum_name()?;
            Environment::parse(name)
                .map(Some)
                .ok_or_else(|| coded("BAD_USER_INPUT", format!("unknown environment {name}")))
        }
    }
}

fn input_of(ctx: &ResolverContext<'_>) -> Result<ConfigInput, Error> {
    let input = ctx.args.try_get("input")?.object()?;
    let text = |name: &str| -> Result<Option<String>, Error> {
        match input.get(name) {
            Some(v) if !v.is_null() => Ok(Some(v.string()?.to_string())),
            _ => Ok(None),
        }
    };
    Ok(ConfigInput {
        environment: environment_arg(input.get("environment"))?,
        secret_key: text("secretKey")?.map(Secret::new),
        publishable_key: text("publishableKey")?,
        webhook_secret: text("webhookSecret")?.map(Secret::new),
    })
}

fn payment_gateway(ops: &ConfigOperations) -> GqlValue {
    let settings = &ops.settings;
    let mut map: IndexMap<Name, GqlValue> = IndexMap::new();
    let text = |s: &str| GqlValue::String(s.to_string());
    let list = |items: &[String]| GqlValue::List(items.iter().map(|s| text(s)).collect());
    map.insert(Name::new("name"), text("stripe"));
    map.insert(
        Name::new("environment"),
        GqlValue::Enum(Name::new(settings.environment.graphql_name())),
    );
    map.insert(
        Name::new("livemode"),
        GqlValue::Boolean(settings.environment.livemode()),
    );
    let publishable = settings.stripe_publishable_key();
    if !publishable.is_empty() {
        map.insert(Name::new("publishableKey"), text(&publishable));
    }
    map.insert(Name::new("jsUrl"), text(&settings.stripe.js_url));
    map.insert(Name::new("currencies"), list(&ops.defaults.currencies));
    map.insert(Name::new("paymentMethods"), list(&ops.defaults.payment_methods));
    map.insert(Name::new("captureMethod"), text(ops.defaults.capture.as_str()));
    map.insert(Name::new("id"), text("stripe"));
    for environment in [Environment::Test, Environment::Live] {
        if let Some(key) = publishable_key_of(ops, environment) {
            map.insert(
                Name::new(format!("{}_publishable_key", mode_name(environment))),
                text(&key),
            );
        }
    }
    if !publishable.is_empty() {
        map.insert(Name::new("current_mode_publishable_key"), text(&publishable));
    }
    let methods = if ops.defaults.payment_methods.is_empty() {
        vec!["card".to_string()]
    } else {
        ops.defaults.payment_methods.clone()
    };
    let methods = methods
        .iter()
        .map(|id| {
            let mut method: IndexMap<Name, GqlValue> = IndexMap::new();
            method.insert(Name::new("id"), text(id));
            method.insert(Name::new("name"), text(&method_label(id)));
            GqlValue::Object(method)
        })
        .collect();
    map.insert(Name::new("payment_methods"), GqlValue::List(methods));
    GqlValue::Object(map)
}

fn mode_name(environment: Environment) -> &'static str {
    if environment.livemode() {
        "live"
    } else {
        "test"
    }
}

/// An environment's publishable key: the one in use for the instance's
/// own, else the stored configuration's (publishable keys are public).
fn publishable_key_of(ops: &ConfigOperations, environment: Environment) -> Option<String> {
    let key = if environment == ops.settings.environment {
        ops.settings.stripe_publishable_key()
    } else {
        match configuration::get(&ops.settings, &ops.store, environment) {
            Ok(view) => view.map(|v| v.publishable_key).unwrap_or_default(),
            Err(e) => {
                tracing::warn!(target: "payforms::graphql", "the {environment:?} Stripe configuration cannot be read: {e}");
                String::new()
            }
        }
    };
    (!key.is_empty()).then_some(key)
}

/// A readable name for a Stripe payment method type.
fn method_label(id: &str) -> String {
    match id {
        "card" => "Credit Card".to_string(),
        "sepa_debit" => "SEPA Direct Debit".to_string(),
        "us_bank_account" => "ACH Direct Debit".to_string(),
        other => other.replace('_', " "),
    }
}

/// `payment_gateways(mode:, for_current_mode:)`: the gateway when it has
/// a publishable key for `mode` (and, with `for_current_mode: true`, for
/// the instance's mode); every argument left out: always.
fn payment_gateways(ops: &ConfigOperations, ctx: &ResolverContext<'_>) -> Result<Vec<GqlValue>, Error> {
    let mode = match ctx.args.get("mode").filter(|v| !v.is_null()) {
        Some(mode) => Some(if mode.enum_name()? == "live" {
            Environment::Live
        } else {
            Environment::Test
        }),
        None => None,
    };
    let current = match ctx.args.get("for_current_mode").filter(|v| !v.is_null()) {
        Some(flag) => flag.boolean()?,
        None => false,
    };
    let mut wanted: Vec<Environment> = mode.into_iter().collect();
    if current {
        wanted.push(ops.settings.environment);
    }
    if wanted.iter().all(|e| publishable_key_of(ops, *e).is_some()) {
        Ok(vec![payment_gateway(ops)])
    } else {
        Ok(Vec::new())
    }
}

pub fn query_fields(ops: &ConfigOperations) -> Vec<Field> {
    let reading = ops.clone();
    let discovering = ops.clone();
    vec![
        Field::new(PAYMENT_GATEWAY_QUERY, TypeRef::named_nn(PAYMENT_GATEWAY), move |_| {
            let value = payment_gateway(&discovering);
            FieldFuture::new(async move { Ok(Some(FieldValue::value(value))) })
        })
        .description("The active environment's gateway for front ends: publishable key, currencies, methods."),
        {
            let listing = ops.clone();
            Field::new(
                PAYMENT_GATEWAYS_QUERY,
                TypeRef::named_nn_list_nn(PAYMENT_GATEWAY),
                move |ctx| {
                    let result = payment_gateways(&listing, &ctx)
                        .map(|list| Some(FieldValue::list(list.into_iter().map(FieldValue::value))));
                    FieldFuture::new(futures::future::ready(result))
                },
            )
            .description("platformOS's payment gateways query: the Stripe gateway, publishable keys only.")
            .argument(
                InputValue::new("mode", TypeRef::named(PAYMENT_GATEWAY_MODE))
                    .description("Only a gateway with a publishable key for this mode."),
            )
            .argument(
                InputValue::new("for_current_mode", TypeRef::named(TypeRef::BOOLEAN))
                    .description("true: only a gateway with a key for the instance's mode."),
            )
        },
        Field::new("stripeConfig", TypeRef::named(CONFIG), move |ctx| {
            let ops = reading.clone();
            FieldFuture::new(async move {
                // The console's settings page shows it (never a secret);
                // only programs with an admin key change it.
                if ctx.data_opt::<super::callers::OperatorSession>().is_none() {
                    only_programs(&ctx)?;
                }
                let environment = environment_arg(ctx.args.get("environment"))?.unwrap_or(ops.settings.environment);
                let view = configuration::get(&ops.settings, &ops.store, environment).map_err(error)?;
                Ok(view.map(|v| FieldValue::value(object(&v))))
            })
        })
        .description("The stored Stripe configuration of an environment (the instance's when not given).")
        .argument(InputValue::new("environment", TypeRef::named(ENVIRONMENT))),
    ]
}

pub fn mutation_fields(ops: &ConfigOperations) -> Vec<Field> {
    let configuring = ops.clone();
    let updating = ops.clone();
    vec![
        Field::new("configureStripe", TypeRef::named_nn(CONFIGURE_PAYLOAD), move |ctx| {
            let ops = configuring.clone();
            FieldFuture::new(async move {
                only_programs(&ctx)?;
                let input = input_of(&ctx)?;
                let check = |secret: &Secret| ops.gateway.check_connection(secret);
                let view = configuration::configure(&ops.settings, &ops.store, input, &check).map_err(error)?;
                Ok(Some(FieldValue::value(object(&view))))
            })
        })
        .description("Store a Stripe configuration for an environment (one per environment); keys encrypted.")
        .argument(InputValue::new("input", TypeRef::named_nn(CONFIGURE_INPUT))),
        Field::new("updateStripeConfig", TypeRef::named_nn(UPDATE_PAYLOAD), move |ctx| {
            let ops = updating.clone();
            FieldFuture::new(async move {
                only_programs(&ctx)?;
                let input = input_of(&ctx)?;
                let check = |secret: &Secret| ops.gateway.check_connection(secret);
                let view = configuration::update(&ops.settings, &ops.store, input, &check).map_err(error)?;
                Ok(Some(FieldValue::value(object(&view))))
            })
        })
        .description("Change the given fields of a Stripe configuration; the others stay.")
        .argument(InputValue::new("input", TypeRef::named_nn(UPDATE_INPUT))),
    ]
}
