-- A promise kept (bot.circles.waiting): a neighbour told "at the latest in two weeks" whose circle could
-- not open hears the news, then at most once a month while they still wait. ``told_at``: when they
-- were last told (NULL: not yet); it also names the message, so a pass run twice sends it once.
ALTER TABLE circle_waits ADD COLUMN told_at TEXT;

-- The same news for the moderators of a place (or the admins), once per place per period.
CREATE TABLE circle_wait_notices (
    place_id    TEXT PRIMARY KEY,
    told_at     TEXT NOT NULL
);
