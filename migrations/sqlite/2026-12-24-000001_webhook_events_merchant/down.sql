-- Fails if two merchants stored one event id: which to keep is not ours
-- to guess.
CREATE TABLE webhook_events_old (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    gateway TEXT NOT NULL,
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
    UNIQUE (gateway, event_id)
);
INSERT INTO webhook_events_old (id, gateway, event_id, event_type, payload, status, attempts,
                                last_error, next_attempt_at, locked_until, created_at, processed_at)
    SELECT id, gateway, event_id, event_type, payload, status, attempts,
           last_error, next_attempt_at, locked_until, created_at, processed_at
    FROM webhook_events;
DELETE FROM sqlite_sequence WHERE name = 'webhook_events_old';
INSERT INTO sqlite_sequence (name, seq) SELECT 'webhook_events_old', seq FROM sqlite_sequence WHERE name = 'webhook_events';
DROP TABLE webhook_events;
ALTER TABLE webhook_events_old RENAME TO webhook_events;
CREATE INDEX webhook_events_waiting ON webhook_events (next_attempt_at, id) WHERE status IN ('pending', 'failed');
CREATE INDEX webhook_events_leased ON webhook_events (locked_until) WHERE status = 'processing';
CREATE INDEX webhook_events_by_status ON webhook_events (status, id);
