-- Telegram: bots cannot create groups, so moderators create them and adopt them into a pool per
-- neighbourhood; the bot hands out single-use invite links and removes strangers who walk in.

-- Groups adopted with /adopt. circle_id is set when the group is given to a circle.
CREATE TABLE telegram_groups (
    chat_id          TEXT PRIMARY KEY,
    place_id         TEXT NOT NULL,
    title            TEXT NOT NULL DEFAULT '',
    adopted_by       INTEGER REFERENCES people(id) ON DELETE SET NULL,
    adopted_at       TEXT NOT NULL,
    rights_checked_at TEXT NOT NULL,           -- when the bot last saw it had every right it needs
    circle_id        INTEGER REFERENCES circles(id) ON DELETE SET NULL
);
CREATE INDEX telegram_groups_free ON telegram_groups(place_id, circle_id);

-- Invite links issued (createChatInviteLink, member_limit = 1): who each one was for.
CREATE TABLE telegram_invites (
    link        TEXT PRIMARY KEY,
    chat_id     TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    used_at     TEXT
);
CREATE INDEX telegram_invites_user ON telegram_invites(chat_id, user_id);

-- People who joined a circle group without being invited: removed (ban + unban, so they may come
-- back if invited later) by the adapter, and the moderators are told.
CREATE TABLE telegram_strangers (
    id          INTEGER PRIMARY KEY,
    chat_id     TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    first_name  TEXT NOT NULL DEFAULT '',
    circle_id   INTEGER,
    seen_at     TEXT NOT NULL,
    removed_at  TEXT,
    error       TEXT
);
CREATE INDEX telegram_strangers_pending ON telegram_strangers(removed_at);
