-- depends: 0041.call-callbacks
-- The post-call category menu (seed 002): a scheme may keep whoever answered
-- on the line once the caller hangs up, to press the key of the call's
-- category; the category is kept on the caller's history line.

CREATE TABLE category_menus (
    id BIGSERIAL PRIMARY KEY,
    company_id BIGINT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (name <> ''),
    -- What the person hears; none: the standard prompt in the company's language.
    prompt_id BIGINT REFERENCES prompts (id),
    -- Seconds to wait for a key once the prompt has played.
    wait_s INTEGER NOT NULL DEFAULT 10 CHECK (wait_s BETWEEN 3 AND 60),
    -- {"1": "Sale", "2": "Support"}: a key (0-9 * #) to the category's name.
    categories JSONB NOT NULL CHECK (jsonb_typeof(categories) = 'object'),
    UNIQUE (company_id, name),
    UNIQUE (id, company_id)
);

ALTER TABLE schemes ADD COLUMN category_menu_id BIGINT,
    ADD CONSTRAINT schemes_category_menu FOREIGN KEY (category_menu_id, company_id)
        REFERENCES category_menus (id, company_id);

ALTER TABLE calls
    ADD COLUMN category TEXT,
    ADD COLUMN category_key TEXT,
    ADD COLUMN categorized_at TIMESTAMPTZ;

-- Where the category of a call goes to the CRM (POST, signed like a lookup).
ALTER TABLE crm_integrations ADD COLUMN events_url TEXT CHECK (events_url ~ '^https?://');
