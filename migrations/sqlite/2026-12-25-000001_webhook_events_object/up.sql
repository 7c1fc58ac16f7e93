-- The Stripe object an event is about (`data.object.id`), so the events of
-- one payment, customer or subscription can be listed (the operator
-- console's timelines). NULL for events stored before.
ALTER TABLE webhook_events ADD COLUMN object_id TEXT;
CREATE INDEX webhook_events_object ON webhook_events (merchant, object_id);
