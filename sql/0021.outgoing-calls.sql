-- depends: 0020.api-token-expiry
-- Outgoing calls (R20): company phones call numbers outside the company
-- through the outbound trunks, shown as one of the company's numbers.

-- How a number dialled in national or local form reads (8 495 ..., 0 44 ...).
ALTER TABLE companies ADD COLUMN region CHAR(2) NOT NULL DEFAULT 'RU' CHECK (region ~ '^[A-Z]{2}$');

-- A caller ID must be a number of the same company: the composite key makes
-- PostgreSQL refuse another company's, and a deleted number clears only the
-- caller ID (the compiler then shows the company's first number).
ALTER TABLE numbers ADD CONSTRAINT numbers_id_company UNIQUE (id, company_id);
ALTER TABLE companies
    ADD COLUMN caller_id_number_id BIGINT,
    ADD CONSTRAINT companies_caller_id FOREIGN KEY (caller_id_number_id, id)
        REFERENCES numbers (id, company_id) ON DELETE SET NULL (caller_id_number_id);

-- Which numbers an employee may call, as a ladder: each permission allows the
-- ones before it (routing/outbound.py). Emergency numbers are always allowed.
-- Domestic calls by default; international, premium-rate included, on request.
ALTER TABLE employees
    ADD COLUMN outgoing_calls TEXT NOT NULL DEFAULT 'mobile'
        CHECK (outgoing_calls IN ('internal', 'local', 'national', 'mobile', 'international')),
    ADD COLUMN caller_id_number_id BIGINT,
    ADD CONSTRAINT employees_caller_id FOREIGN KEY (caller_id_number_id, company_id)
        REFERENCES numbers (id, company_id) ON DELETE SET NULL (caller_id_number_id);

-- History: outgoing lines, with the number the callee was shown.
ALTER TABLE calls DROP CONSTRAINT calls_direction_check;
ALTER TABLE calls
    ADD CONSTRAINT calls_direction_check CHECK (direction IN ('incoming', 'internal', 'outgoing')),
    ADD COLUMN caller_id TEXT;
