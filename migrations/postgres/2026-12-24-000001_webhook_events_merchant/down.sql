-- Fails if two merchants stored one event id: which to keep is not ours
-- to guess.
DROP INDEX webhook_events_by_merchant;
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_gateway_merchant_event_id_key;
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_gateway_event_id_key UNIQUE (gateway, event_id);
ALTER TABLE webhook_events DROP COLUMN merchant;
