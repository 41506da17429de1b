"""Each employee's effective outgoing-call settings: their own, else their
departments', else the company's (routing/outbound.py says how they combine).
Read by the compiler for routing, and by the API to check a click-to-call or
a forward-all number before anything rings."""

from __future__ import annotations

from dataclasses import dataclass

from ..db import Connection
from ..routing.outbound import effective_permission


@dataclass(frozen=True)
class Outgoing:
    login: str
    allowed: str  # the effective permission
    caller_id: str | None  # the employee's own or a department's; None: the company's
    choices: tuple[str, ...]  # the numbers the employee may show for one call (*81)


def outgoing_settings(
    conn: Connection, company_id: int, company_caller_id: str | None, employee_id: int | None = None
) -> dict[int, Outgoing]:
    """By employee id, every employee of the company's (or only ``employee_id``'s)."""
    rows = conn.execute(
        """SELECT e.id, e.sip_login, e.outgoing_calls AS own, own_number.e164 AS own_caller_id,
                  coalesce(array_agg(d.outgoing_calls ORDER BY d.id) FILTER (WHERE d.outgoing_calls IS NOT NULL),
                           '{}') AS department_permissions,
                  coalesce(array_agg(dn.e164 ORDER BY d.id) FILTER (WHERE dn.e164 IS NOT NULL), '{}')
                      AS department_caller_ids
             FROM employees e
             LEFT JOIN numbers own_number ON own_number.id = e.caller_id_number_id
             LEFT JOIN department_members m ON m.employee_id = e.id
             LEFT JOIN departments d ON d.id = m.department_id
             LEFT JOIN numbers dn ON dn.id = d.caller_id_number_id
            WHERE e.company_id = %(company)s AND (%(employee)s::bigint IS NULL OR e.id = %(employee)s)
            GROUP BY e.id, own_number.e164
            ORDER BY e.sip_login""",
        {"company": company_id, "employee": employee_id},
    ).fetchall()
    settings = {}
    for row in rows:
        caller_id = row["own_caller_id"] or next(iter(row["department_caller_ids"]), None)
        choices = [row["own_caller_id"], *row["department_caller_ids"], company_caller_id]
        settings[row["id"]] = Outgoing(
            row["sip_login"],
            effective_permission(row["own"], list(row["department_permissions"])),
            caller_id,
            tuple(dict.fromkeys(n for n in choices if n)),
        )
    return settings
