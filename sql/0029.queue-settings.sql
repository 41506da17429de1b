-- depends: 0028.trunk-caller-id
-- What a call queue needs to run on real calls (R18): how long each agent
-- rings, the rest an agent gets after a call, how often callers hear their
-- position, whether callers join when no agent is there, and where a caller
-- goes when the wait is over (a voicemail box; none: a goodbye).
ALTER TABLE queues
    ADD COLUMN agent_ring_s INTEGER NOT NULL DEFAULT 15 CHECK (agent_ring_s BETWEEN 5 AND 120),
    ADD COLUMN wrap_up_s INTEGER NOT NULL DEFAULT 5 CHECK (wrap_up_s BETWEEN 0 AND 600),
    ADD COLUMN announce_position_s INTEGER NOT NULL DEFAULT 0
        CHECK (announce_position_s = 0 OR announce_position_s BETWEEN 10 AND 600),
    ADD COLUMN join_empty BOOLEAN NOT NULL DEFAULT true,
    ADD COLUMN fallback_voicemail_box_id BIGINT REFERENCES voicemail_boxes (id) ON DELETE SET NULL;
