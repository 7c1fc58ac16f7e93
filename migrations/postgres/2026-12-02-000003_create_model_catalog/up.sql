-- What `payforms migrate` made of the schema files: one table per model,
-- one column per property with the type it was declared with (a TEXT
-- column may hold a string, a datetime or JSON, so the database alone
-- cannot tell a type change).
CREATE TABLE model_tables (
    table_name TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    file TEXT NOT NULL
);
CREATE TABLE model_columns (
    table_name TEXT NOT NULL REFERENCES model_tables (table_name) ON DELETE CASCADE,
    column_name TEXT NOT NULL,
    property_type TEXT NOT NULL,
    is_unique BIGINT NOT NULL,
    is_indexed BIGINT NOT NULL,
    PRIMARY KEY (table_name, column_name)
);
-- Every change applied, in order, with its SQL.
CREATE TABLE schema_changes (
    id BIGSERIAL PRIMARY KEY,
    table_name TEXT NOT NULL,
    change TEXT NOT NULL,
    statements TEXT NOT NULL,
    applied_at TIMESTAMP NOT NULL
);
