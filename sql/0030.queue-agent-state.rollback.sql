ALTER TABLE queue_members DROP COLUMN pause_reason, DROP COLUMN logged_in;
