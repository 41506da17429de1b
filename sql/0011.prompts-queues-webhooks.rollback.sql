ALTER TABLE ivr_keys DROP COLUMN webhook_id, DROP COLUMN queue_id;
ALTER TABLE step_destinations
    DROP CONSTRAINT step_destinations_webhook, DROP CONSTRAINT step_destinations_queue,
    DROP COLUMN webhook_id, DROP COLUMN queue_id;
DROP TABLE webhooks;
DROP TABLE queue_members;
DROP TABLE queues;
ALTER TABLE ivr_menus DROP CONSTRAINT ivr_menus_greeting_kind_check,
    ADD CONSTRAINT ivr_menus_greeting_kind_check CHECK (greeting_kind IN ('default', 'tts')),
    DROP COLUMN greeting_prompt_id;
DROP TABLE prompts;
