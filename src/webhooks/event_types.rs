//! Which Stripe events payforms subscribes to: exactly those the app has a
//! processor for. A processor named with a wildcard (`payment_intent.*`)
//! or in platformOS's underscore spelling (`payment_intent_succeeded`) is
//! matched against Stripe's event types listed here, since Stripe's
//! `enabled_events` takes only full names (or `*`).

use std::collections::BTreeSet;

use crate::app::App;

/// Stripe's event types for the objects payforms' request types create.
pub const STRIPE_EVENT_TYPES: &[&str] = &[
    "account.updated",
    "account.application.authorized",
    "account.application.deauthorized",
    "account.external_account.created",
    "account.external_account.deleted",
    "account.external_account.updated",
    "balance.available",
    "charge.captured",
    "charge.expired",
    "charge.failed",
    "charge.pending",
    "charge.refunded",
    "charge.succeeded",
    "charge.updated",
    "charge.dispute.closed",
    "charge.dispute.created",
    "charge.dispute.funds_reinstated",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.updated",
    "charge.refund.updated",
    "checkout.session.async_payment_failed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.completed",
    "checkout.session.expired",
    "customer.created",
    "customer.deleted",
    "customer.updated",
    "customer.discount.created",
    "customer.discount.deleted",
    "customer.discount.updated",
    "customer.source.created",
    "customer.source.deleted",
    "customer.source.expiring",
    "customer.source.updated",
    "customer.subscription.created",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.pending_update_applied",
    "customer.subscription.pending_update_expired",
    "customer.subscription.resumed",
    "customer.subscription.trial_will_end",
    "customer.subscription.updated",
    "invoice.created",
    "invoice.deleted",
    "invoice.finalization_failed",
    "invoice.finalized",
    "invoice.marked_uncollectible",
    "invoice.overdue",
    "invoice.paid",
    "invoice.payment_action_required",
    "invoice.payment_failed",
    "invoice.payment_succeeded",
    "invoice.sent",
    "invoice.upcoming",
    "invoice.updated",
    "invoice.voided",
    "payment_intent.amount_capturable_updated",
    "payment_intent.canceled",
    "payment_intent.created",
    "payment_intent.partially_funded",
    "payment_intent.payment_failed",
    "payment_intent.processing",
    "payment_intent.requires_action",
    "payment_intent.succeeded",
    "payment_method.attached",
    "payment_method.automatically_updated",
    "payment_method.detached",
    "payment_method.updated",
    "payout.canceled",
    "payout.created",
    "payout.failed",
    "payout.paid",
    "payout.reconciliation_completed",
    "payout.updated",
    "price.created",
    "price.deleted",
    "price.updated",
    "product.created",
    "product.deleted",
    "product.updated",
    "refund.created",
    "refund.failed",
    "refund.updated",
    "setup_intent.canceled",
    "setup_intent.created",
    "setup_intent.requires_action",
    "setup_intent.setup_failed",
    "setup_intent.succeeded",
    "transfer.created",
    "transfer.reversed",
    "transfer.updated",
];

/// The events to subscribe to, sorted: every event type some processor
/// of `app` handles.
pub fn handled_event_types(app: &App) -> Vec<String> {
    let mut events = BTreeSet::new();
    for name in app.webhook_processors.keys() {
        let local = match name.strip_prefix("modules/") {
            Some(rest) => rest.split_once('/').map_or(rest, |(_, local)| local),
            None => name.as_str(),
        };
        if let Some(prefix) = local.strip_suffix(".*") {
            let prefix = format!("{prefix}.");
            events.extend(
                STRIPE_EVENT_TYPES
                    .iter()
                    .filter(|t| t.starts_with(&prefix))
                    .map(|t| t.to_string()),
            );
        } else if local.contains('.') {
            events.insert(local.to_string());
        } else if let Some(found) = STRIPE_EVENT_TYPES.iter().find(|t| t.replace('.', "_") == local) {
            events.insert(found.to_string());
        } else {
            tracing::warn!("webhook processor `{name}` matches no Stripe event type; it is not subscribed to");
        }
    }
    events.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_has_no_duplicates() {
        let unique: BTreeSet<&&str> = STRIPE_EVENT_TYPES.iter().collect();
        assert_eq!(unique.len(), STRIPE_EVENT_TYPES.len());
    }
}
