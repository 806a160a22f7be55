-- What the person who runs the bot needs: admins added from the command line, and the bot's own
-- signs of life (which process runs, when each platform last answered), read by `voisinage status`
-- and /healthz from any shell.

-- Admins added with `voisinage admin add platform:user`, beside those named in the configuration.
CREATE TABLE admins (
    account     TEXT PRIMARY KEY,             -- "telegram:123456789", "matrix:@anne:example.org"
    added_at    TEXT NOT NULL
);

-- One row per sign of life: "process" (pid@host, written every heartbeat), "contact:<platform>"
-- (the last successful poll or sync), "started" (when the running process started).
CREATE TABLE runtime (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
