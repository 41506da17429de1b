-- depends: 0027.history-trunk
-- How a carrier wants the caller of an outgoing call presented (its own rules,
-- written in its interconnect terms): the number in From and in
-- P-Asserted-Identity (the default), in P-Asserted-Identity only with a fixed
-- From user (many carriers want their customer's account there), or in From only.
ALTER TABLE trunks
    ADD COLUMN caller_id_header TEXT NOT NULL DEFAULT 'from_and_pai'
        CHECK (caller_id_header IN ('from_and_pai', 'pai', 'from')),
    -- The From user with caller_id_header 'pai' (none: the digest username).
    ADD COLUMN from_user TEXT CHECK (from_user ~ '^[A-Za-z0-9._+-]{1,64}$');

-- Kamailio's branch route reads them from the gateway the dispatcher picked.
CREATE OR REPLACE VIEW kamailio_dispatcher AS
    SELECT id::integer AS id, 1 AS setid,
           ('sip:' || host(address) || ':' || CASE port WHEN 0 THEN 5060 ELSE port END)::varchar(192) AS destination,
           0 AS flags, priority,
           ('trunk=' || id || ';cid=' || caller_id_header || coalesce(';fu=' || from_user, ''))::varchar(128) AS attrs,
           name::varchar(64) AS description
    FROM trunks WHERE outbound;
