ALTER TABLE prompts DROP CONSTRAINT prompts_upload_has_file, DROP COLUMN file_seconds, DROP COLUMN file_name;
