-- The diarienummer a submission was registered under ("KS 2027/123"), from the note that came
-- with it or the follow-up form's field; the latest one given is kept.
ALTER TABLE occurrences ADD COLUMN diarienummer TEXT;
-- The follow-up form's diarienummer field as typed, kept with the draft.
ALTER TABLE followups ADD COLUMN diarienummer TEXT;
