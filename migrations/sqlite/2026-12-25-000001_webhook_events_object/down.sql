DROP INDEX webhook_events_object;
ALTER TABLE webhook_events DROP COLUMN object_id;
