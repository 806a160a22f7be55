-- Matrix appservice mode (issue 14): the homeserver pushes events in transactions and repeats a
-- transaction until it is acknowledged. Each transaction id is stored in the database transaction that
-- stores its events in the inbox, so a repeated push is acknowledged without being handled again.
CREATE TABLE appservice_transactions (
    platform TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    events INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (platform, txn_id)
);
