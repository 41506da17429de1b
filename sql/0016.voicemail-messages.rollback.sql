ALTER TABLE calls DROP COLUMN voicemail_message_id;
DROP TABLE voicemail_messages;
ALTER TABLE voicemail_boxes DROP COLUMN silence_s, DROP COLUMN max_length_s, DROP COLUMN greeting_prompt_id;
