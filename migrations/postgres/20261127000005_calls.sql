-- EU funding calls the strategist announces to the EU network. The same call posted twice
-- (same call id, or the same link) has one row: call_key is the id or the normalised link.
CREATE TABLE announcements (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_key     TEXT    NOT NULL UNIQUE,
    title        TEXT    NOT NULL,
    programme    TEXT    NOT NULL,
    link         TEXT    NOT NULL,
    -- The call's last day, local date YYYY-MM-DD.
    deadline     TEXT    NOT NULL,
    -- Markdown.
    description  TEXT    NOT NULL,
    -- JSON arrays: the targeted unit ids (empty = every unit with an EU contact person), tags.
    units        TEXT    NOT NULL,
    tags         TEXT    NOT NULL,
    state        TEXT    NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'cancelled')),
    -- Raised by each correction or cancellation, which is posted as an update.
    revision     BIGINT NOT NULL DEFAULT 0,
    created_by   TEXT    NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

-- Each unit's answer to a call (the latest counts; the audit log keeps every answer) and,
-- later, what came of its application.
CREATE TABLE call_interest (
    announcement_id  BIGINT NOT NULL REFERENCES announcements (id),
    unit             TEXT    NOT NULL,
    interest         TEXT    NOT NULL CHECK (interest IN ('interested', 'applying', 'not_relevant')),
    person           TEXT    NOT NULL,
    channel          TEXT    NOT NULL,
    outcome          TEXT    CHECK (outcome IN ('applied', 'granted', 'rejected')),
    -- Granted amount in whole kronor.
    amount           BIGINT,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (announcement_id, unit)
);

-- Occurrences created for a call (draft and review of a unit's application) name it.
ALTER TABLE occurrences ADD COLUMN announcement_id BIGINT REFERENCES announcements (id);
ALTER TABLE audit_log ADD COLUMN announcement_id BIGINT REFERENCES announcements (id);
CREATE INDEX audit_log_announcement ON audit_log (announcement_id);

-- A delivery is about an occurrence or about a call.
ALTER TABLE outbox ALTER COLUMN occurrence_id DROP NOT NULL;
ALTER TABLE outbox ADD COLUMN announcement_id BIGINT REFERENCES announcements (id);
ALTER TABLE outbox ADD CONSTRAINT outbox_one_subject CHECK ((occurrence_id IS NULL) <> (announcement_id IS NULL));
CREATE INDEX outbox_announcement ON outbox (announcement_id);
