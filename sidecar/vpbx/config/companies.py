"""Creating a company (a tenant) with its first administrator: an operator task."""

from __future__ import annotations

from dataclasses import dataclass

from ..db import Connection, returning
from .credentials import new_credentials
from .tokens import issue_token


@dataclass(frozen=True)
class NewCompany:
    company_id: int
    admin_id: int
    admin_sip_password: str
    admin_token: str


def create_company(
    conn: Connection,
    *,
    name: str,
    sip_domain: str,
    timezone: str,
    admin_name: str,
    admin_extension: str,
    admin_email: str | None = None,
) -> NewCompany:
    with conn.transaction():
        company_id = returning(
            conn.execute(
                "INSERT INTO companies (name, sip_domain, timezone) VALUES (%s, %s, %s) RETURNING id",
                (name, sip_domain, timezone),
            )
        )["id"]
        password, digest, digest_b = new_credentials(admin_extension, sip_domain)
        admin_id = returning(
            conn.execute(
                """INSERT INTO employees (company_id, name, extension, email, role, sip_login, sip_ha1, sip_ha1b)
               VALUES (%s, %s, %s, %s, 'admin', %s, %s, %s) RETURNING id""",
                (company_id, admin_name, admin_extension, admin_email, admin_extension, digest, digest_b),
            )
        )["id"]
        token = issue_token(conn, admin_id, label="first administrator")
    return NewCompany(company_id, admin_id, password, token)
