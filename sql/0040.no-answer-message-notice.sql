-- depends: 0039.company-language
-- Seed 003's direct call nobody answers: "drop with a message" plays a message
-- (the company's own prompt, or the standard one) and hangs up; a forward may
-- first tell the caller "your call will be answered by another specialist"
-- (the standard notice, the company's own, or none).
ALTER TABLE employees
    ADD COLUMN no_answer_message_prompt_id BIGINT REFERENCES prompts (id),
    ADD COLUMN no_answer_notice TEXT NOT NULL DEFAULT 'none' CHECK (no_answer_notice IN ('none', 'default', 'custom')),
    ADD COLUMN no_answer_notice_prompt_id BIGINT REFERENCES prompts (id),
    ADD CONSTRAINT employees_custom_notice_has_prompt
        CHECK (no_answer_notice <> 'custom' OR no_answer_notice_prompt_id IS NOT NULL);
