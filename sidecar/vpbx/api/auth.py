"""Bearer tokens: who is calling, which company they act in, and their role.

Every /api/v1 request carries ``Authorization: Bearer <token>``. A token
belongs to one employee; the employee's company scopes everything the
request can see or change, so one company's token never reaches another's data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import g, request

from ..config.tokens import token_digest
from .errors import ApiError


@dataclass(frozen=True)
class Principal:
    employee_id: int
    company_id: int
    role: str  # "admin", "user" or "limited"
    token_id: int = 0

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, headers={"WWW-Authenticate": 'Bearer realm="vpbx"'})


def _bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("An API token is required: send 'Authorization: Bearer <token>'.")
    return token.strip()


def authenticate(conn) -> Principal:
    token = _bearer()
    row = conn.execute(
        """
        SELECT e.id, e.company_id, e.role, t.id AS token_id, t.expires_at
        FROM api_tokens t JOIN employees e ON e.id = t.employee_id
        WHERE t.token_sha256 = %s
        """,
        (token_digest(token),),
    ).fetchone()
    if row is None:
        raise _unauthorized("The API token is not valid.")
    if row["expires_at"] is not None and row["expires_at"] <= now():
        raise _unauthorized("The API token has expired: ask for a new one.")
    return Principal(row["id"], row["company_id"], row["role"], row["token_id"])


def authenticate_operator(conn) -> None:
    """The operator's token, for what every company shares (trunks): a
    company's token is refused with 403, anything else with 401."""
    token = _bearer()
    row = conn.execute(
        "SELECT expires_at FROM operator_tokens WHERE token_sha256 = %s", (token_digest(token),)
    ).fetchone()
    if row is None:
        if authenticate(conn):  # raises 401 for a token that is no one's
            raise ApiError(403, "Only the operator's token can do this: a company's token cannot.")
    elif row["expires_at"] is not None and row["expires_at"] <= now():
        raise _unauthorized("The API token has expired: ask for a new one.")


def now() -> datetime:
    return datetime.now(UTC)


def principal() -> Principal:
    return g.principal


def require_admin() -> Principal:
    who = principal()
    if not who.is_admin:
        raise ApiError(403, "Only a company administrator can do this.")
    return who
