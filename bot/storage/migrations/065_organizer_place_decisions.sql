-- Organizer approval is per neighbourhood: a moderator of one of the neighbourhoods an applicant lists
-- decides for that neighbourhood only (an admin for all). Each (organizer, place) has its own decision
-- and its own trust; organizers.status and organizers.trusted become summaries kept in step with them.
ALTER TABLE organizer_places ADD COLUMN status TEXT NOT NULL DEFAULT 'pending'; -- pending | approved | rejected
ALTER TABLE organizer_places ADD COLUMN trusted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE organizer_places ADD COLUMN decided_by INTEGER REFERENCES people(id) ON DELETE SET NULL;

-- Decisions taken before keep their effect: they were taken for every place listed.
UPDATE organizer_places SET
    status = (SELECT o.status FROM organizers o WHERE o.id = organizer_places.organizer_id),
    trusted = (SELECT o.trusted FROM organizers o WHERE o.id = organizer_places.organizer_id),
    decided_by = (SELECT o.decided_by FROM organizers o WHERE o.id = organizer_places.organizer_id);
