ALTER TABLE queues DROP COLUMN pause_after_misses;
