DROP INDEX queue_calls_callback;
ALTER TABLE queue_calls DROP COLUMN callback_at, DROP COLUMN callback_outcome, DROP COLUMN callback_call_id,
    DROP COLUMN callback_number;
DELETE FROM queue_calls WHERE outcome = 'callback';
ALTER TABLE queue_calls DROP CONSTRAINT queue_calls_outcome_check;
ALTER TABLE queue_calls ADD CONSTRAINT queue_calls_outcome_check
    CHECK (outcome IN ('answered', 'abandoned', 'timeout', 'full', 'no_agents', 'voicemail'));
ALTER TABLE queues DROP COLUMN offer_callback;
