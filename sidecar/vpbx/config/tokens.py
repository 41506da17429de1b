"""Admin API tokens: random bearer secrets, stored only as SHA-256 digests."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

TOKEN_PREFIX = "vpbx_"  # noqa: S105 (a prefix that tells a vpbx token apart, no secret)


def token_digest(token: str) -> str:
    # A fast hash suffices: tokens carry 256 random bits, nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(conn, employee_id: int, label: str = "", expires_at: datetime | None = None) -> str:
    """A new token for the employee, returned once; it works until ``expires_at`` (None: until revoked)."""
    return issue(conn, employee_id, label, expires_at)[1]


def issue(conn, employee_id: int, label: str, expires_at: datetime | None) -> tuple[int, str]:
    """(the token's id, the token itself)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = conn.execute(
        "INSERT INTO api_tokens (employee_id, token_sha256, label, expires_at) VALUES (%s, %s, %s, %s) RETURNING id",
        (employee_id, token_digest(token), label, expires_at),
    ).fetchone()["id"]
    return token_id, token


def issue_operator_token(conn, label: str = "", expires_at: datetime | None = None) -> str:
    """A new operator token (trunks: what every company shares), returned once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO operator_tokens (token_sha256, label, expires_at) VALUES (%s, %s, %s)",
        (token_digest(token), label, expires_at),
    )
    return token
