DROP INDEX calls_callback;
ALTER TABLE calls DROP COLUMN callback_at, DROP COLUMN callback_outcome, DROP COLUMN callback_call_id,
    DROP COLUMN callback_number;
