-- depends: 0013.call-history
-- R5: the desk phone rings alone for N seconds, then the mobile rings too.
-- NULL: the mobile is not rung with the desk phone.
ALTER TABLE employees
    ADD COLUMN mobile_after_s INTEGER CHECK (mobile_after_s BETWEEN 0 AND 120),
    ADD CONSTRAINT employees_mobile_after_needs_mobile CHECK (mobile_after_s IS NULL OR mobile IS NOT NULL);
