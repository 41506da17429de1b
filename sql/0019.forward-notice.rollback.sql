ALTER TABLE schemes DROP CONSTRAINT schemes_custom_notice_has_prompt, DROP COLUMN forward_notice_prompt_id,
    DROP COLUMN forward_notice;
