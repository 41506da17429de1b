UPDATE employees SET outgoing_calls = 'mobile' WHERE outgoing_calls IS NULL;
ALTER TABLE employees ALTER COLUMN outgoing_calls SET DEFAULT 'mobile', ALTER COLUMN outgoing_calls SET NOT NULL;
ALTER TABLE departments DROP CONSTRAINT departments_caller_id, DROP COLUMN caller_id_number_id,
    DROP COLUMN outgoing_calls;
