-- EU funding calls the strategist announces to the EU network. The same call posted twice
-- (same call id, or the same link) has one row: call_key is the id or the normalised link.
CREATE TABLE announcements (
    id           INTEGER PRIMARY KEY,
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
    revision     INTEGER   NOT NULL DEFAULT 0,
    created_by   TEXT    NOT NULL,
    created_at   INTEGER   NOT NULL,
    updated_at   INTEGER   NOT NULL
);

-- Each unit's answer to a call (the latest counts; the audit log keeps every answer) and,
-- later, what came of its application.
CREATE TABLE call_interest (
    announcement_id  INTEGER   NOT NULL REFERENCES announcements (id),
    unit             TEXT    NOT NULL,
    interest         TEXT    NOT NULL CHECK (interest IN ('interested', 'applying', 'not_relevant')),
    person           TEXT    NOT NULL,
    channel          TEXT    NOT NULL,
    outcome          TEXT    CHECK (outcome IN ('applied', 'granted', 'rejected')),
    -- Granted amount in whole kronor.
    amount           INTEGER,
    updated_at       INTEGER   NOT NULL,
    PRIMARY KEY (announcement_id, unit)
);

-- Occurrences created for a call (draft and review of a unit's application) name it.
ALTER TABLE occurrences ADD COLUMN announcement_id INTEGER REFERENCES announcements (id);
ALTER TABLE audit_log ADD COLUMN announcement_id INTEGER REFERENCES announcements (id);
CREATE INDEX audit_log_announcement ON audit_log (announcement_id);

-- A delivery is about an occurrence or about a call. SQLite cannot drop NOT NULL, so the
-- table is rebuilt (Store::migrate turns foreign keys off around migrations for this).
CREATE TABLE outbox_rebuilt (
    id               INTEGER PRIMARY KEY,
    idempotency_key  TEXT    NOT NULL UNIQUE,
    occurrence_id    INTEGER REFERENCES occurrences (id),
    announcement_id  INTEGER REFERENCES announcements (id),
    step             TEXT    NOT NULL,
    recipient        TEXT    NOT NULL,
    channel          TEXT    NOT NULL,
    reason           TEXT    NOT NULL,
    state            TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'dead', 'cancelled')),
    not_before       INTEGER NOT NULL,
    lease_until      INTEGER,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    provider_id      TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    sent_at          INTEGER,
    destination      TEXT,
    CHECK ((occurrence_id IS NULL) <> (announcement_id IS NULL))
);
INSERT INTO outbox_rebuilt (id, idempotency_key, occurrence_id, step, recipient, channel, reason, state,
    not_before, lease_until, attempts, last_error, provider_id, created_at, updated_at, sent_at, destination)
SELECT id, idempotency_key, occurrence_id, step, recipient, channel, reason, state,
    not_before, lease_until, attempts, last_error, provider_id, created_at, updated_at, sent_at, destination
FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_rebuilt RENAME TO outbox;
CREATE INDEX outbox_ready ON outbox (not_before) WHERE state IN ('pending', 'failed', 'sending');
CREATE INDEX outbox_occurrence ON outbox (occurrence_id);
CREATE INDEX outbox_provider ON outbox (provider_id);
CREATE INDEX outbox_announcement ON outbox (announcement_id);
