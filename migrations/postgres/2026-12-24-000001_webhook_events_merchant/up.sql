-- Each event belongs to a merchant (the merchant whose endpoint received
-- it; `default` for every event before merchants). Deduplication is per
-- merchant: one merchant sending another's event id first must not make
-- the other's event look like a duplicate.
ALTER TABLE webhook_events ADD COLUMN merchant TEXT NOT NULL DEFAULT 'default';
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_gateway_event_id_key;
ALTER TABLE webhook_events
    ADD CONSTRAINT webhook_events_gateway_merchant_event_id_key UNIQUE (gateway, merchant, event_id);
-- One merchant's events by status, newest first.
CREATE INDEX webhook_events_by_merchant ON webhook_events (merchant, status, id);
