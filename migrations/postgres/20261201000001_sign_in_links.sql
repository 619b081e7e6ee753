-- Every sign-in link mailed, kept a day: the limits per address and per client count them, and
-- a person's newest link revokes their older ones.
CREATE TABLE sign_in_links (
    person      TEXT    NOT NULL,
    client      TEXT    NOT NULL,
    issued_at   BIGINT  NOT NULL
);
CREATE INDEX sign_in_links_person ON sign_in_links (person, issued_at);
CREATE INDEX sign_in_links_client ON sign_in_links (client, issued_at);
