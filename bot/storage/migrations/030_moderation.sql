-- Moderation and safety: reports, warnings, bans, mutes, the audit log, and weekly activity for /stats.
-- Reports keep only the reported text and ids, and are deleted after a retention (a scheduler job).

CREATE TABLE reports (
    id          INTEGER PRIMARY KEY,
    place_id    TEXT NOT NULL,                 -- the neighbourhood whose moderators handle it
    circle_id   INTEGER REFERENCES circles(id) ON DELETE SET NULL,
    reporter_id INTEGER REFERENCES people(id) ON DELETE SET NULL,
    reported_id INTEGER REFERENCES people(id) ON DELETE CASCADE,
    text        TEXT NOT NULL DEFAULT '',      -- the reported message, or the reason given
    status      TEXT NOT NULL DEFAULT 'open',  -- open | warned | removed | banned | dismissed
    handled_by  INTEGER REFERENCES people(id) ON DELETE SET NULL,
    handled_at  TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX reports_open ON reports(place_id, status);
CREATE INDEX reports_age ON reports(created_at);

CREATE TABLE warnings (
    id          INTEGER PRIMARY KEY,
    person_id   INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    place_id    TEXT NOT NULL,
    given_by    INTEGER REFERENCES people(id) ON DELETE SET NULL,
    report_id   INTEGER REFERENCES reports(id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX warnings_person ON warnings(person_id);

-- A ban holds the platform accounts (hashed) so the person cannot come back with them, even after
-- /forget; person_id is kept while the person exists, for display.
CREATE TABLE bans (
    id          INTEGER PRIMARY KEY,
    person_id   INTEGER REFERENCES people(id) ON DELETE SET NULL,
    place_id    TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    banned_by   INTEGER REFERENCES people(id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL,
    lifted_at   TEXT
);

CREATE TABLE banned_accounts (
    ban_id      INTEGER NOT NULL REFERENCES bans(id) ON DELETE CASCADE,
    account     TEXT NOT NULL,                 -- sha256 of "platform:user id"
    PRIMARY KEY (ban_id, account)
);
CREATE INDEX banned_accounts_account ON banned_accounts(account);

-- Anti-flood: while a mute runs, the core stops mirroring the person's words to the circle's rooms.
CREATE TABLE mutes (
    person_id   INTEGER PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    circle_id   INTEGER REFERENCES circles(id) ON DELETE CASCADE,
    until       TEXT NOT NULL,
    reason      TEXT NOT NULL,                 -- flood | moderator
    created_at  TEXT NOT NULL
);

-- Who did what to whom, when. Targets are ids ("person:12", "circle:3"), names are looked up on display.
CREATE TABLE audit (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    actor_id    INTEGER REFERENCES people(id) ON DELETE SET NULL, -- NULL: the bot itself
    action      TEXT NOT NULL,
    target      TEXT NOT NULL DEFAULT '',
    details     TEXT NOT NULL DEFAULT '',
    place_id    TEXT                           -- for scoping /audit to a moderator's neighbourhoods
);
CREATE INDEX audit_place ON audit(place_id, id);

-- Who spoke in their circle in which week (Monday, ISO date): /stats "active per week".
CREATE TABLE weekly_active (
    week        TEXT NOT NULL,
    person_id   INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    place_id    TEXT NOT NULL,
    PRIMARY KEY (week, person_id)
);
CREATE INDEX weekly_active_place ON weekly_active(place_id, week);
