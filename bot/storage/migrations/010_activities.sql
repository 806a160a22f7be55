-- Local activities: organizers (shops, artisans, associations, public services), their events,
-- who is going, calendar feeds they import, and who prefers a weekly digest to one message per event.

CREATE TABLE organizers (
    id          INTEGER PRIMARY KEY,
    person_id   INTEGER NOT NULL UNIQUE REFERENCES people(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,                 -- shop | artisan | association | public
    contact     TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL DEFAULT 'pending', -- pending | approved | rejected
    trusted     INTEGER NOT NULL DEFAULT 0,    -- publishes without the moderation queue
    decided_by  INTEGER REFERENCES people(id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE organizer_places (
    organizer_id INTEGER NOT NULL REFERENCES organizers(id) ON DELETE CASCADE,
    place_id     TEXT NOT NULL,
    PRIMARY KEY (organizer_id, place_id)
);
CREATE INDEX organizer_places_place ON organizer_places(place_id);

CREATE TABLE events (
    id           INTEGER PRIMARY KEY,
    organizer_id INTEGER NOT NULL REFERENCES organizers(id) ON DELETE CASCADE,
    uid          TEXT NOT NULL,                 -- iCalendar UID: ours, or the imported calendar's
    title        TEXT NOT NULL,
    starts_at    TEXT NOT NULL,                 -- ISO UTC
    ends_at      TEXT,
    location     TEXT NOT NULL DEFAULT '',
    description  TEXT NOT NULL DEFAULT '',
    capacity     INTEGER,                       -- NULL: no limit
    interests    TEXT NOT NULL DEFAULT '',      -- space-separated interest keys; '' = everyone
    status       TEXT NOT NULL DEFAULT 'pending', -- pending | published | rejected | cancelled
    source       TEXT NOT NULL DEFAULT 'typed', -- typed | import
    sequence     INTEGER NOT NULL DEFAULT 0,    -- bumped on each change (iCalendar SEQUENCE)
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    announced_at TEXT,
    reminded_at  TEXT,
    UNIQUE (organizer_id, uid)
);
CREATE INDEX events_when ON events(status, starts_at);

CREATE TABLE event_places (
    event_id    INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    place_id    TEXT NOT NULL,
    PRIMARY KEY (event_id, place_id)
);
CREATE INDEX event_places_place ON event_places(place_id);

-- going | maybe | waiting (for a place to free up); position orders the waiting list.
CREATE TABLE rsvps (
    event_id    INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    person_id   INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    status      TEXT NOT NULL,
    position    INTEGER NOT NULL,
    answered_at TEXT NOT NULL,
    PRIMARY KEY (event_id, person_id)
);
CREATE INDEX rsvps_person ON rsvps(person_id);

-- Calendar feeds (.ics URLs) an organizer registered; re-imported periodically.
CREATE TABLE feeds (
    id           INTEGER PRIMARY KEY,
    organizer_id INTEGER NOT NULL REFERENCES organizers(id) ON DELETE CASCADE,
    url          TEXT NOT NULL,
    requested_at TEXT,                          -- an import asked for and not yet run
    last_run_at  TEXT,
    last_result  TEXT NOT NULL DEFAULT '',
    UNIQUE (organizer_id, url)
);

-- Members who prefer one message a week to one message per event.
CREATE TABLE digest_members (
    person_id   INTEGER PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    chosen_at   TEXT NOT NULL
);
