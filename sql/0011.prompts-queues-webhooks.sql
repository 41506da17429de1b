-- depends: 0010.sip-accounts
-- Prompts (R12), call queues (R18) and webhook numbers (R17).

CREATE TABLE prompts (
    id BIGSERIAL PRIMARY KEY,
    company_id BIGINT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (name <> ''),
    -- 'default': the standard recording; 'tts': text read aloud; 'upload': a file
    -- the media app stores (its upload endpoint comes with the media app).
    kind TEXT NOT NULL CHECK (kind IN ('default', 'tts', 'upload')),
    text TEXT,
    language TEXT NOT NULL DEFAULT 'ru' CHECK (language IN ('ru', 'uk', 'en')),
    UNIQUE (company_id, name),
    UNIQUE (id, company_id),
    CHECK (kind <> 'tts' OR text IS NOT NULL)
);

ALTER TABLE ivr_menus ADD COLUMN greeting_prompt_id BIGINT REFERENCES prompts (id),
    DROP CONSTRAINT ivr_menus_greeting_kind_check,
    ADD CONSTRAINT ivr_menus_greeting_kind_check CHECK (greeting_kind IN ('default', 'tts', 'prompt')),
    ADD CHECK (greeting_kind <> 'prompt' OR greeting_prompt_id IS NOT NULL);

CREATE TABLE queues (
    id BIGSERIAL PRIMARY KEY,
    company_id BIGINT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (name <> ''),
    strategy TEXT NOT NULL DEFAULT 'longest_idle' CHECK (strategy IN ('ring_all', 'round_robin', 'longest_idle')),
    max_wait_s INTEGER NOT NULL DEFAULT 300 CHECK (max_wait_s BETWEEN 15 AND 3600),
    max_callers INTEGER NOT NULL DEFAULT 20 CHECK (max_callers BETWEEN 1 AND 500),
    music_prompt_id BIGINT REFERENCES prompts (id),
    UNIQUE (company_id, name)
);

CREATE TABLE queue_members (
    queue_id BIGINT NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
    employee_id BIGINT NOT NULL REFERENCES employees (id) ON DELETE CASCADE,
    PRIMARY KEY (queue_id, employee_id)
);

CREATE TABLE webhooks (
    id BIGSERIAL PRIMARY KEY,
    company_id BIGINT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (name <> ''),
    url TEXT NOT NULL CHECK (url ~ '^https?://'),
    -- HMAC-SHA256 key for the signature header; generated, shown once.
    secret TEXT NOT NULL,
    budget_ms INTEGER NOT NULL DEFAULT 2000 CHECK (budget_ms BETWEEN 100 AND 10000),
    -- Fail-open: where the call goes when the webhook cannot decide.
    fallback_scheme_id BIGINT,
    FOREIGN KEY (fallback_scheme_id, company_id) REFERENCES schemes (id, company_id),
    UNIQUE (company_id, name)
);

ALTER TABLE step_destinations
    ADD COLUMN queue_id BIGINT REFERENCES queues (id) ON DELETE CASCADE,
    ADD COLUMN webhook_id BIGINT REFERENCES webhooks (id) ON DELETE CASCADE,
    ADD CONSTRAINT step_destinations_queue CHECK (kind <> 'queue' OR queue_id IS NOT NULL),
    ADD CONSTRAINT step_destinations_webhook CHECK (kind <> 'webhook' OR webhook_id IS NOT NULL);
ALTER TABLE ivr_keys
    ADD COLUMN queue_id BIGINT REFERENCES queues (id) ON DELETE CASCADE,
    ADD COLUMN webhook_id BIGINT REFERENCES webhooks (id) ON DELETE CASCADE;
