DELETE FROM version WHERE table_name = 'kamailio_uacreg';
DROP VIEW kamailio_uacreg;
ALTER TABLE trunks DROP CONSTRAINT trunks_register_with_credentials, DROP COLUMN register_expires,
    DROP COLUMN register_domain, DROP COLUMN register;
