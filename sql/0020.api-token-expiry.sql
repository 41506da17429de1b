-- depends: 0019.forward-notice
-- API tokens expire: a token lives until expires_at (NULL: the first
-- administrator's token of a company, which the operator hands over once).
-- A revoked token is deleted, so it stops working at the next request.

ALTER TABLE api_tokens ADD COLUMN expires_at TIMESTAMPTZ;
CREATE INDEX api_tokens_employee_idx ON api_tokens (employee_id);
