-- People, their platform accounts, circles and their rooms, stored conversations,
-- and the durable inbox and outbox. Times are ISO 8601 UTC text.

-- A person, whatever app they use. Only what the circle needs: a first name, a neighbourhood
-- (never an address), what they like, what help they offer or would welcome.
CREATE TABLE people (
    id              INTEGER PRIMARY KEY,
    first_name      TEXT NOT NULL DEFAULT '',
    language        TEXT NOT NULL DEFAULT 'fr',
    consent_at      TEXT,                      -- when they said yes to what is stored
    place_id        TEXT,
    interests       TEXT NOT NULL DEFAULT '',  -- space-separated interest keys
    offers          TEXT NOT NULL DEFAULT '',  -- help they could give
    wants           TEXT NOT NULL DEFAULT '',  -- help they would welcome
    checkins        INTEGER NOT NULL DEFAULT 0,
    contact_person_id INTEGER REFERENCES people(id) ON DELETE SET NULL, -- who is told if no answer
    contact_confirmed_at TEXT,                 -- that person's own yes to the role
    onboarded_at    TEXT,
    last_active_at  TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX people_place ON people(place_id);

-- One row per platform account of a person (a person may use Telegram and Matrix).
CREATE TABLE identities (
    platform        TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    person_id       INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    private_chat_id TEXT NOT NULL,
    unreachable_at  TEXT,                      -- blocked the bot / account gone: do not send
    PRIMARY KEY (platform, user_id)
);
CREATE INDEX identities_person ON identities(person_id);

-- Where a person is in a guided conversation (onboarding, profile, …), so a restart resumes there.
CREATE TABLE conversations (
    person_id   INTEGER PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    flow        TEXT NOT NULL,
    step        TEXT NOT NULL,
    data        TEXT NOT NULL DEFAULT '{}',
    updated_at  TEXT NOT NULL
);

-- The last choices offered in a chat, so "2" or "English" typed on a platform without buttons
-- (Matrix, the console) means the same as pressing the button.
CREATE TABLE offered_choices (
    platform    TEXT NOT NULL,
    chat_id     TEXT NOT NULL,
    choices     TEXT NOT NULL,                 -- JSON [[label, payload], …]
    PRIMARY KEY (platform, chat_id)
);

CREATE TABLE circles (
    id          INTEGER PRIMARY KEY,
    place_id    TEXT NOT NULL,
    number      INTEGER NOT NULL,              -- "Belleville · 3"
    status      TEXT NOT NULL DEFAULT 'open',  -- open | merged
    created_at  TEXT NOT NULL,
    UNIQUE (place_id, number)
);
CREATE INDEX circles_place ON circles(place_id, status);

CREATE TABLE circle_members (
    circle_id   INTEGER NOT NULL REFERENCES circles(id) ON DELETE CASCADE,
    person_id   INTEGER NOT NULL UNIQUE REFERENCES people(id) ON DELETE CASCADE,
    role        TEXT NOT NULL DEFAULT 'member', -- member | host
    joined_at   TEXT NOT NULL,
    PRIMARY KEY (circle_id, person_id)
);

-- One room per platform per circle: a Telegram group, a Matrix room, a console room.
CREATE TABLE circle_rooms (
    circle_id   INTEGER NOT NULL REFERENCES circles(id) ON DELETE CASCADE,
    platform    TEXT NOT NULL,
    chat_id     TEXT NOT NULL,
    PRIMARY KEY (circle_id, platform),
    UNIQUE (platform, chat_id)
);

-- Durable inbox: an event is stored (with the platform cursor, in the same transaction) before the
-- platform is told it was received, and marked done in the transaction that stores its effects.
-- Once done its content is blanked: only the id stays, to recognise a duplicate.
CREATE TABLE inbox (
    id          INTEGER PRIMARY KEY,
    platform    TEXT NOT NULL,
    external_id TEXT NOT NULL,
    event       TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'new',   -- new | done | failed
    error       TEXT,
    received_at TEXT NOT NULL,
    UNIQUE (platform, external_id)
);
CREATE INDEX inbox_pending ON inbox(status, id);

-- The platform's position: Telegram's update offset, Matrix's next_batch.
CREATE TABLE cursors (
    platform    TEXT PRIMARY KEY,
    value       TEXT NOT NULL
);

-- Durable outbox: every message and invite is written here in the transaction that decided it.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    platform    TEXT NOT NULL,
    kind        TEXT NOT NULL,                 -- message | invite
    chat_id     TEXT NOT NULL,                 -- where it goes (for an invite: the person's private chat)
    payload     TEXT NOT NULL,
    dedupe_key  TEXT UNIQUE,                   -- at most once per (message, target)
    status      TEXT NOT NULL DEFAULT 'pending', -- pending | sending | sent | failed
    attempts    INTEGER NOT NULL DEFAULT 0,
    not_before  TEXT NOT NULL,
    error       TEXT,
    created_at  TEXT NOT NULL,
    sent_at     TEXT
);
CREATE INDEX outbox_due ON outbox(platform, status, not_before);

-- Periodic passes: when each last ran, and which process holds it now.
CREATE TABLE jobs (
    name        TEXT PRIMARY KEY,
    last_run_at TEXT,
    lease_owner TEXT,
    lease_until TEXT
);
