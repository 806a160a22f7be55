-- PostgreSQL's side of 081: the same tables; only the date arithmetic of the last UPDATE differs.
ALTER TABLE checkins ADD COLUMN stage TEXT;
ALTER TABLE checkins ADD COLUMN stage_until TEXT;

CREATE TABLE checkin_told (
    checkin_id  BIGINT NOT NULL REFERENCES checkins(id) ON DELETE CASCADE,
    person_id   BIGINT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    role        TEXT NOT NULL,       -- contact | host | moderator | admin | alert
    told_at     TEXT NOT NULL,
    PRIMARY KEY (checkin_id, person_id)
);
CREATE INDEX checkin_told_person ON checkin_told(person_id);

INSERT INTO checkin_told (checkin_id, person_id, role, told_at)
    SELECT id, told_id, COALESCE(told_role, 'host'), COALESCE(escalated_at, answered_at, asked_at)
    FROM checkins WHERE told_id IS NOT NULL;
UPDATE checkins SET stage = told_role,
    stage_until = to_char((escalated_at::timestamptz + interval '1 day') AT TIME ZONE 'UTC',
                          'YYYY-MM-DD"T"HH24:MI:SS"+00:00"')
    WHERE escalated_at IS NOT NULL AND closed_at IS NULL;
