-- Reminders and escalations of an open occurrence wait until this time ("will do by", snooze).
ALTER TABLE occurrences ADD COLUMN paused_until INTEGER;

-- Everything people sent arshjul (replies, reactions, commands), counted or not: nothing
-- inbound is dropped. One row per message of a channel; its reference makes a message seen
-- twice (a restart mid-sync) a no-op.
CREATE TABLE inbox (
    id             INTEGER PRIMARY KEY,
    channel        TEXT    NOT NULL,
    -- The channel's id of the message: a Matrix event id, a Message-ID, a Teams activity id.
    reference      TEXT    NOT NULL,
    -- The sender as the channel names them (Matrix user id, email address, Teams user).
    sender         TEXT    NOT NULL,
    -- The directory id, when the sender is in the directory.
    person         TEXT,
    delivery_id    INTEGER REFERENCES outbox (id),
    occurrence_id  INTEGER REFERENCES occurrences (id),
    text           TEXT    NOT NULL,
    -- recorded, already, refused, not_understood, unknown_sender, status, paused, requested
    outcome        TEXT    NOT NULL,
    -- Why, in words for the operator (and the reply to the sender).
    detail         TEXT    NOT NULL,
    received_at    INTEGER NOT NULL,
    UNIQUE (channel, reference)
);
CREATE INDEX inbox_received ON inbox (received_at);

-- Replies name the message they answer by its id on the channel.
CREATE INDEX outbox_provider ON outbox (provider_id);
