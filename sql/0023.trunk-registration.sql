-- depends: 0022.trunk-credentials
-- Trunks that register to their carrier (Kamailio's uac module keeps the
-- registration up): the carrier then sends its calls to the registered
-- Contact, sip:vpbx-trunk-<id>@<our address>, with the number in To.

ALTER TABLE trunks
    ADD COLUMN register BOOLEAN NOT NULL DEFAULT false,
    -- The carrier's registrar domain (the To of the REGISTER); none: its address.
    ADD COLUMN register_domain TEXT CHECK (register_domain ~ '^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$'),
    ADD COLUMN register_expires INTEGER NOT NULL DEFAULT 300 CHECK (register_expires BETWEEN 60 AND 3600),
    ADD CONSTRAINT trunks_register_with_credentials CHECK (NOT register OR auth_username IS NOT NULL);

-- Column types as Kamailio's own `uacreg` table (version 5).
CREATE VIEW kamailio_uacreg AS
    SELECT id::integer AS id,
           ('vpbx-trunk-' || id)::varchar(64) AS l_uuid,
           ('vpbx-trunk-' || id)::varchar(64) AS l_username,
           'vpbx'::varchar(64) AS l_domain,
           auth_username::varchar(64) AS r_username,
           coalesce(register_domain, host(address))::varchar(64) AS r_domain,
           ''::varchar(64) AS realm,
           auth_username::varchar(64) AS auth_username,
           auth_password::varchar(64) AS auth_password,
           ''::varchar(128) AS auth_ha1,
           ('sip:' || host(address) || ':' || CASE port WHEN 0 THEN 5060 ELSE port END)::varchar(255) AS auth_proxy,
           register_expires AS expires,
           0 AS flags,
           0 AS reg_delay,
           ''::varchar(255) AS contact_addr,
           ''::varchar(128) AS socket
    FROM trunks WHERE register;
INSERT INTO version (table_name, table_version) VALUES ('kamailio_uacreg', 5);
