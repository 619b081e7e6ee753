-- When an occurrence was last submitted: the manager's acknowledgement requests count from it.
ALTER TABLE occurrences ADD COLUMN submitted_at BIGINT;

-- One row per delivery: one step of one occurrence, to one recipient, on one channel.
-- The idempotency key makes planning the same delivery twice a no-op.
CREATE TABLE outbox (
    id               BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key  TEXT    NOT NULL UNIQUE,
    occurrence_id    BIGINT  NOT NULL REFERENCES occurrences (id),
    step             TEXT    NOT NULL,
    recipient        TEXT    NOT NULL,
    channel          TEXT    NOT NULL,
    -- Why this recipient: holder, stand-in:<person>, vacant:<role>.
    reason           TEXT    NOT NULL,
    state            TEXT    NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'dead', 'cancelled')),
    -- Not to be sent before this time; for failed rows, when to retry.
    not_before       BIGINT  NOT NULL,
    -- While sending: the claim expires then, and another dispatcher may take the row.
    lease_until      BIGINT,
    attempts         BIGINT  NOT NULL DEFAULT 0,
    last_error       TEXT,
    provider_id      TEXT,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    sent_at          BIGINT
);
CREATE INDEX outbox_ready ON outbox (not_before) WHERE state IN ('pending', 'failed', 'sending');
CREATE INDEX outbox_occurrence ON outbox (occurrence_id);

-- Small named values arshjul keeps for itself, e.g. the generated secret of signed links.
CREATE TABLE meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
