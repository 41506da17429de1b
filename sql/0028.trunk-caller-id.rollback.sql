CREATE OR REPLACE VIEW kamailio_dispatcher AS
    SELECT id::integer AS id, 1 AS setid,
           ('sip:' || host(address) || ':' || CASE port WHEN 0 THEN 5060 ELSE port END)::varchar(192) AS destination,
           0 AS flags, priority, ('trunk=' || id)::varchar(128) AS attrs, name::varchar(64) AS description
    FROM trunks WHERE outbound;
ALTER TABLE trunks DROP COLUMN from_user, DROP COLUMN caller_id_header;
