ALTER TABLE queues DROP COLUMN announce_wait, DROP COLUMN whisper;
ALTER TABLE numbers DROP COLUMN queue_priority;
