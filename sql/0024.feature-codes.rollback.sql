ALTER TABLE voicemail_messages DROP COLUMN heard_at;
ALTER TABLE employees DROP COLUMN forward_all, DROP COLUMN dnd;
