DROP TABLE queue_calls;
ALTER TABLE queues DROP COLUMN service_level_s;
