-- The money journal: a request type that can take money (moves_money) is
-- written here before it is sent, and closed when its submission finishes
-- (settled) or when payforms has reversed it (refunded, canceled). A row
-- left open by a dead process is resolved by another instance once its
-- lease (due_at) ends.
CREATE TABLE money_journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    submission_key TEXT,
    request_type TEXT NOT NULL,
    data TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'compensating', 'closed')),
    outcome TEXT
        CHECK (outcome IS NULL OR outcome IN ('settled', 'nothing_held', 'not_sent', 'refunded', 'canceled')),
    reason TEXT,
    gateway_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    due_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    closed_at TIMESTAMP
);
CREATE INDEX money_journal_due ON money_journal (due_at, id) WHERE status IN ('open', 'compensating');
