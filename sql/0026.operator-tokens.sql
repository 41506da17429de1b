-- depends: 0025.department-outgoing-calls
-- API tokens of the operator who runs vpbx, not of any company's employee:
-- they manage what companies share (the carrier trunks), and nothing of a
-- company's. Stored as SHA-256 digests, like the companies' tokens.
CREATE TABLE operator_tokens (
    id BIGSERIAL PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    label TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ
);
