-- depends: 0036.queue-priority-whisper
-- A queue's periodic announcement may be a prompt of the company's own ("our
-- specialists are busy, thank you for waiting"), with or without the caller's
-- position: every announce_position_s seconds, as before.
ALTER TABLE queues
    ADD COLUMN announce_prompt_id BIGINT REFERENCES prompts (id),
    ADD COLUMN announce_position BOOLEAN NOT NULL DEFAULT true;
