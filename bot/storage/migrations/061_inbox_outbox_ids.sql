-- Inbox and outbox ids are never given twice (issue 13). Without AUTOINCREMENT SQLite hands the highest
-- id out again once its row is deleted (an outbox row dropped for a person who was forgotten), and a late
-- answer about the old row (a success written after the send) would then land on the new one. SQLite
-- cannot ALTER a table to AUTOINCREMENT: each table is rebuilt, keeping its rows and indexes.
--
-- claimed_at: when an outbox item was last claimed for sending. A platform that recognises a repeated
-- send (Matrix transaction ids) only does so for a while; an item found 'sending' after that is
-- "may have arrived", not sent again (bot/storage/outbox.py, recover).

CREATE TABLE inbox_rebuilt (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    platform    TEXT NOT NULL,
    external_id TEXT NOT NULL,
    event       TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'new',   -- new | done | failed
    error       TEXT,
    received_at TEXT NOT NULL,
    UNIQUE (platform, external_id)
);
INSERT INTO inbox_rebuilt (id, platform, external_id, event, status, error, received_at)
    SELECT id, platform, external_id, event, status, error, received_at FROM inbox;
DROP TABLE inbox;
ALTER TABLE inbox_rebuilt RENAME TO inbox;
CREATE INDEX inbox_pending ON inbox(status, id);

CREATE TABLE outbox_rebuilt (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    platform    TEXT NOT NULL,
    kind        TEXT NOT NULL,                 -- message | invite | power | mute | remove | work
    chat_id     TEXT NOT NULL,                 -- where it goes (for an invite: the person's private chat)
    payload     TEXT NOT NULL,
    dedupe_key  TEXT UNIQUE,                   -- at most once per (message, target)
    status      TEXT NOT NULL DEFAULT 'pending', -- pending | sending | sent | failed
    attempts    INTEGER NOT NULL DEFAULT 0,
    not_before  TEXT NOT NULL,
    error       TEXT,
    created_at  TEXT NOT NULL,
    sent_at     TEXT,
    claimed_at  TEXT
);
INSERT INTO outbox_rebuilt (id, platform, kind, chat_id, payload, dedupe_key, status, attempts, not_before,
                            error, created_at, sent_at)
    SELECT id, platform, kind, chat_id, payload, dedupe_key, status, attempts, not_before,
           error, created_at, sent_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_rebuilt RENAME TO outbox;
CREATE INDEX outbox_due ON outbox(platform, status, not_before);
CREATE INDEX outbox_chat_order ON outbox(platform, chat_id, id);

-- What tells this deployment's database apart from any other using the same platform account: a fresh
-- database (a reinstall) starts its outbox ids at 1 again, so platform-side keys built from an outbox
-- id (Matrix transaction ids, room aliases) carry this too, and never match an older database's.
CREATE TABLE instance (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO instance (key, value) VALUES ('salt', lower(hex(randomblob(6))));
