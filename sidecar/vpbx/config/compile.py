"""Compile each company number into one self-contained routing document in Redis.

Kamailio workers route a new call from this document alone, so everything the
routing library needs for a number is denormalised into it. Where documents
live in Redis and how they are encoded: ``vpbx.documents``.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import redis

from ..db import Connection, MissingRow, one
from ..documents import (
    CRM_CLIENTS_KEY_PREFIX,
    DOCUMENT_PREFIXES,
    DOCUMENT_SCHEMA,
    GENERATION_KEY,
    VERSION_KEY_PREFIX,
    company_key,
    crm_clients_key,
    directory_key,
    document_writes,
    number_key,
)
from ..routing import leg_names
from ..routing.destinations import KINDS
from .outgoing import outgoing_settings
from .schedules import read_schedule

# A backup chain longer than this is refused by the API; compile stops here too.
MAX_BACKUP_DEPTH = 5


def company_today(company_timezone: str, at: datetime | None) -> date:
    """The company's date at ``at`` (now when None): Vladivostok and Los Angeles
    disagree on it for most of a day."""
    return (at or datetime.now(UTC)).astimezone(ZoneInfo(company_timezone)).date()


class _Compiler:
    """Builds the parts of documents for one company, loading each thing once.

    ``at`` is the moment the documents are compiled for: what is over by the
    company's date then (absences that ended) is left out, since routing asks
    about that moment or later only. The explain endpoint compiles for the
    moment it explains.
    """

    def __init__(self, conn: Connection, company_timezone: str, at: datetime | None = None):
        self.conn = conn
        self.timezone = company_timezone
        self.today = company_today(company_timezone, at)
        self._schedules: dict[int, dict] = {}
        self._employees: dict[int, dict] = {}

    def schedule(self, schedule_id: int | None) -> dict | None:
        if schedule_id is None:
            return None
        if schedule_id not in self._schedules:
            rows = read_schedule(self.conn, schedule_id)
            if rows is None:
                raise MissingRow(f"schedule {schedule_id} is gone")
            self._schedules[schedule_id] = {
                "id": schedule_id,
                "name": rows.schedule["name"],
                "timezone": rows.schedule["timezone"] or self.timezone,
                "weekly": [[r["weekday"], r["start_minute"], r["end_minute"]] for r in rows.weekly],
                "exceptions": [
                    [
                        r["start_date"].isoformat(),
                        r["end_date"].isoformat(),
                        r["closed"],
                        r["start_minute"],
                        r["end_minute"],
                    ]
                    for r in rows.exceptions
                ],
            }
        return self._schedules[schedule_id]

    def employees(self, ids) -> list[dict]:
        """Employees by id, in the order given, with what decides whether they can be rung."""
        missing = [i for i in dict.fromkeys(ids) if i not in self._employees]
        if missing:
            rows = self.conn.execute(
                """SELECT id, name, extension, sip_login, mobile, mobile_after_s, schedule_id, no_answer_rule,
                          no_answer_after_s, dnd, forward_all
                   FROM employees WHERE id = ANY(%s)""",
                (missing,),
            ).fetchall()
            # An absence over by the company's today never matters again (routing
            # compares the call's date in the company's timezone, plan.Context.today).
            absences = self.conn.execute(
                """SELECT employee_id, kind, start_date, end_date FROM employee_absences
                   WHERE employee_id = ANY(%s) AND end_date >= %s ORDER BY start_date""",
                (missing, self.today),
            ).fetchall()
            for row in rows:
                self._employees[row["id"]] = {
                    "id": row["id"],
                    "name": row["name"],
                    "extension": row["extension"],
                    "login": row["sip_login"],
                    "schedule": self.schedule(row["schedule_id"]),
                    "absences": [
                        [a["kind"], a["start_date"].isoformat(), a["end_date"].isoformat()]
                        for a in absences
                        if a["employee_id"] == row["id"]
                    ],
                    "no_answer": {"rule": row["no_answer_rule"], "after": row["no_answer_after_s"]},
                    "mobile": row["mobile"] if row["mobile_after_s"] is not None else None,
                    "mobile_after": row["mobile_after_s"],
                    # Set from the employee's phone by feature code (routing/feature_codes.py).
                    "dnd": row["dnd"],
                    "forward_all": row["forward_all"],
                }
        return [self._employees[i] for i in ids if i in self._employees]

    def department(self, department_id: int) -> dict:
        department = one(
            self.conn.execute(
                """SELECT id, name, distribution, ring_time_s, if_nobody_answers, voicemail_box_id
               FROM departments WHERE id = %s""",
                (department_id,),
            ).fetchone(),
            f"department {department_id}",
        )
        member_ids = [
            r["employee_id"]
            for r in self.conn.execute(
                "SELECT employee_id FROM department_members WHERE department_id = %s ORDER BY position",
                (department_id,),
            )
        ]
        return {
            "id": department["id"],
            "name": department["name"],
            "distribution": department["distribution"],
            "ring_time": department["ring_time_s"],
            "if_nobody_answers": department["if_nobody_answers"],
            "voicemail_box_id": department["voicemail_box_id"],
            "members": self.employees(member_ids),
        }

    def steps(self, scheme_id: int) -> list[dict]:
        rows = self.conn.execute(
            """SELECT s.id AS step_id, s.mode, s.timeout_s, d.kind, d.employee_id, d.department_id,
                      d.voicemail_box_id, d.ivr_menu_id, d.sip_account_id, d.queue_id, d.webhook_id,
                      d.phone_number, d.sip_uri
               FROM scheme_steps s LEFT JOIN step_destinations d ON d.step_id = s.id
               WHERE s.scheme_id = %s ORDER BY s.position, d.position""",
            (scheme_id,),
        ).fetchall()
        self.employees([r["employee_id"] for r in rows if r["kind"] in ("employee", "secretary")])
        steps: dict[int, dict] = {}
        for row in rows:
            step = steps.setdefault(
                row["step_id"], {"mode": row["mode"], "timeout": row["timeout_s"], "destinations": []}
            )
            if row["kind"] is not None:
                step["destinations"].append(self.destination(row))
        return list(steps.values())

    def destination(self, row: dict) -> dict:
        """A destination as routing reads it, from a step_destinations or ivr_keys row."""
        kind = KINDS.get(row["kind"])
        return {"kind": row["kind"], **(kind.compile(row, self) if kind else {})}

    def sip_account(self, account_id: int) -> dict:
        return one(
            self.conn.execute(
                "SELECT id, name, sip_login AS login FROM sip_accounts WHERE id = %s", (account_id,)
            ).fetchone(),
            f"SIP account {account_id}",
        )

    def ivr_keys(self, company_id: int) -> dict[str, dict]:
        """Where every key of the company's IVR menus leads, by "<menu>-<key>". The
        media app reads a menu's keys here; for a key that rings people it sends
        the caller's new leg to Kamailio as sip:ivr-<menu>-<key>@<domain>."""
        rows = self.conn.execute(
            """SELECT k.menu_id, k.key, k.kind, k.employee_id, k.department_id, k.voicemail_box_id,
                      k.ivr_menu_id, k.sip_account_id, k.queue_id, k.webhook_id, k.phone_number,
                      k.sip_uri
               FROM ivr_keys k JOIN ivr_menus m ON m.id = k.menu_id
               WHERE m.company_id = %s ORDER BY k.menu_id, k.key""",
            (company_id,),
        ).fetchall()
        return {leg_names.ivr_key(row["menu_id"], row["key"]): self.destination(row) for row in rows}

    def scheme(self, scheme_id: int | None, depth: int = 0) -> dict | None:
        if scheme_id is None or depth > MAX_BACKUP_DEPTH:
            return None
        row = one(
            self.conn.execute(
                """SELECT id, name, active_schedule_id, backup_scheme_id,
                      (num_nonnulls(greeting_prompt_id, music_prompt_id, whisper_prompt_id, category_menu_id) > 0
                       OR forward_notice <> 'none') AS announced
               FROM schemes WHERE id = %s""",
                (scheme_id,),
            ).fetchone(),
            f"scheme {scheme_id}",
        )
        return {
            "id": row["id"],
            "name": row["name"],
            "steps": self.steps(row["id"]),
            "active": self.schedule(row["active_schedule_id"]),
            "backup": self.scheme(row["backup_scheme_id"], depth + 1),
            # R14: a greeting, music, whisper or forward notice: the media app answers and plays them;
            # a post-call category menu: the media app holds both legs, to keep the person's after the caller's.
            "announced": row["announced"],
        }


def compile_number(conn: Connection, e164: str, at: datetime | None = None) -> dict | None:
    row = conn.execute(
        """
        SELECT n.e164, n.mode, n.scheme_id, n.off_hours_scheme_id, n.schedule_id AS own_schedule_id, n.queue_priority,
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
    parts = _Compiler(conn, tz, at)
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
        "schedule": parts.schedule(schedule_id) if by_schedule else None,
        "working": parts.scheme(row["scheme_id"]),
        "off_hours": parts.scheme(row["off_hours_scheme_id"]) if by_schedule else None,
        "queue_priority": row["queue_priority"],
    }


def compile_company(conn: Connection, sip_domain: str, at: datetime | None = None) -> dict | None:
    """What routing needs for calls a company's own phones make: its extensions."""
    company = conn.execute(
        """SELECT c.id, c.name, c.sip_domain, c.timezone, c.region, chosen.e164 AS caller_id
           FROM companies c LEFT JOIN numbers chosen ON chosen.id = c.caller_id_number_id
           WHERE c.sip_domain = %s""",
        (sip_domain,),
    ).fetchone()
    if company is None:
        return None
    ids = [
        r["id"]
        for r in conn.execute("SELECT id FROM employees WHERE company_id = %s ORDER BY extension", (company["id"],))
    ]
    parts = _Compiler(conn, company["timezone"], at)
    employees = parts.employees(ids)
    # Direct calls need where each employee's no-answer rule forwards to.
    targets = {
        r["id"]: r
        for r in conn.execute(
            """SELECT id, no_answer_employee_id, no_answer_department_id, no_answer_voicemail_box_id, no_answer_notice
           FROM employees WHERE company_id = %s""",
            (company["id"],),
        )
    }
    # Forward targets are embedded as they are before any rule is attached:
    # A forwarding to B and B to A must not make the document circular.
    plain = {e["id"]: {**e, "no_answer": dict(e["no_answer"])} for e in employees}
    rules = {}
    for employee in employees:
        row = targets[employee["id"]]
        rule = dict(employee["no_answer"])
        if rule["rule"] == "forward_employee" and row["no_answer_employee_id"] in plain:
            rule["employee"] = plain[row["no_answer_employee_id"]]
        if rule["rule"] == "forward_department" and row["no_answer_department_id"]:
            department = parts.department(row["no_answer_department_id"])
            rule["department"] = {**department, "members": [plain[m["id"]] for m in department["members"]]}
        if rule["rule"] == "voicemail":
            rule["voicemail_box_id"] = row["no_answer_voicemail_box_id"]
        if rule["rule"] in ("forward_employee", "forward_department") and row["no_answer_notice"] != "none":
            rule["notice"] = True  # the media app tells the caller (it reads which notice itself)
        rules[employee["id"]] = rule
    for employee in employees:
        employee["no_answer"] = rules[employee["id"]]
    return {
        "schema": DOCUMENT_SCHEMA,
        "version": time.time_ns(),
        "company": _company_part(company),
        "extensions": {e["extension"]: e for e in employees},
        "ivr_keys": parts.ivr_keys(company["id"]),
        "outgoing": _outgoing(conn, company),
    }


def _outgoing(conn: Connection, company: dict) -> dict:
    """What routing needs for the company's phones calling outside
    (routing/outbound.py): how numbers read, and per SIP login what its
    employee may call and is shown as (config/outgoing.py). A login that is
    no employee's (a door phone) is absent: it may call emergency numbers only."""
    numbers = [
        r["e164"] for r in conn.execute("SELECT e164 FROM numbers WHERE company_id = %s ORDER BY id", (company["id"],))
    ]
    # The caller ID of outgoing calls: the company's choice, else its first number.
    company_caller_id = company["caller_id"] or (numbers[0] if numbers else None)
    callers = outgoing_settings(conn, company["id"], company_caller_id)
    return {
        "region": company["region"].strip(),
        "caller_id": company_caller_id,
        "numbers": numbers,
        "callers": {
            c.login: {"caller_id": c.caller_id, "allowed": c.allowed, "choices": list(c.choices)}
            for c in callers.values()
        },
    }


def _company_part(company: dict) -> dict:
    return {
        "id": company["id"],
        "name": company["name"],
        "domain": company["sip_domain"],
        "timezone": company["timezone"],
    }


WEBHOOK_COLUMNS = (
    "id, name, url, secret, budget_ms, retries, cache_ttl_s, breaker_failures, breaker_open_s, fallback_scheme_id"
)


def compile_company_documents(conn: Connection, sip_domain: str, at: datetime | None = None) -> dict[str, dict | None]:
    """A company's two documents by Redis key: its extensions and its directory
    (None for a company that no longer exists). The directory is built from the
    extensions document, so the company's employees are compiled once."""
    company_document = compile_company(conn, sip_domain, at)
    return {
        company_key(sip_domain): company_document,
        directory_key(sip_domain): compile_directory(conn, company_document, at) if company_document else None,
    }


def compile_directory(conn: Connection, company_document: dict, at: datetime | None = None) -> dict:
    """Everything of a company a lookup's answer may route to, by id (R16, R17),
    from its compiled extensions document.

    Employees carry their no-answer rule with its forward target embedded,
    as in the company document: the CRM's manager falls back to it.
    """
    company_id = company_document["company"]["id"]
    parts = _Compiler(conn, company_document["company"]["timezone"], at)
    departments = {}
    for row in conn.execute("SELECT id FROM departments WHERE company_id = %s ORDER BY id", (company_id,)):
        department = parts.department(row["id"])
        members = [company_document["extensions"][m["extension"]] for m in department["members"]]
        departments[str(row["id"])] = {**department, "members": [_plain(m) for m in members]}
    schemes = {
        str(r["id"]): parts.scheme(r["id"])
        for r in conn.execute("SELECT id FROM schemes WHERE company_id = %s ORDER BY id", (company_id,))
    }
    webhooks = {
        str(r["id"]): r
        for r in conn.execute(
            f"SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE company_id = %s ORDER BY id", (company_id,)
        )
    }
    crm = conn.execute(
        """SELECT lookup_url, secret, budget_ms, cache_ttl_s, no_answer_rule, no_answer_employee_id,
                  no_answer_department_id, no_answer_ring_s
           FROM crm_integrations WHERE company_id = %s""",
        (company_id,),
    ).fetchone()
    return {
        "schema": DOCUMENT_SCHEMA,
        "version": time.time_ns(),
        "company": company_document["company"],
        "employees": {str(e["id"]): e for e in company_document["extensions"].values()},
        "departments": departments,
        "schemes": schemes,
        "webhooks": webhooks,
        "crm": crm,
    }


def _plain(employee: dict) -> dict:
    """An employee without the forward target of their no-answer rule (a department's member)."""
    return {**employee, "no_answer": {"rule": employee["no_answer"]["rule"], "after": employee["no_answer"]["after"]}}


def rebuild_all(conn: Connection, cache: redis.Redis, at: datetime | None = None) -> int:
    """Recompile every number and company; drop documents of ones that no longer exist.

    Returns the number of number documents written.
    """
    numbers = [r["e164"] for r in conn.execute("SELECT e164 FROM numbers ORDER BY e164")]
    domains = [r["sip_domain"] for r in conn.execute("SELECT sip_domain FROM companies ORDER BY id")]
    documents: dict[str, str] = {}
    # A number or company deleted since the lists were read compiles to None: left out.
    for n in numbers:
        number_document = compile_number(conn, n, at)
        if number_document is not None:
            documents.update(document_writes(number_key(n), number_document))
    for d in domains:
        for key, document in compile_company_documents(conn, d, at).items():
            if document is not None:
                documents.update(document_writes(key, document))
    stale = [
        key
        for prefix in DOCUMENT_PREFIXES + (VERSION_KEY_PREFIX,)
        for key in cache.scan_iter(match=prefix + "*")
        if key.decode() not in documents
    ]
    # The clients a CRM pushed (R16): one hash per company, rebuilt whole.
    clients: dict[str, dict[str, int]] = {}
    for row in conn.execute("SELECT company_id, phone, employee_id FROM crm_clients"):
        clients.setdefault(crm_clients_key(row["company_id"]), {})[row["phone"]] = row["employee_id"]
    stale += list(cache.scan_iter(match=CRM_CLIENTS_KEY_PREFIX + "*"))
    with cache.pipeline(transaction=True) as pipe:
        if stale:
            pipe.delete(*stale)
        if documents:
            pipe.mset(documents)
        for key, mapping in clients.items():
            pipe.hset(key, mapping=mapping)
        pipe.set(GENERATION_KEY, time.time_ns())
        pipe.execute()
    return len(numbers)
