DROP TABLE settings_kv;
DROP TABLE webhook_events;
DROP TABLE form_submissions;
