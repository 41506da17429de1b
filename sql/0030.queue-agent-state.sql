-- depends: 0029.queue-settings
-- An agent logs in and out of their queues, and pauses (with a reason), from
-- their phone (feature codes) or through the API; only agents logged in and
-- not paused are rung.
ALTER TABLE queue_members
    ADD COLUMN logged_in BOOLEAN NOT NULL DEFAULT true,
    ADD COLUMN pause_reason TEXT CHECK (pause_reason IS NULL OR length(pause_reason) BETWEEN 1 AND 100);
