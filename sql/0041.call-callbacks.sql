-- depends: 0040.no-answer-message-notice
-- A caller promised a callback (a department's rule "call back later", seed
-- 000, or a queue's callback key, R18): their line names the number to call,
-- and once served, the callback's own call and how it went, linking the two
-- history lines whichever kind promised it.
ALTER TABLE calls
    ADD COLUMN callback_number TEXT,
    ADD COLUMN callback_call_id TEXT,
    -- answered (the caller took it), no_answer (the caller did not), expired
    -- (nobody took it in time), failed (it could not be placed)
    ADD COLUMN callback_outcome TEXT CHECK (callback_outcome IN ('answered', 'no_answer', 'expired', 'failed')),
    ADD COLUMN callback_at TIMESTAMPTZ;
CREATE INDEX calls_callback ON calls (callback_call_id) WHERE callback_call_id IS NOT NULL;
