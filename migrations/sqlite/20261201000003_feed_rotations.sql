-- When a calendar feed was last rotated: its links issued before then are refused. One row per
-- feed scope ("person:ID", "unit:ID" or "all").
CREATE TABLE feed_rotations (
    scope TEXT PRIMARY KEY,
    rotated_at INTEGER NOT NULL
);
