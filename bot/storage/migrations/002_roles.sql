-- Who may do what, and where. Admins come from the configuration; moderators are appointed per
-- neighbourhood; circle hosts are circle_members.role = 'host'.
CREATE TABLE roles (
    person_id   INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    role        TEXT NOT NULL,             -- moderator
    place_id    TEXT NOT NULL,             -- the neighbourhood it applies to
    granted_by  INTEGER REFERENCES people(id) ON DELETE SET NULL,
    granted_at  TEXT NOT NULL,
    PRIMARY KEY (person_id, role, place_id)
);
CREATE INDEX roles_place ON roles(role, place_id);
