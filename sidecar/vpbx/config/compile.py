"""Compile each company number into one self-contained routing document in Redis.

Kamailio workers route a new call from this document alone, so everything the
routing library needs for a number is denormalised into it. The document carries
a version so a worker can keep an in-process copy and skip re-parsing.
"""

from __future__ import annotations

import json
import time

import psycopg
import redis

DOCUMENT_SCHEMA = 2
KEY_PREFIX = "vpbx:number:"
COMPANY_KEY_PREFIX = "vpbx:company:"
# Set by every full build: its absence means Redis lost the documents.
GENERATION_KEY = "vpbx:cache:generation"


def encode_document(document: dict) -> str:
    """``<version> <json>``: a reader compares the version before parsing anything."""
    return f"{document['version']} {json.dumps(document, separators=(',', ':'))}"


def decode_document(raw: bytes) -> tuple[bytes, dict]:
    version, _, body = raw.partition(b" ")
    return version, json.loads(body)


def number_key(e164: str) -> str:
    return KEY_PREFIX + e164


def company_key(sip_domain: str) -> str:
    return COMPANY_KEY_PREFIX + sip_domain


def _employee(row: dict, prefix: str = "") -> dict:
    return {
        "id": row[f"{prefix}id"],
        "name": row[f"{prefix}name"],
        "extension": row["extension"],
        "login": row["sip_login"],
    }


def _department(conn: psycopg.Connection, department_id: int) -> dict:
    department = conn.execute(
        """SELECT id, name, distribution, ring_time_s, if_nobody_answers, voicemail_box_id
           FROM departments WHERE id = %s""", (department_id,)).fetchone()
    members = conn.execute(
        """SELECT e.id, e.name, e.extension, e.sip_login FROM department_members m
           JOIN employees e ON e.id = m.employee_id WHERE m.department_id = %s ORDER BY m.position""",
        (department_id,)).fetchall()
    return {
        "id": department["id"],
        "name": department["name"],
        "distribution": department["distribution"],
        "ring_time": department["ring_time_s"],
        "if_nobody_answers": department["if_nobody_answers"],
        "voicemail_box_id": department["voicemail_box_id"],
        "members": [_employee(m) for m in members],
    }


def _steps(conn: psycopg.Connection, scheme_id: int) -> list[dict]:
    rows = conn.execute(
        """
        SELECT s.id AS step_id, s.mode, s.timeout_s, d.kind, d.phone_number, d.sip_uri,
               d.department_id, d.voicemail_box_id, d.ivr_menu_id,
               e.id AS employee_id, e.name AS employee_name, e.extension, e.sip_login
        FROM scheme_steps s
        LEFT JOIN step_destinations d ON d.step_id = s.id
        LEFT JOIN employees e ON e.id = d.employee_id
        WHERE s.scheme_id = %s
        ORDER BY s.position, d.position
        """,
        (scheme_id,),
    ).fetchall()
    steps: dict[int, dict] = {}
    for row in rows:
        step = steps.setdefault(
            row["step_id"],
            {"mode": row["mode"], "timeout": row["timeout_s"], "destinations": []},
        )
        if row["kind"] == "employee":
            step["destinations"].append({"kind": "employee", "employee": _employee(row, "employee_")})
        elif row["kind"] == "phone_number":
            step["destinations"].append({"kind": "phone_number", "number": row["phone_number"]})
        elif row["kind"] == "sip_uri":
            step["destinations"].append({"kind": "sip_uri", "uri": row["sip_uri"]})
        elif row["kind"] == "department":
            step["destinations"].append({"kind": "department", "department": _department(conn, row["department_id"])})
        elif row["kind"] == "voicemail":
            step["destinations"].append({"kind": "voicemail", "voicemail_box_id": row["voicemail_box_id"]})
        elif row["kind"] == "ivr":
            step["destinations"].append({"kind": "ivr", "ivr_menu_id": row["ivr_menu_id"]})
        elif row["kind"] is not None:
            step["destinations"].append({"kind": row["kind"]})
    return list(steps.values())


# A backup chain longer than this is refused by the API; compile stops here too.
MAX_BACKUP_DEPTH = 5


def _schedule(conn: psycopg.Connection, schedule_id: int | None, company_timezone: str) -> dict | None:
    if schedule_id is None:
        return None
    schedule = conn.execute("SELECT name, timezone FROM schedules WHERE id = %s", (schedule_id,)).fetchone()
    weekly = conn.execute(
        "SELECT weekday, start_minute, end_minute FROM schedule_intervals WHERE schedule_id = %s "
        "ORDER BY weekday, start_minute", (schedule_id,)).fetchall()
    exceptions = conn.execute(
        "SELECT start_date, end_date, closed, start_minute, end_minute FROM schedule_exceptions "
        "WHERE schedule_id = %s ORDER BY start_date", (schedule_id,)).fetchall()
    return {
        "name": schedule["name"],
        "timezone": schedule["timezone"] or company_timezone,
        "weekly": [[r["weekday"], r["start_minute"], r["end_minute"]] for r in weekly],
        "exceptions": [[r["start_date"].isoformat(), r["end_date"].isoformat(), r["closed"],
                        r["start_minute"], r["end_minute"]] for r in exceptions],
    }


def _scheme(conn: psycopg.Connection, scheme_id: int | None, company_timezone: str, depth: int = 0) -> dict | None:
    if scheme_id is None or depth > MAX_BACKUP_DEPTH:
        return None
    row = conn.execute("SELECT id, name, active_schedule_id, backup_scheme_id FROM schemes WHERE id = %s",
                       (scheme_id,)).fetchone()
    return {
        "id": row["id"],
        "name": row["name"],
        "steps": _steps(conn, row["id"]),
        "active": _schedule(conn, row["active_schedule_id"], company_timezone),
        "backup": _scheme(conn, row["backup_scheme_id"], company_timezone, depth + 1),
    }


def compile_number(conn: psycopg.Connection, e164: str) -> dict | None:
    row = conn.execute(
        """
        SELECT n.e164, n.mode, n.scheme_id, n.off_hours_scheme_id, n.schedule_id AS own_schedule_id,
               c.id AS company_id, c.name AS company_name, c.sip_domain, c.timezone,
               c.schedule_id AS company_schedule_id
        FROM numbers n JOIN companies c ON c.id = n.company_id
        WHERE n.e164 = %s
        """,
        (e164,),
    ).fetchone()
    if row is None:
        return None
    tz = row["timezone"]
    by_schedule = row["mode"] == "by_schedule"
    schedule_id = row["own_schedule_id"] or row["company_schedule_id"]
    return {
        "schema": DOCUMENT_SCHEMA,
        "version": time.time_ns(),
        "number": row["e164"],
        "company": {
            "id": row["company_id"],
            "name": row["company_name"],
            "domain": row["sip_domain"],
            "timezone": tz,
        },
        "mode": row["mode"],
        "schedule": _schedule(conn, schedule_id, tz) if by_schedule else None,
        "working": _scheme(conn, row["scheme_id"], tz),
        "off_hours": _scheme(conn, row["off_hours_scheme_id"], tz) if by_schedule else None,
    }


def compile_company(conn: psycopg.Connection, sip_domain: str) -> dict | None:
    """What routing needs for calls a company's own phones make: its extensions."""
    company = conn.execute(
        "SELECT id, name, sip_domain, timezone FROM companies WHERE sip_domain = %s", (sip_domain,)
    ).fetchone()
    if company is None:
        return None
    employees = conn.execute(
        "SELECT id, name, extension, sip_login FROM employees WHERE company_id = %s ORDER BY extension",
        (company["id"],),
    ).fetchall()
    return {
        "schema": DOCUMENT_SCHEMA,
        "version": time.time_ns(),
        "company": {
            "id": company["id"],
            "name": company["name"],
            "domain": company["sip_domain"],
            "timezone": company["timezone"],
        },
        "extensions": {e["extension"]: _employee(e) for e in employees},
    }


def rebuild_all(conn: psycopg.Connection, cache: redis.Redis) -> int:
    """Recompile every number and company; drop documents of ones that no longer exist.

    Returns the number of number documents written.
    """
    numbers = [r["e164"] for r in conn.execute("SELECT e164 FROM numbers ORDER BY e164")]
    domains = [r["sip_domain"] for r in conn.execute("SELECT sip_domain FROM companies ORDER BY id")]
    documents = {number_key(n): encode_document(compile_number(conn, n)) for n in numbers}
    documents.update({company_key(d): encode_document(compile_company(conn, d)) for d in domains})
    stale = [
        key
        for prefix in (KEY_PREFIX, COMPANY_KEY_PREFIX)
        for key in cache.scan_iter(match=prefix + "*")
        if key.decode() not in documents
    ]
    with cache.pipeline(transaction=True) as pipe:
        if stale:
            pipe.delete(*stale)
        if documents:
            pipe.mset(documents)
        pipe.set(GENERATION_KEY, time.time_ns())
        pipe.execute()
    return len(numbers)
