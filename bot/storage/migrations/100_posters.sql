-- Posters and cards that shops, associations and moderators print (/affiche): each one's join link
-- carries its token, so the poster's maker sees how many neighbours joined through it. Counts only:
-- who joined through which poster is never stored (the token lives in the onboarding conversation,
-- which is deleted when onboarding ends).
CREATE TABLE posters (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    token         TEXT NOT NULL UNIQUE,          -- 8 letters and digits, in the link's start code
    place_id      TEXT NOT NULL,
    person_id     INTEGER,                       -- who asked for it (NULL: the command line, or erased)
    organizer_id  INTEGER,                       -- the shop or association named on it, if any
    label         TEXT NOT NULL DEFAULT '',      -- the public name printed on it
    created_at    TEXT NOT NULL,
    joins         INTEGER NOT NULL DEFAULT 0     -- neighbours who finished joining through it
);
CREATE INDEX posters_by_place ON posters (place_id);
CREATE INDEX posters_by_person ON posters (person_id);
