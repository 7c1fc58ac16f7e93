DROP INDEX api_idempotency_expires;
DROP TABLE api_idempotency;
