-- Occurrences: one obligation for one unit and one period. Times are seconds since the Unix
-- epoch, UTC; the local calendar is computed in the domain, never in SQL.
CREATE TABLE occurrences (
    id          INTEGER PRIMARY KEY,
    obligation  TEXT    NOT NULL,
    unit        TEXT    NOT NULL,
    period      TEXT    NOT NULL,
    due_at      INTEGER NOT NULL,
    state       TEXT    NOT NULL DEFAULT 'open'
                CHECK (state IN ('open', 'submitted', 'acknowledged', 'waived')),
    -- 0 once the obligation or unit has left the configuration; the row is never deleted.
    configured  INTEGER NOT NULL DEFAULT 1 CHECK (configured IN (0, 1)),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (obligation, unit, period)
);
CREATE INDEX occurrences_due_at ON occurrences (due_at);

-- Every state change, append-only.
CREATE TABLE audit_log (
    id             INTEGER PRIMARY KEY,
    at             INTEGER NOT NULL,
    occurrence_id  INTEGER REFERENCES occurrences (id),
    actor          TEXT    NOT NULL,
    action         TEXT    NOT NULL,
    detail         TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_occurrence ON audit_log (occurrence_id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
