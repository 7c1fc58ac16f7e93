-- Stripe configurations stored at run time, one per environment. The
-- secret key and the webhook secret are AES-256-GCM ciphertexts
-- (`v2:<key id>:...`), never clear text.
CREATE TABLE gateway_configs (
    id BIGSERIAL PRIMARY KEY,
    gateway TEXT NOT NULL,
    environment TEXT NOT NULL CHECK (environment IN ('test', 'live')),
    publishable_key TEXT NOT NULL,
    secret_key_encrypted TEXT NOT NULL,
    webhook_secret_encrypted TEXT,
    status TEXT NOT NULL DEFAULT 'unchecked',
    status_reason TEXT,
    checked_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (gateway, environment)
);
