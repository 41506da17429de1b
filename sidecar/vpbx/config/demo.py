"""The demo company that `make up` seeds, so a newcomer can register two softphones and call.

Idempotent: a second run changes nothing. Passwords exist only as HA1 in the
database, so the plaintext is written once to a file in the run directory; if
that file is lost the demo passwords are reset and the file rewritten.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..db import Connection, returning
from .accounts import reset_password
from .credentials import ha1
from .tokens import issue_operator_token, issue_token, token_digest

DEMO_DOMAIN = "demo.vpbx.test"
DEMO_NUMBER = "+74951112233"
DEMO_EMPLOYEES = (
    ("Anna Sales", "101", "anna@demo.vpbx.test", "admin"),
    ("Boris Support", "102", "boris@demo.vpbx.test", "user"),
)
DEMO_TRUNK_NAME = "demo carrier (local SIPp)"


@dataclass(frozen=True)
class DemoAccount:
    name: str
    extension: str
    login: str
    password: str
    domain: str


def _upsert_company(conn: Connection) -> int:
    row = returning(
        conn.execute(
            """
        INSERT INTO companies (name, sip_domain, timezone) VALUES ('Demo Company', %s, 'Europe/Moscow')
        ON CONFLICT (sip_domain) DO UPDATE SET sip_domain = EXCLUDED.sip_domain
        RETURNING id
        """,
            (DEMO_DOMAIN,),
        )
    )
    return row["id"]


def _set_password(conn: Connection, employee_id: int, login: str) -> str:
    return reset_password(conn, "employees", employee_id, login, DEMO_DOMAIN)


def _load_credentials(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _valid_token(conn: Connection, token: str | None, employee_id: int) -> bool:
    return (
        token is not None
        and conn.execute(
            "SELECT 1 FROM api_tokens WHERE token_sha256 = %s AND employee_id = %s", (token_digest(token), employee_id)
        ).fetchone()
        is not None
    )


def _valid_operator_token(conn: Connection, token: str | None) -> bool:
    return (
        token is not None
        and conn.execute("SELECT 1 FROM operator_tokens WHERE token_sha256 = %s", (token_digest(token),)).fetchone()
        is not None
    )


def seed(conn: Connection, credentials_file: Path, trunk_port: int) -> list[DemoAccount]:
    saved = _load_credentials(credentials_file)
    known = {a["login"]: a["password"] for a in saved.get("accounts", [])}
    accounts: list[DemoAccount] = []
    with conn.transaction():
        company_id = _upsert_company(conn)
        employee_ids = []
        for name, extension, email, role in DEMO_EMPLOYEES:
            row = conn.execute(
                "SELECT id, sip_ha1 FROM employees WHERE company_id = %s AND extension = %s",
                (company_id, extension),
            ).fetchone()
            if row is None:
                row = returning(
                    conn.execute(
                        """
                    INSERT INTO employees (company_id, name, extension, email, role, sip_login, sip_ha1, sip_ha1b)
                    VALUES (%s, %s, %s, %s, %s, %s, '', '') RETURNING id
                    """,
                        (company_id, name, extension, email, role, extension),
                    )
                )
                password = _set_password(conn, row["id"], extension)
            elif extension in known and row["sip_ha1"] == ha1(extension, DEMO_DOMAIN, known[extension]):
                password = known[extension]  # the file still tells the truth: keep it
            else:
                password = _set_password(conn, row["id"], extension)
            employee_ids.append(row["id"])
            accounts.append(DemoAccount(name, extension, extension, password, DEMO_DOMAIN))

        scheme = conn.execute(
            "SELECT id FROM schemes WHERE company_id = %s AND name = 'Ring everyone'", (company_id,)
        ).fetchone()
        if scheme is None:
            scheme = returning(
                conn.execute(
                    "INSERT INTO schemes (company_id, name) VALUES (%s, 'Ring everyone') RETURNING id",
                    (company_id,),
                )
            )
            step = returning(
                conn.execute(
                    "INSERT INTO scheme_steps (scheme_id, position, mode, timeout_s) "
                    "VALUES (%s, 0, 'parallel', 30) RETURNING id",
                    (scheme["id"],),
                )
            )
            for position, employee_id in enumerate(employee_ids):
                conn.execute(
                    "INSERT INTO step_destinations (step_id, position, kind, employee_id) "
                    "VALUES (%s, %s, 'employee', %s)",
                    (step["id"], position, employee_id),
                )
        conn.execute(
            """
            INSERT INTO numbers (company_id, e164, scheme_id) VALUES (%s, %s, %s)
            ON CONFLICT (e164) DO NOTHING
            """,
            (company_id, DEMO_NUMBER, scheme["id"]),
        )
        conn.execute(
            """
            INSERT INTO trunks (name, address, port) VALUES (%s, '127.0.0.1', %s)
            ON CONFLICT (name) DO UPDATE SET port = EXCLUDED.port
            """,
            (DEMO_TRUNK_NAME, trunk_port),
        )
        admin_id = employee_ids[0]
        token = saved.get("admin_api_token")
        if not _valid_token(conn, token, admin_id):
            token = issue_token(conn, admin_id, label="demo administrator")
        # The site's operator: manages the trunks through the API.
        operator_token = saved.get("operator_api_token")
        if not _valid_operator_token(conn, operator_token):
            operator_token = issue_operator_token(conn, label="demo operator")

    credentials_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = credentials_file.with_suffix(".tmp")
    tmp.write_text(
        json.dumps(
            {
                "number": DEMO_NUMBER,
                "admin_api_token": token,
                "operator_api_token": operator_token,
                "accounts": [a.__dict__ for a in accounts],
            },
            indent=2,
        )
    )
    os.chmod(tmp, 0o600)
    tmp.replace(credentials_file)
    return accounts
