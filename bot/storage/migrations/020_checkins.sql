-- Check-ins: asking members who went quiet whether all is well, and telling someone when nobody
-- answers. Times are ISO 8601 UTC text, like everywhere else.

-- One row per check-in asked. ``closed_at`` NULL means the question is still open: no second
-- check-in for that person while it is (the partial unique index). ``resolved_at`` NULL keeps the
-- row on the moderators' /quiet list (a chat asked for, an escalation nobody has settled yet).
CREATE TABLE checkins (
    id           INTEGER PRIMARY KEY,
    person_id    INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    helper_id    INTEGER REFERENCES people(id) ON DELETE SET NULL, -- asked through this helper
    asked_at     TEXT NOT NULL,
    reminded_at  TEXT,
    answer       TEXT,              -- fine | chat | away | stop | seen | active | off
    answered_at  TEXT,
    escalated_at TEXT,
    told_id      INTEGER REFERENCES people(id) ON DELETE SET NULL, -- who was told (no answer, or a chat)
    told_role    TEXT,              -- contact | host | moderator | admin
    outcome      TEXT,              -- ok | unreached | talked | resolved
    outcome_by   INTEGER REFERENCES people(id) ON DELETE SET NULL,
    outcome_at   TEXT,
    closed_at    TEXT,
    resolved_at  TEXT
);
CREATE UNIQUE INDEX checkins_one_open ON checkins(person_id) WHERE closed_at IS NULL;
CREATE INDEX checkins_person ON checkins(person_id, closed_at);
CREATE INDEX checkins_pending ON checkins(asked_at) WHERE closed_at IS NULL;
CREATE INDEX checkins_unresolved ON checkins(person_id) WHERE resolved_at IS NULL;

-- "I'm away until …": no check-in before ``until`` (and the threshold counts from it).
CREATE TABLE checkin_away (
    person_id   INTEGER PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    until       TEXT NOT NULL,
    set_at      TEXT NOT NULL
);

-- A neighbour without a phone, registered with their consent by a helper (family, volunteer,
-- postal worker) who receives their check-ins.
CREATE TABLE checkin_helpers (
    person_id   INTEGER PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    helper_id   INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    consent_confirmed_at TEXT NOT NULL,  -- the helper's "this person agreed"
    created_at  TEXT NOT NULL
);
CREATE INDEX checkin_helpers_helper ON checkin_helpers(helper_id);

-- The daily pass reads only members who opted in and went quiet: a range of this small index,
-- never a scan of everyone.
CREATE INDEX people_checkins_quiet ON people(last_active_at) WHERE checkins = 1 AND onboarded_at IS NOT NULL;
