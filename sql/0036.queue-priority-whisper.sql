-- depends: 0035.queue-callbacks
-- Priority callers (R18): callers of a number with a queue priority wait
-- ahead of those with a lower one in every queue the number's calls reach
-- (a webhook's answer may raise it per call). A queue may whisper to the
-- agent who answers which queue the call came from and how long the caller
-- waited, and tell waiting callers their estimated wait.
ALTER TABLE numbers ADD COLUMN queue_priority INTEGER NOT NULL DEFAULT 0 CHECK (queue_priority BETWEEN 0 AND 9);
ALTER TABLE queues
    ADD COLUMN whisper BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN announce_wait BOOLEAN NOT NULL DEFAULT false;
