-- Messages to one chat go out in the order they were queued: finding "an earlier message to this
-- chat is still waiting" must be an index lookup, not a scan.
CREATE INDEX outbox_chat_order ON outbox(platform, chat_id, id);
