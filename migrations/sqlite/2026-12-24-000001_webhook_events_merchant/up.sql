-- Each event belongs to a merchant (the merchant whose endpoint received
-- it; `default` for every event before merchants). Deduplication is per
-- merchant: one merchant sending another's event id first must not make
-- the other's event look like a duplicate. SQLite cannot change a table's
-- UNIQUE constraint, so the table is rebuilt (ids kept).
CREATE TABLE webhook_events_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    gateway TEXT NOT NULL,
    merchant TEXT NOT NULL DEFAULT 'default',
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'processing', 'processed', 'skipped', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_attempt_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    processed_at TIMESTAMP,
    UNIQUE (gateway, merchant, event_id)
);
INSERT INTO webhook_events_new (id, gateway, merchant, event_id, event_type, payload, status, attempts,
                                last_error, next_attempt_at, locked_until, created_at, processed_at)
    SELECT id, gateway, 'default', event_id, event_type, payload, status, attempts,
           last_error, next_attempt_at, locked_until, created_at, processed_at
    FROM webhook_events;
-- New ids continue after every id ever given, as before.
DELETE FROM sqlite_sequence WHERE name = 'webhook_events_new';
INSERT INTO sqlite_sequence (name, seq) SELECT 'webhook_events_new', seq FROM sqlite_sequence WHERE name = 'webhook_events';
DROP TABLE webhook_events;
ALTER TABLE webhook_events_new RENAME TO webhook_events;
CREATE INDEX webhook_events_waiting ON webhook_events (next_attempt_at, id) WHERE status IN ('pending', 'failed');
CREATE INDEX webhook_events_leased ON webhook_events (locked_until) WHERE status = 'processing';
CREATE INDEX webhook_events_by_status ON webhook_events (status, id);
-- One merchant's events by status, newest first.
CREATE INDEX webhook_events_by_merchant ON webhook_events (merchant, status, id);
