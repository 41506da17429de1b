-- depends: 0017.prompt-uploads
-- R14: what callers and operators hear around a scheme's ringing.

ALTER TABLE schemes
    -- Played to the caller before anyone rings.
    ADD COLUMN greeting_prompt_id BIGINT REFERENCES prompts (id),
    -- Played to the caller instead of ringback while the steps ring.
    ADD COLUMN music_prompt_id BIGINT REFERENCES prompts (id),
    -- Played to whoever answers, before the caller is put through ("a call from the web form").
    ADD COLUMN whisper_prompt_id BIGINT REFERENCES prompts (id);
