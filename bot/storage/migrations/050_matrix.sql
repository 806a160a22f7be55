-- Matrix: what the adapter remembers across restarts besides its sync token (kept in cursors).

-- The device the bot logged in as (password logins), so a restart reuses it instead of piling up
-- devices on the account.
CREATE TABLE matrix_state (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL
);

-- Rooms the adapter had to remember something about:
-- encrypted_told_at: it said once, in plain words, that it cannot read this encrypted room;
-- gone_at: the bot was kicked, banned or left: sends there are refused at once, not retried.
CREATE TABLE matrix_rooms (
    room_id           TEXT PRIMARY KEY,
    encrypted_told_at TEXT,
    gone_at           TEXT,
    gone_reason       TEXT
);
