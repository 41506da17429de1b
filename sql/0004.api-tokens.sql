-- depends: 0003.numbers-schemes
-- Admin API credentials: one or more bearer tokens per employee. Only a SHA-256
-- of each token is kept (tokens are 256-bit random, so no slow hash is needed).

CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    employee_id BIGINT NOT NULL REFERENCES employees (id) ON DELETE CASCADE,
    token_sha256 CHAR(64) NOT NULL UNIQUE,
    label TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
