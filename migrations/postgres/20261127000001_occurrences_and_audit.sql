-- Occurrences: one obligation for one unit and one period. Times are seconds since the Unix
-- epoch, UTC (the same representation as on SQLite, so one Store serves both); the local
-- calendar is computed in the domain, never in SQL.
CREATE TABLE occurrences (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    obligation  TEXT   NOT NULL,
    unit        TEXT   NOT NULL,
    period      TEXT   NOT NULL,
    due_at      BIGINT NOT NULL,
    state       TEXT   NOT NULL DEFAULT 'open'
                CHECK (state IN ('open', 'submitted', 'acknowledged', 'waived')),
    -- 0 once the obligation or unit has left the configuration; the row is never deleted.
    configured  BIGINT NOT NULL DEFAULT 1 CHECK (configured IN (0, 1)),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (obligation, unit, period)
);
CREATE INDEX occurrences_due_at ON occurrences (due_at);

-- Every state change, append-only.
CREATE TABLE audit_log (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             BIGINT NOT NULL,
    occurrence_id  BIGINT REFERENCES occurrences (id),
    actor          TEXT   NOT NULL,
    action         TEXT   NOT NULL,
    detail         TEXT   NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_occurrence ON audit_log (occurrence_id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
