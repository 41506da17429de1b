-- depends: 0018.scheme-announcements
-- R14: "your call will be answered by another specialist" before a no-answer forward.

ALTER TABLE schemes
    ADD COLUMN forward_notice TEXT NOT NULL DEFAULT 'none' CHECK (forward_notice IN ('none', 'default', 'custom')),
    ADD COLUMN forward_notice_prompt_id BIGINT REFERENCES prompts (id),
    ADD CONSTRAINT schemes_custom_notice_has_prompt
        CHECK (forward_notice <> 'custom' OR forward_notice_prompt_id IS NOT NULL);
