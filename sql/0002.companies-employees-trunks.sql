-- depends: 0001.kamailio-runtime
-- The company directory. Kamailio reads credentials and the trunk ACL through
-- views, so vpbx's tables stay the only source of truth.

CREATE TABLE companies (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL CHECK (name <> ''),
    -- The SIP domain (digest realm) of the company's phones: one per tenant.
    sip_domain TEXT NOT NULL UNIQUE CHECK (sip_domain ~ '^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$'),
    timezone TEXT NOT NULL DEFAULT 'Europe/Moscow',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE employees (
    id BIGSERIAL PRIMARY KEY,
    company_id BIGINT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (name <> ''),
    extension TEXT NOT NULL CHECK (extension ~ '^[0-9]{2,6}$'),
    email TEXT,
    mobile TEXT,
    role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user', 'limited')),
    sip_login TEXT NOT NULL CHECK (sip_login ~ '^[A-Za-z0-9._-]{1,64}$'),
    -- Digest credentials only: HA1 = md5(login:realm:password),
    -- HA1B = md5(login@domain:realm:password). The password itself is never stored.
    sip_ha1 CHAR(32) NOT NULL,
    sip_ha1b CHAR(32) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (company_id, extension),
    UNIQUE (company_id, sip_login)
);

CREATE VIEW kamailio_subscriber AS
    SELECT e.id, e.sip_login::varchar(64) AS username, c.sip_domain::varchar(64) AS domain,
           e.sip_ha1::varchar(128) AS ha1, e.sip_ha1b::varchar(128) AS ha1b
    FROM employees e JOIN companies c ON c.id = e.company_id;
INSERT INTO version (table_name, table_version) VALUES ('kamailio_subscriber', 7);

-- Carriers whose INVITEs are accepted by source address, without digest auth.
CREATE TABLE trunks (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE CHECK (name <> ''),
    address INET NOT NULL,
    port INTEGER NOT NULL DEFAULT 0 CHECK (port BETWEEN 0 AND 65535),  -- 0: any port
    -- Region used to read national-format numbers the carrier sends.
    region CHAR(2) NOT NULL DEFAULT 'RU',
    UNIQUE (address, port)
);

-- Column types as Kamailio's own `address` table: db_postgres hands `text`
-- over as a type permissions rejects.
CREATE VIEW kamailio_address AS
    SELECT id, 1 AS grp, host(address)::varchar(50) AS ip_addr, masklen(address) AS mask,
           port, id::varchar(64) AS tag
    FROM trunks;
INSERT INTO version (table_name, table_version) VALUES ('kamailio_address', 6);
