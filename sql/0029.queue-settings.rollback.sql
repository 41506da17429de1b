ALTER TABLE queues DROP COLUMN fallback_voicemail_box_id, DROP COLUMN join_empty, DROP COLUMN announce_position_s,
    DROP COLUMN wrap_up_s, DROP COLUMN agent_ring_s;
