-- depends: 0007.departments-voicemail
-- IVR menus (R10): a greeting, then keys 0-9 * # (and "timeout": no key in
-- time) each leading to a destination, a submenu included.

CREATE TABLE ivr_menus (
    id BIGSERIAL PRIMARY KEY,
    company_id BIGINT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (name <> ''),
    -- R12: the standard greeting, or text read by text-to-speech.
    greeting_kind TEXT NOT NULL DEFAULT 'default' CHECK (greeting_kind IN ('default', 'tts')),
    greeting_text TEXT,
    timeout_s INTEGER NOT NULL DEFAULT 5 CHECK (timeout_s BETWEEN 1 AND 60),
    invalid_key_tries INTEGER NOT NULL DEFAULT 2 CHECK (invalid_key_tries BETWEEN 1 AND 5),
    UNIQUE (company_id, name),
    UNIQUE (id, company_id),
    CHECK (greeting_kind <> 'tts' OR greeting_text IS NOT NULL)
);

CREATE TABLE ivr_keys (
    id BIGSERIAL PRIMARY KEY,
    menu_id BIGINT NOT NULL REFERENCES ivr_menus (id) ON DELETE CASCADE,
    key TEXT NOT NULL CHECK (key ~ '^([0-9*#]|timeout)$'),
    kind TEXT NOT NULL,
    employee_id BIGINT REFERENCES employees (id) ON DELETE CASCADE,
    department_id BIGINT REFERENCES departments (id) ON DELETE CASCADE,
    voicemail_box_id BIGINT REFERENCES voicemail_boxes (id) ON DELETE CASCADE,
    ivr_menu_id BIGINT REFERENCES ivr_menus (id) ON DELETE CASCADE,  -- a submenu
    phone_number TEXT CHECK (phone_number ~ '^\+[1-9][0-9]{6,14}$'),
    sip_uri TEXT,
    UNIQUE (menu_id, key),
    CHECK (kind <> 'ivr' OR ivr_menu_id IS NOT NULL)
);

ALTER TABLE step_destinations
    ADD COLUMN ivr_menu_id BIGINT REFERENCES ivr_menus (id) ON DELETE CASCADE,
    ADD CONSTRAINT step_destinations_ivr CHECK (kind <> 'ivr' OR ivr_menu_id IS NOT NULL);
