-- Neighbours waiting for the first circle of their place to open (nobody is put alone in a room):
-- the circle opens when five wait, or after two weeks with three (bot.circles.placement).
CREATE TABLE circle_waits (
    person_id   INTEGER PRIMARY KEY REFERENCES people(id) ON DELETE CASCADE,
    place_id    TEXT NOT NULL,
    since       TEXT NOT NULL
);
CREATE INDEX circle_waits_place ON circle_waits(place_id, since);
