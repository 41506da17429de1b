-- depends: 0014.mobile-after
-- R17 webhook numbers: retries within the budget, a cached answer per caller,
-- and a circuit breaker. R16: the CRM integration and the clients it owns.

ALTER TABLE webhooks
    -- Further attempts after a failed one, all within budget_ms.
    ADD COLUMN retries INTEGER NOT NULL DEFAULT 0 CHECK (retries BETWEEN 0 AND 3),
    -- Seconds a good answer is reused for the same caller (0: always ask).
    ADD COLUMN cache_ttl_s INTEGER NOT NULL DEFAULT 0 CHECK (cache_ttl_s BETWEEN 0 AND 86400),
    -- Failures in a row that open the breaker (0: never opens), and for how long it stays open.
    ADD COLUMN breaker_failures INTEGER NOT NULL DEFAULT 5 CHECK (breaker_failures BETWEEN 0 AND 1000),
    ADD COLUMN breaker_open_s INTEGER NOT NULL DEFAULT 30 CHECK (breaker_open_s BETWEEN 1 AND 3600);

CREATE TABLE crm_integrations (
    company_id BIGINT PRIMARY KEY REFERENCES companies (id) ON DELETE CASCADE,
    -- Optional pull lookup: GET <lookup_url>?phone=<E.164>, signed like a webhook.
    lookup_url TEXT CHECK (lookup_url ~ '^https?://'),
    secret TEXT NOT NULL,
    budget_ms INTEGER NOT NULL DEFAULT 1000 CHECK (budget_ms BETWEEN 100 AND 10000),
    cache_ttl_s INTEGER NOT NULL DEFAULT 300 CHECK (cache_ttl_s BETWEEN 0 AND 86400),
    -- When the manager does not answer their client: 'none' leaves it to the
    -- manager's own no-answer rule; a forward here takes priority over it.
    no_answer_rule TEXT NOT NULL DEFAULT 'none'
        CHECK (no_answer_rule IN ('none', 'forward_employee', 'forward_department')),
    no_answer_employee_id BIGINT REFERENCES employees (id) ON DELETE SET NULL,
    no_answer_department_id BIGINT REFERENCES departments (id) ON DELETE SET NULL,
    no_answer_ring_s INTEGER NOT NULL DEFAULT 30 CHECK (no_answer_ring_s BETWEEN 5 AND 300)
);

-- Pushed by the CRM: which employee owns a client's phone number.
CREATE TABLE crm_clients (
    company_id BIGINT NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    phone TEXT NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    employee_id BIGINT NOT NULL REFERENCES employees (id) ON DELETE CASCADE,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (company_id, phone)
);
CREATE INDEX crm_clients_employee ON crm_clients (employee_id);
