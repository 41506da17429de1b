"""Checks that ids named in a request belong to the caller's company."""

from __future__ import annotations

from psycopg import sql

from .errors import ApiError, invalid

# Resource name in messages -> table.
TABLES = {
    "employee": "employees",
    "department": "departments",
    "scheme": "schemes",
    "schedule": "schedules",
    "voicemail box": "voicemail_boxes",
    "IVR menu": "ivr_menus",
    "category menu": "category_menus",
    "SIP account": "sip_accounts",
    "prompt": "prompts",
    "queue": "queues",
    "webhook": "webhooks",
}


def owned(conn, company_id: int, what: str, object_id: int | None) -> bool:
    """True if ``object_id`` is None or names a ``what`` of this company."""
    if object_id is None:
        return True
    query = sql.SQL("SELECT 1 FROM {} WHERE id = %s AND company_id = %s").format(sql.Identifier(TABLES[what]))
    return conn.execute(query, (object_id, company_id)).fetchone() is not None


def missing(what: str, object_id: int) -> str:
    return f"no {what} {object_id} in this company"


def require_owned_list(conn, company_id: int, what: str, field: str, object_ids: list[int]) -> None:
    """422 naming each position of ``field`` whose id is not a ``what`` of this company."""
    errors = {
        i: [missing(what, object_id)]
        for i, object_id in enumerate(object_ids)
        if not owned(conn, company_id, what, object_id)
    }
    if errors:
        raise ApiError(422, "The request is invalid.", {field: errors})


def caller_id_number(conn, company_id: int, e164: str | None) -> int | None:
    """The id of the company number ``e164`` (a caller ID), or None for None.
    422 when it is no number of this company: a callee is never shown a
    number the company does not own."""
    if e164 is None:
        return None
    row = conn.execute("SELECT id FROM numbers WHERE e164 = %s AND company_id = %s", (e164, company_id)).fetchone()
    if row is None:
        raise invalid("caller_id", f"{e164} is not a number of this company")
    return row["id"]
