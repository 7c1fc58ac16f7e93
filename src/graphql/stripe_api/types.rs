//! Seed 004's GraphQL types: `StripeCustomer`, `StripePaymentIntent`, …,
//! their Relay connections, and the inputs of its mutations. Output
//! objects read the keys of the views built in [`super::views`].

use async_graphql::dynamic::{InputObject, InputValue, Object, TypeRef};

use super::super::models::PAGE_INFO;
use super::super::values::{key_field, MAP, TIME};

pub const CUSTOMER: &str = "StripeCustomer";
pub const PAYMENT_INTENT: &str = "StripePaymentIntent";
pub const SUBSCRIPTION: &str = "StripeSubscription";
pub const PRODUCT: &str = "StripeProduct";
pub const PRICE: &str = "StripePrice";
pub const INVOICE: &str = "StripeInvoice";
pub const REFUND: &str = "StripeRefund";
pub const PAYMENT_METHOD: &str = "StripePaymentMethod";

const SUBSCRIPTION_ITEMS: &str = "StripeSubscriptionItems";
const SUBSCRIPTION_ITEM: &str = "StripeSubscriptionItem";
const RECURRING: &str = "StripeRecurring";
const INVOICE_LINES: &str = "StripeInvoiceLineItems";
const INVOICE_LINE: &str = "StripeInvoiceLineItem";
const CARD: &str = "StripeCard";

pub const CUSTOMER_INPUT: &str = "StripeCustomerInput";
pub const PAYMENT_INTENT_INPUT: &str = "StripePaymentIntentInput";
pub const PAYMENT_INTENT_UPDATE_INPUT: &str = "StripePaymentIntentUpdateInput";
pub const CONFIRM_INPUT: &str = "StripeConfirmPaymentIntentInput";
pub const SUBSCRIPTION_INPUT: &str = "StripeSubscriptionInput";
pub const SUBSCRIPTION_ITEM_INPUT: &str = "StripeSubscriptionItemInput";
pub const SUBSCRIPTION_UPDATE_INPUT: &str = "StripeSubscriptionUpdateInput";
pub const PRODUCT_INPUT: &str = "StripeProductInput";
pub const PRICE_INPUT: &str = "StripePriceInput";
pub const RECURRING_INPUT: &str = "StripeRecurringInput";
pub const REFUND_INPUT: &str = "StripeRefundInput";
pub const ATTACH_INPUT: &str = "StripeAttachPaymentMethodInput";

/// Objects with a connection: `StripeCustomerConnection`, `…Edge`.
const LISTED: [&str; 8] = [
    CUSTOMER,
    PAYMENT_INTENT,
    SUBSCRIPTION,
    PRODUCT,
    PRICE,
    INVOICE,
    REFUND,
    PAYMENT_METHOD,
];

pub fn connection(node: &str) -> String {
    format!("{node}Connection")
}

fn edge(node: &str) -> String {
    format!("{node}Edge")
}

/// Every type name this API defines, to claim them before building.
pub fn type_names() -> Vec<String> {
    let mut names: Vec<String> = LISTED
        .iter()
        .flat_map(|node| [node.to_string(), connection(node), edge(node)])
        .collect();
    names.extend(
        [
            SUBSCRIPTION_ITEMS,
            SUBSCRIPTION_ITEM,
            RECURRING,
            INVOICE_LINES,
            INVOICE_LINE,
            CARD,
            CUSTOMER_INPUT,
            PAYMENT_INTENT_INPUT,
            PAYMENT_INTENT_UPDATE_INPUT,
            CONFIRM_INPUT,
            SUBSCRIPTION_INPUT,
            SUBSCRIPTION_ITEM_INPUT,
            SUBSCRIPTION_UPDATE_INPUT,
            PRODUCT_INPUT,
            PRICE_INPUT,
            RECURRING_INPUT,
            REFUND_INPUT,
            ATTACH_INPUT,
        ]
        .map(String::from),
    );
    names
}

fn object(name: &str, description: &str, fields: &[(&str, TypeRef)]) -> Object {
    fields
        .iter()
        .fold(Object::new(name).description(description), |object, (field, ty)| {
            object.field(key_field(field, ty.clone()))
        })
}

fn input(name: &str, fields: &[(&str, TypeRef)]) -> InputObject {
    fields.iter().fold(InputObject::new(name), |input, (field, ty)| {
        input.field(InputValue::new(*field, ty.clone()))
    })
}

fn s() -> TypeRef {
    TypeRef::named(TypeRef::STRING)
}
fn id() -> TypeRef {
    TypeRef::named_nn(TypeRef::ID)
}
fn int() -> TypeRef {
    TypeRef::named(TypeRef::INT)
}
fn float() -> TypeRef {
    TypeRef::named(TypeRef::FLOAT)
}
fn boolean() -> TypeRef {
    TypeRef::named(TypeRef::BOOLEAN)
}
fn map() -> TypeRef {
    TypeRef::named(MAP)
}
fn time() -> TypeRef {
    TypeRef::named(TIME)
}

/// The fields every object has.
fn common(mut fields: Vec<(&'static str, TypeRef)>) -> Vec<(&'static str, TypeRef)> {
    fields.splice(0..0, [("id", id()), ("object", TypeRef::named_nn(TypeRef::STRING))]);
    fields.extend([("metadata", map()), ("createdAt", time())]);
    fields
}

pub fn objects() -> Vec<Object> {
    let amount_note = "Decimal, in the currency's unit (12.35 USD); the `…Minor` field has the integer minor units.";
    let mut objects = vec![
        object(
            CUSTOMER,
            "A Stripe Customer.",
            &common(vec![
                ("name", s()),
                ("email", s()),
                ("phone", s()),
                ("description", s()),
                ("defaultPaymentMethodId", s()),
            ]),
        ),
        object(
            PAYMENT_INTENT,
            amount_note,
            &common(vec![
                ("customerId", s()),
                ("paymentMethodId", s()),
                ("currency", s()),
                ("amount", float()),
                ("amountMinor", int()),
                ("status", s()),
                ("clientSecret", s()),
                ("description", s()),
            ]),
        ),
        object(
            SUBSCRIPTION,
            "A Stripe Subscription.",
            &common(vec![
                ("customerId", s()),
                ("status", s()),
                ("currentPeriodStart", time()),
                ("currentPeriodEnd", time()),
                ("cancelAtPeriodEnd", TypeRef::named_nn(TypeRef::BOOLEAN)),
                ("canceledAt", time()),
                ("latestInvoiceId", s()),
                ("items", TypeRef::named_nn(SUBSCRIPTION_ITEMS)),
            ]),
        ),
        object(
            SUBSCRIPTION_ITEMS,
            "A subscription's items.",
            &[("data", TypeRef::named_nn_list_nn(SUBSCRIPTION_ITEM))],
        ),
        object(
            SUBSCRIPTION_ITEM,
            "One price of a subscription.",
            &[("id", s()), ("priceId", s()), ("quantity", int())],
        ),
        object(
            PRODUCT,
            "A Stripe Product.",
            &common(vec![
                ("name", s()),
                ("description", s()),
                ("active", TypeRef::named_nn(TypeRef::BOOLEAN)),
            ]),
        ),
        object(
            PRICE,
            amount_note,
            &common(vec![
                ("productId", s()),
                ("active", TypeRef::named_nn(TypeRef::BOOLEAN)),
                ("currency", s()),
                ("unitAmount", float()),
                ("unitAmountMinor", int()),
                ("recurring", TypeRef::named(RECURRING)),
            ]),
        ),
        object(
            RECURRING,
            "How often a recurring price bills.",
            &[("interval", s()), ("intervalCount", int())],
        ),
        object(
            INVOICE,
            amount_note,
            &common(vec![
                ("customerId", s()),
                ("subscriptionId", s()),
                ("currency", s()),
                ("amountPaid", float()),
                ("amountDue", float()),
                ("amountPaidMinor", int()),
                ("amountDueMinor", int()),
                ("status", s()),
                ("hostedInvoiceUrl", s()),
                ("lineItems", TypeRef::named_nn(INVOICE_LINES)),
            ]),
        ),
        object(
            INVOICE_LINES,
            "An invoice's lines.",
            &[("data", TypeRef::named_nn_list_nn(INVOICE_LINE))],
        ),
        object(
            INVOICE_LINE,
            amount_note,
            &[
                ("id", s()),
                ("description", s()),
                ("currency", s()),
                ("amount", float()),
                ("amountMinor", int()),
                ("quantity", int()),
            ],
        ),
        object(
            REFUND,
            amount_note,
            &common(vec![
                ("paymentIntentId", s()),
                ("reason", s()),
                ("status", s()),
                ("currency", s()),
                ("amount", float()),
                ("amountMinor", int()),
            ]),
        ),
        object(
            PAYMENT_METHOD,
            "A saved payment method: only the card's safe details.",
            &common(vec![("customerId", s()), ("type", s()), ("card", TypeRef::named(CARD))]),
        ),
        object(
            CARD,
            "A card's brand, expiry and last four digits.",
            &[("brand", s()), ("expMonth", int()), ("expYear", int()), ("last4", s())],
        ),
    ];
    for node in LISTED {
        objects.push(
            Object::new(edge(node))
                .field(key_field("node", TypeRef::named_nn(node)))
                .field(key_field("cursor", TypeRef::named_nn(TypeRef::STRING))),
        );
        objects.push(
            Object::new(connection(node))
                .field(key_field("edges", TypeRef::named_nn_list_nn(edge(node))))
                .field(key_field("nodes", TypeRef::named_nn_list_nn(node)))
                .field(key_field("pageInfo", TypeRef::named_nn(PAGE_INFO))),
        );
    }
    objects
}

pub fn inputs() -> Vec<InputObject> {
    let decimal = || TypeRef::named(TypeRef::FLOAT);
    vec![
        input(
            CUSTOMER_INPUT,
            &[
                ("name", s()),
                ("email", s()),
                ("phone", s()),
                ("description", s()),
                ("metadata", map()),
            ],
        ),
        input(
            PAYMENT_INTENT_INPUT,
            &[
                ("amount", TypeRef::named_nn(TypeRef::FLOAT)),
                ("currency", TypeRef::named_nn(TypeRef::STRING)),
                ("customerId", s()),
                ("paymentMethodId", s()),
                ("automaticPaymentMethods", boolean()),
                ("confirm", boolean()),
                ("captureMethod", s()),
                ("returnUrl", s()),
                ("description", s()),
                ("receiptEmail", s()),
                ("metadata", map()),
            ],
        ),
        input(
            PAYMENT_INTENT_UPDATE_INPUT,
            &[
                ("amount", decimal()),
                ("currency", s()),
                ("customerId", s()),
                ("paymentMethodId", s()),
                ("description", s()),
                ("metadata", map()),
            ],
        ),
        input(CONFIRM_INPUT, &[("paymentMethodId", s()), ("returnUrl", s())]),
        input(
            SUBSCRIPTION_INPUT,
            &[
                ("customerId", TypeRef::named_nn(TypeRef::STRING)),
                // A list; a single object is taken as a list of one, as
                // GraphQL coerces it.
                ("items", TypeRef::named_nn_list_nn(SUBSCRIPTION_ITEM_INPUT)),
                ("metadata", map()),
                ("trialPeriodDays", int()),
                ("paymentBehavior", s()),
                ("defaultPaymentMethod", s()),
            ],
        ),
        input(
            SUBSCRIPTION_ITEM_INPUT,
            &[("priceId", TypeRef::named_nn(TypeRef::STRING)), ("quantity", int())],
        ),
        input(
            SUBSCRIPTION_UPDATE_INPUT,
            &[
                ("cancelAtPeriodEnd", boolean()),
                ("defaultPaymentMethod", s()),
                ("prorationBehavior", s()),
                ("metadata", map()),
            ],
        ),
        input(
            PRODUCT_INPUT,
            &[
                ("name", TypeRef::named_nn(TypeRef::STRING)),
                ("description", s()),
                ("active", boolean()),
                ("metadata", map()),
            ],
        ),
        input(
            PRICE_INPUT,
            &[
                ("productId", TypeRef::named_nn(TypeRef::STRING)),
                ("unitAmount", TypeRef::named_nn(TypeRef::FLOAT)),
                ("currency", TypeRef::named_nn(TypeRef::STRING)),
                ("recurring", TypeRef::named(RECURRING_INPUT)),
                ("nickname", s()),
                ("metadata", map()),
            ],
        ),
        input(
            RECURRING_INPUT,
            &[
                ("interval", TypeRef::named_nn(TypeRef::STRING)),
                ("intervalCount", int()),
            ],
        ),
        input(
            REFUND_INPUT,
            &[
                ("paymentIntentId", TypeRef::named_nn(TypeRef::STRING)),
                ("amount", decimal()),
                ("reason", s()),
                ("metadata", map()),
            ],
        ),
        input(ATTACH_INPUT, &[("customerId", TypeRef::named_nn(TypeRef::STRING))]),
    ]
}
