-- depends: 0030.queue-agent-state
-- An agent who leaves this many queue calls in a row unanswered is paused
-- (they are likely away from their desk); 0: never.
ALTER TABLE queues ADD COLUMN pause_after_misses INTEGER NOT NULL DEFAULT 0
    CHECK (pause_after_misses BETWEEN 0 AND 20);
