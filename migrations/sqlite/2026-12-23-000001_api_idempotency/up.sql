-- Idempotency-Key of the REST API (/v1): one row per (environment,
-- merchant, key). A request holds its row `in_progress` under a lease
-- (claim_token, locked_until) while it runs, then stores its response
-- (`done`) so a retry with the same key and request replays it. Rows
-- expire 24 hours after the first request and are purged.
CREATE TABLE api_idempotency (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    livemode BOOLEAN NOT NULL,
    merchant TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    -- SHA-256 (hex) of the method, path and body of the first request.
    request_hash TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('in_progress', 'done')),
    claim_token TEXT NOT NULL,
    locked_until TIMESTAMP NOT NULL,
    response_status INTEGER,
    response_content_type TEXT,
    -- NULL on a done row: the response was larger than payforms keeps.
    response_body TEXT,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    CHECK (status = 'in_progress' OR response_status IS NOT NULL),
    UNIQUE (livemode, merchant, idempotency_key)
);
CREATE INDEX api_idempotency_expires ON api_idempotency (expires_at);
