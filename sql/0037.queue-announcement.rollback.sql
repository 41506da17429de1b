ALTER TABLE queues DROP COLUMN announce_position, DROP COLUMN announce_prompt_id;
