DROP VIEW kamailio_trunk_auth;
CREATE OR REPLACE VIEW kamailio_dispatcher AS
    SELECT id::integer AS id, 1 AS setid,
           ('sip:' || host(address) || ':' || CASE port WHEN 0 THEN 5060 ELSE port END)::varchar(192) AS destination,
           0 AS flags, priority, ''::varchar(128) AS attrs, name::varchar(64) AS description
    FROM trunks WHERE outbound;
ALTER TABLE trunks DROP CONSTRAINT trunks_credentials_whole, DROP COLUMN auth_password, DROP COLUMN auth_username;
