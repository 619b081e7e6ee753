-- Sign-in links are single use: the nonce of every link used is kept (until it expires).
CREATE TABLE sign_ins_used (
    nonce       TEXT    PRIMARY KEY,
    person      TEXT    NOT NULL,
    used_at     BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL
);

-- Dashboard sessions. The cookie holds a random id; only its SHA-256 is stored. Each session
-- has its own CSRF token, which every form posts back.
CREATE TABLE sessions (
    id_sha256   TEXT    PRIMARY KEY,
    person      TEXT    NOT NULL,
    csrf        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL
);

-- The yearly follow-up filled in on the form: one per occurrence. `activities` is what was
-- typed last (a JSON array of the projects and activities), `submitted_activities` what was
-- submitted last: a draft saved after submitting does not change what KLK compiles.
CREATE TABLE followups (
    occurrence_id  BIGINT  PRIMARY KEY REFERENCES occurrences (id),
    activities     TEXT    NOT NULL,
    saved_by       TEXT    NOT NULL,
    saved_at       BIGINT  NOT NULL,
    submitted_activities  TEXT,
    submitted_at   BIGINT
);
