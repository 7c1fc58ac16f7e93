-- Claiming due webhook events reads an index in order and stops at the
-- batch size, however many events are stored: waiting events by due time,
-- expired leases by lease end. Events out of attempts are due "never"
-- (9999-12-31), so they sit at the end of the index until replayed.
DROP INDEX webhook_events_due;
CREATE INDEX webhook_events_waiting ON webhook_events (next_attempt_at, id) WHERE status IN ('pending', 'failed');
CREATE INDEX webhook_events_leased ON webhook_events (locked_until) WHERE status = 'processing';
-- Operators list events by status, newest first.
CREATE INDEX webhook_events_by_status ON webhook_events (status, id);
