ALTER TABLE employees DROP CONSTRAINT employees_mobile_after_needs_mobile, DROP COLUMN mobile_after_s;
