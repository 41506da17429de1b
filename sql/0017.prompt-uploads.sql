-- depends: 0016.voicemail-messages
-- R12: an uploaded greeting, converted to the WAV rtpengine plays.

ALTER TABLE prompts
    -- In the media data directory's prompts/, named by its content hash.
    ADD COLUMN file_name TEXT,
    ADD COLUMN file_seconds REAL,
    ADD CONSTRAINT prompts_upload_has_file CHECK (kind <> 'upload' OR file_name IS NOT NULL);
