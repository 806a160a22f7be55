-- Delivery classes (issue 15): a person's answer and a care message never wait behind an announcement.
-- 1 answer: what answers a person's own message, button or command, and moderation actions;
-- 2 care: check-in questions, reminders, escalations, alerts to contacts and moderators;
-- 3 bulk: announcements, digests, event reminders, messages mirrored between a circle's rooms.
-- The class is decided where the item is queued (bot/core/app.py, bot/storage/outbox.py) and chosen from
-- by bot/core/delivery.py: highest class first, with a guaranteed share for the lower ones.
-- Items queued before this upgrade were one FIFO: they become care (the middle), so an announcement
-- already under way is not stuck behind new ones, and answers still overtake it. An announcement's
-- or a digest's items are recognised by their keys and become bulk.
ALTER TABLE outbox ADD COLUMN delivery_class INTEGER NOT NULL DEFAULT 2;
UPDATE outbox SET delivery_class = 3
    WHERE status IN ('pending', 'sending')
      AND (dedupe_key LIKE 'announce:%' OR dedupe_key LIKE 'digest:%' OR dedupe_key LIKE 'relay:%'
           OR dedupe_key LIKE 'remind:%');

-- Choosing the next item of a class stays an index walk, oldest first, however long the queue.
CREATE INDEX outbox_next ON outbox(platform, status, delivery_class, id);
