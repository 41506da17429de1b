"""Admin API tokens: random bearer secrets, stored only as SHA-256 digests."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "vpbx_"


def token_digest(token: str) -> str:
    # A fast hash suffices: tokens carry 256 random bits, nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(conn, employee_id: int, label: str = "") -> str:
    """A new token for the employee, returned once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO api_tokens (employee_id, token_sha256, label) VALUES (%s, %s, %s)",
        (employee_id, token_digest(token), label),
    )
    return token
