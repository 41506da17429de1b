DELETE FROM calls WHERE direction = 'outgoing';
ALTER TABLE calls DROP COLUMN caller_id, DROP CONSTRAINT calls_direction_check;
ALTER TABLE calls ADD CONSTRAINT calls_direction_check CHECK (direction IN ('incoming', 'internal'));
ALTER TABLE employees DROP COLUMN caller_id_number_id, DROP COLUMN outgoing_calls;
ALTER TABLE companies DROP COLUMN caller_id_number_id, DROP COLUMN region;
ALTER TABLE numbers DROP CONSTRAINT numbers_id_company;
