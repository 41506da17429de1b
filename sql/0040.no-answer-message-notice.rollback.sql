ALTER TABLE employees DROP CONSTRAINT employees_custom_notice_has_prompt, DROP COLUMN no_answer_notice_prompt_id,
    DROP COLUMN no_answer_notice, DROP COLUMN no_answer_message_prompt_id;
