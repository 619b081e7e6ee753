-- Where a sent delivery went, when the channel says: the Matrix room of the event whose id is
-- in provider_id (replies to it are matched by both).
ALTER TABLE outbox ADD COLUMN destination TEXT;
