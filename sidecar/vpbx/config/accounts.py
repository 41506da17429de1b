"""SIP credentials in the database: employees' and devices' accounts share one realm per company."""

from __future__ import annotations

from psycopg import sql

from ..db import Connection
from .credentials import new_credentials

ACCOUNT_TABLES = ("employees", "sip_accounts")


def reset_password(conn: Connection, table: str, row_id: int, login: str, realm: str) -> str:
    """Give the account a new generated password; returns it, the only time it exists in clear."""
    if table not in ACCOUNT_TABLES:
        raise ValueError(f"{table} holds no SIP accounts")
    password, digest, digest_b = new_credentials(login, realm)
    conn.execute(
        sql.SQL("UPDATE {} SET sip_ha1 = %s, sip_ha1b = %s WHERE id = %s").format(sql.Identifier(table)),
        (digest, digest_b, row_id),
    )
    return password
