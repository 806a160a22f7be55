-- Bans remember accounts as a keyed hash (HMAC-SHA-256) with a secret of this deployment, generated once
-- and kept here: a plain SHA-256 of a numeric Telegram id could be reversed by trying every id.
CREATE TABLE deployment_secrets (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- Accounts banned before this change keep their plain hash ('sha256') until they are seen again (or
-- the banned person is still on record): then they are rewritten as 'hmac' (bot/storage/sanctions.py).
ALTER TABLE banned_accounts ADD COLUMN scheme TEXT NOT NULL DEFAULT 'sha256';
