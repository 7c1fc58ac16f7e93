-- Records of every model in one table; properties are a JSON object.
CREATE TABLE records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model TEXT NOT NULL,
    properties TEXT NOT NULL CHECK (json_valid(properties)),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- Listing a model by time (the default order) or by id.
CREATE INDEX records_model_created ON records (model, created_at, id);
CREATE INDEX records_model_updated ON records (model, updated_at, id);
CREATE INDEX records_model_id ON records (model, id);

-- One row per non-null property of a record, typed for indexing: strings,
-- booleans and integers (exact) by text_value; integers, floats and
-- datetimes (unix seconds) by num_value. created_at is copied from the
-- record (it never changes) so "filter by value, newest first" is one
-- index range read in order.
CREATE TABLE record_values (
    record_id INTEGER NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    property TEXT NOT NULL,
    text_value TEXT,
    num_value REAL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (record_id, property)
);
-- Partial: a text test can never pick the numeric index and vice versa,
-- whatever the planner's statistics say.
CREATE INDEX record_values_text ON record_values (model, property, text_value, created_at, record_id)
    WHERE text_value IS NOT NULL;
CREATE INDEX record_values_num ON record_values (model, property, num_value, record_id)
    WHERE num_value IS NOT NULL;

-- unique: true, enforced by the database.
CREATE TABLE record_uniques (
    model TEXT NOT NULL,
    property TEXT NOT NULL,
    value TEXT NOT NULL,
    record_id INTEGER NOT NULL REFERENCES records (id) ON DELETE CASCADE,
    PRIMARY KEY (model, property, value)
);
CREATE INDEX record_uniques_record ON record_uniques (record_id);
