ALTER TABLE ivr_keys DROP COLUMN sip_account_id;
ALTER TABLE step_destinations DROP CONSTRAINT step_destinations_sip_account, DROP COLUMN sip_account_id;
CREATE OR REPLACE VIEW kamailio_subscriber AS
    SELECT e.id, e.sip_login::varchar(64) AS username, c.sip_domain::varchar(64) AS domain,
           e.sip_ha1::varchar(128) AS ha1, e.sip_ha1b::varchar(128) AS ha1b
    FROM employees e JOIN companies c ON c.id = e.company_id;
DROP TABLE sip_accounts;
