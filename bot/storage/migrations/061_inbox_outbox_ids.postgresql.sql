-- PostgreSQL's side of 061: identity columns never give an id twice, so inbox and outbox need no
-- rebuild (their ids are identities from 001); only outbox.claimed_at and the instance's salt are new.
ALTER TABLE outbox ADD COLUMN claimed_at TEXT;

CREATE TABLE instance (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO instance (key, value) VALUES ('salt', substr(md5(random()::text || clock_timestamp()::text), 1, 12));
