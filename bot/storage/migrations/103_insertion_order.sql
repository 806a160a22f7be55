-- Tables without an id that are read back in the order their rows were inserted (an organizer's
-- places, an event's places, everyone told about a check-in): SQLite's rowid already keeps that order,
-- nothing to do here. PostgreSQL has no rowid: 101_insertion_order.postgresql.sql adds a `seq` column
-- (bot/storage/dialect.py, Dialect.insertion_order).
SELECT 1;
