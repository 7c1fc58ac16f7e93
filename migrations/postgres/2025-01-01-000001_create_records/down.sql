DROP TABLE record_uniques;
DROP TABLE record_values;
DROP TABLE records;
