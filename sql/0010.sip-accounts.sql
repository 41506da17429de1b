-- depends: 0009.employee-availability
-- SIP accounts that belong to no employee: a door phone, a fax line, a lobby
-- phone. They register in the company's realm like employees' phones.

CREATE TABLE sip_accounts (
    id BIGSERIAL PRIMARY KEY,
    company_id BIGINT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (name <> ''),
    sip_login TEXT NOT NULL CHECK (sip_login ~ '^[A-Za-z0-9._-]{1,64}$'),
    sip_ha1 CHAR(32) NOT NULL,
    sip_ha1b CHAR(32) NOT NULL,
    UNIQUE (company_id, sip_login),
    UNIQUE (company_id, name)
);

-- One realm, one namespace of logins: the API refuses a login an employee or
-- another account of the company already has.
CREATE OR REPLACE VIEW kamailio_subscriber AS
    SELECT e.id, e.sip_login::varchar(64) AS username, c.sip_domain::varchar(64) AS domain,
           e.sip_ha1::varchar(128) AS ha1, e.sip_ha1b::varchar(128) AS ha1b
    FROM employees e JOIN companies c ON c.id = e.company_id
    UNION ALL
    SELECT -a.id, a.sip_login::varchar(64), c.sip_domain::varchar(64), a.sip_ha1::varchar(128), a.sip_ha1b::varchar(128)
    FROM sip_accounts a JOIN companies c ON c.id = a.company_id;

ALTER TABLE step_destinations
    ADD COLUMN sip_account_id BIGINT REFERENCES sip_accounts (id) ON DELETE CASCADE,
    ADD CONSTRAINT step_destinations_sip_account CHECK (kind <> 'sip_account' OR sip_account_id IS NOT NULL);
ALTER TABLE ivr_keys ADD COLUMN sip_account_id BIGINT REFERENCES sip_accounts (id) ON DELETE CASCADE;
