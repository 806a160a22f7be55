-- Several workers on one database (issue 16). Portable SQL: it runs on SQLite and PostgreSQL alike.

-- A lease: ``name`` is held by ``holder`` (a worker "host:pid:random") until ``expires_at`` (ISO 8601
-- UTC with milliseconds, compared as text). Worker liveness ("worker:<id>"), the platform intake
-- ("intake:telegram"), the circle-room changes ("rooms:matrix") and the claim turns are leases.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    acquired_at TEXT NOT NULL
);

-- Inbox events are claimed per chat: a worker holds every waiting event of a chat while it handles
-- them, so a chat's events are handled in order, by one worker at a time. ``chat`` is
-- "platform|chat id" (empty for events stored before this upgrade: they form one queue).
ALTER TABLE inbox ADD COLUMN chat TEXT NOT NULL DEFAULT '';
ALTER TABLE inbox ADD COLUMN claimed_by TEXT;
ALTER TABLE inbox ADD COLUMN claimed_until TEXT;
CREATE INDEX inbox_chat ON inbox(chat, status);

-- Which worker is sending an outbox item ('sending'): a dead worker's sends are recovered ("may have
-- arrived") by the others, a live worker's are left alone; and a chat's next item waits while an
-- earlier one is being sent by another worker.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;

-- One sending budget per platform, shared by every worker: the moment (seconds since the epoch) the
-- next send may start. Each send takes the next slot with one atomic UPSERT (bot/storage/send_rate.py).
CREATE TABLE send_budget (
    platform    TEXT PRIMARY KEY,
    next_at     DOUBLE PRECISION NOT NULL
);
