-- When a session was last used: one left idle longer than sign_in.session_idle_minutes ends.
ALTER TABLE sessions ADD COLUMN seen_at INTEGER NOT NULL DEFAULT 0;
UPDATE sessions SET seen_at = created_at;
