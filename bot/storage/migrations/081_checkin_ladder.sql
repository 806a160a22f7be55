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
