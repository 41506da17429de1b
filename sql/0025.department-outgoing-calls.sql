-- depends: 0024.feature-codes
-- Outgoing-call settings a department gives its members: which numbers they
-- may call and the company number they show, where the employee has no
-- setting of their own (routing/outbound.py: effective settings).

ALTER TABLE departments
    ADD COLUMN outgoing_calls TEXT
        CHECK (outgoing_calls IN ('internal', 'local', 'national', 'mobile', 'international')),
    ADD COLUMN caller_id_number_id BIGINT,
    ADD CONSTRAINT departments_caller_id FOREIGN KEY (caller_id_number_id, company_id)
        REFERENCES numbers (id, company_id) ON DELETE SET NULL (caller_id_number_id);

-- An employee's own permission is optional now: none follows their
-- departments, else the company's default (mobile). 'mobile' was every
-- employee's default until now, so it becomes none: the same calls are
-- allowed until a department says otherwise.
ALTER TABLE employees ALTER COLUMN outgoing_calls DROP NOT NULL, ALTER COLUMN outgoing_calls DROP DEFAULT;
UPDATE employees SET outgoing_calls = NULL WHERE outgoing_calls = 'mobile';
