-- depends: 0034.queue-totals
-- A caller waiting in a queue may press a key to be called back (R18, "call
-- back later"): their place is kept, an agent is rung when free and then the
-- caller. The caller's queue_calls row says so (outcome 'callback') and, once
-- placed, names the callback's own call and how it went, linking the two
-- history lines. A caller may also press a key to leave a message.
ALTER TABLE queues ADD COLUMN offer_callback BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE queue_calls DROP CONSTRAINT queue_calls_outcome_check;
ALTER TABLE queue_calls ADD CONSTRAINT queue_calls_outcome_check
    CHECK (outcome IN ('answered', 'abandoned', 'timeout', 'full', 'no_agents', 'voicemail', 'callback'));
ALTER TABLE queue_calls
    ADD COLUMN callback_number TEXT,
    ADD COLUMN callback_call_id TEXT,
    -- answered (the caller took it), no_answer (the caller did not), expired (no agent took it
    -- in time), failed (it could not be placed)
    ADD COLUMN callback_outcome TEXT CHECK (callback_outcome IN ('answered', 'no_answer', 'expired', 'failed')),
    ADD COLUMN callback_at TIMESTAMPTZ;
CREATE INDEX queue_calls_callback ON queue_calls (callback_call_id) WHERE callback_call_id IS NOT NULL;
