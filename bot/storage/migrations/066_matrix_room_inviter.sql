-- Who invited the bot into a Matrix room. A room counts as someone's private chat only when that
-- person invited the bot and has joined it themselves: being invited into a room by someone else
-- never makes it your private chat (where check-ins and moderators' notices would then go).
ALTER TABLE matrix_rooms ADD COLUMN invited_by TEXT;
