-- Check-ins that never stay open forever: the ladder of people told moves on when a stage runs out.

-- The stage the ladder reached (contact | host | moderator | admin | services) and when it moves on
-- if nobody settles the check-in before. Both NULL until the first escalation.
ALTER TABLE checkins ADD COLUMN stage TEXT;
ALTER TABLE checkins ADD COLUMN stage_until TEXT;

-- Everyone told about a check-in (the ladder's stages, a chat request, moderators alerted after
-- "could not reach"): nobody is told twice, and all of them get the all-clear.
CREATE TABLE checkin_told (
    checkin_id  INTEGER NOT NULL REFERENCES checkins(id) ON DELETE CASCADE,
    person_id   INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    role        TEXT NOT NULL,       -- contact | host | moderator | admin | alert
    told_at     TEXT NOT NULL,
    PRIMARY KEY (checkin_id, person_id)
);
CREATE INDEX checkin_told_person ON checkin_told(person_id);

-- Check-ins escalated before the ladder existed: whoever was told counts as told, and the ladder
-- takes them over a day after their escalation (at once for those older than that).
INSERT INTO checkin_told (checkin_id, person_id, role, told_at)
    SELECT id, told_id, COALESCE(told_role, 'host'), COALESCE(escalated_at, answered_at, asked_at)
    FROM checkins WHERE told_id IS NOT NULL;
UPDATE checkins SET stage = told_role,
    stage_until = strftime('%Y-%m-%dT%H:%M:%S+00:00', escalated_at, '+1 day')
    WHERE escalated_at IS NOT NULL AND closed_at IS NULL;
