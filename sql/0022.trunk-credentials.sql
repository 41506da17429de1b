-- depends: 0021.outgoing-calls
-- Outbound trunks that ask for digest credentials (RFC 3261 22.2): the
-- carrier's username and password, answered by Kamailio's uac module when a
-- gateway challenges a call with 401 or 407.

-- The password is kept as given: digest needs it (or its HA1, which needs the
-- realm the carrier names only in its challenge). The API never returns it.
ALTER TABLE trunks
    -- Kamailio's htable holds at most 64 characters of name and 128 of value.
    ADD COLUMN auth_username TEXT CHECK (length(auth_username) BETWEEN 1 AND 128),
    ADD COLUMN auth_password TEXT CHECK (length(auth_password) BETWEEN 1 AND 128),
    ADD CONSTRAINT trunks_credentials_whole CHECK ((auth_username IS NULL) = (auth_password IS NULL));

-- Each gateway names its trunk, so the failure route knows whose credentials
-- answer its challenge.
CREATE OR REPLACE VIEW kamailio_dispatcher AS
    SELECT id::integer AS id, 1 AS setid,
           ('sip:' || host(address) || ':' || CASE port WHEN 0 THEN 5060 ELSE port END)::varchar(192) AS destination,
           0 AS flags, priority, ('trunk=' || id)::varchar(128) AS attrs, name::varchar(64) AS description
    FROM trunks WHERE outbound;

-- The credentials as Kamailio's htable module loads a table (the "trunk_auth"
-- htable): "<trunk id>:user" and "<trunk id>:password", string values.
CREATE VIEW kamailio_trunk_auth AS
    SELECT (id || ':user')::varchar(64) AS key_name, 0 AS key_type, 0 AS value_type,
           auth_username::varchar(128) AS key_value, 0 AS expires
    FROM trunks WHERE outbound AND auth_username IS NOT NULL
    UNION ALL
    SELECT (id || ':password')::varchar(64), 0, 0, auth_password::varchar(128), 0
    FROM trunks WHERE outbound AND auth_password IS NOT NULL;
