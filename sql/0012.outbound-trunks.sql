-- depends: 0011.prompts-queues-webhooks
-- Outbound calls to the PSTN through Kamailio's dispatcher, and each trunk's
-- region reaching the routing with the INVITE.

-- A trunk that carries calls out is a gateway of dispatcher set 1; the highest
-- priority is tried first and the others, in order, when it fails.
ALTER TABLE trunks
    ADD COLUMN outbound BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN priority INTEGER NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 1000);

-- permissions hands the tag to the script with the INVITE: "<region>:<trunk id>".
CREATE OR REPLACE VIEW kamailio_address AS
    SELECT id, 1 AS grp, host(address)::varchar(50) AS ip_addr, masklen(address) AS mask,
           port, (region || ':' || id)::varchar(64) AS tag
    FROM trunks;

-- Column types as Kamailio's own `dispatcher` table.
CREATE VIEW kamailio_dispatcher AS
    SELECT id::integer AS id, 1 AS setid,
           ('sip:' || host(address) || ':' || CASE port WHEN 0 THEN 5060 ELSE port END)::varchar(192) AS destination,
           0 AS flags, priority, ''::varchar(128) AS attrs, name::varchar(64) AS description
    FROM trunks WHERE outbound;
INSERT INTO version (table_name, table_version) VALUES ('kamailio_dispatcher', 4);
