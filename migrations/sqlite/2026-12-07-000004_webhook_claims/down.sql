DROP INDEX webhook_events_by_status;
DROP INDEX webhook_events_leased;
DROP INDEX webhook_events_waiting;
CREATE INDEX webhook_events_due ON webhook_events (status, next_attempt_at);
