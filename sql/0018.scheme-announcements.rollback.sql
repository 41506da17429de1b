ALTER TABLE schemes DROP COLUMN whisper_prompt_id, DROP COLUMN music_prompt_id, DROP COLUMN greeting_prompt_id;
