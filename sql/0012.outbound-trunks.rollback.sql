DELETE FROM version WHERE table_name = 'kamailio_dispatcher';
DROP VIEW kamailio_dispatcher;
CREATE OR REPLACE VIEW kamailio_address AS
    SELECT id, 1 AS grp, host(address)::varchar(50) AS ip_addr, masklen(address) AS mask,
           port, id::varchar(64) AS tag
    FROM trunks;
ALTER TABLE trunks DROP COLUMN priority, DROP COLUMN outbound;
