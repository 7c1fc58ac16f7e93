-- Merchants: each has its own Stripe credentials, notification URL and
-- records (the records' `merchant` column). The app's own pages and forms
-- are the merchant `default`. Secrets are AES-256-GCM ciphertexts
-- (`v2:<key id>:...`) bound to the merchant and column, never clear text.
CREATE TABLE merchants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    stripe_secret_key_encrypted TEXT,
    stripe_webhook_secret_encrypted TEXT,
    webhook_url TEXT,
    webhook_signing_secret_encrypted TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- API keys: only a SHA-256 of the key is kept; `prefix` (its first
-- characters) lets an operator tell keys apart. Revoked keys stay, for
-- the record.
CREATE TABLE api_keys (
    id BIGSERIAL PRIMARY KEY,
    key_id TEXT NOT NULL UNIQUE,
    merchant_id TEXT NOT NULL REFERENCES merchants (id),
    name TEXT,
    key_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    last_used_at TIMESTAMP
);
CREATE INDEX api_keys_merchant_idx ON api_keys (merchant_id);
