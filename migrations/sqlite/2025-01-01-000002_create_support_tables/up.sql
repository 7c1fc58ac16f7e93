-- Idempotency of form submissions: one rendered form, one effect.
CREATE TABLE form_submissions (
    idempotency_key TEXT PRIMARY KEY,
    form TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('processing', 'done')),
    result TEXT,
    created_at TIMESTAMP NOT NULL
);

-- The durable webhook inbox.
CREATE TABLE webhook_events (
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
CREATE INDEX webhook_events_due ON webhook_events (status, next_attempt_at);

-- Small named values (gateway secrets arrive encrypted).
CREATE TABLE settings_kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
