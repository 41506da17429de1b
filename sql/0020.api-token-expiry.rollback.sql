DROP INDEX api_tokens_employee_idx;
ALTER TABLE api_tokens DROP COLUMN expires_at;
