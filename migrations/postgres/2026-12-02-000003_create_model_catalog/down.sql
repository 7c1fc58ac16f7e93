DROP TABLE schema_changes;
DROP TABLE model_columns;
DROP TABLE model_tables;
