"""Write call events into the history tables: one row per call, one per leg.

Every write is idempotent, so an event delivered twice (a keeper restarted
before acknowledging it, two 200 OKs from a forked call) changes nothing the
second time: the first answer wins and a missed event never overrides it.
The metrics' totals (``totals``) move only with a write that happened, so
they count each call once too; a lookup event, which writes no history,
counts again if delivered again.
"""

from __future__ import annotations

from ..db import Connection, one
from ..routing.numbers import to_e164
from ..routing.outbound import HIDDEN
from . import events, totals
from .rules import Line, answered_line, missed_line

# Why a missed line's call failed rather than went unanswered (vpbx_calls_total's "outcome").
FAILED_REASONS = frozenset({events.REJECTED, events.NOBODY_TO_RING})


def _callback_served(conn: Connection, event: dict) -> None:
    """A callback's outcome joins the caller's line (and their time in the
    queue, for a queue's); the first one stands."""
    params = {
        "outcome": event["outcome"],
        "callback": event.get("callback_call_id"),
        "at": event["at"],
        "queue": event.get("queue_id"),
        "call_id": event["call_id"],
    }
    if event.get("queue_id") is not None:
        conn.execute(
            """UPDATE queue_calls SET callback_outcome = %(outcome)s, callback_call_id = %(callback)s,
                                      callback_at = %(at)s
                WHERE id = (SELECT id FROM queue_calls WHERE queue_id = %(queue)s AND call_id = %(call_id)s
                              AND outcome = 'callback' ORDER BY joined_at DESC LIMIT 1)
                  AND callback_outcome IS NULL""",
            params,
        )
    conn.execute(
        """UPDATE calls SET callback_outcome = %(outcome)s, callback_call_id = %(callback)s, callback_at = %(at)s
            WHERE id = (SELECT id FROM calls WHERE call_id = %(call_id)s ORDER BY started_at DESC LIMIT 1)
              AND callback_outcome IS NULL""",
        params,
    )


def apply(conn: Connection, event: dict, moved: totals.Totals | None = None) -> None:
    """Write ``event``; what it moved in the metrics goes to ``moved``."""
    moved = moved if moved is not None else totals.Totals()
    kind = event.get("type")
    parent = (event.get("call") or {}).get("parent_call_id")
    if "at" in event:
        event = {**event, "at": events.event_time(event["at"])}
    answered = events.answered_leg(event) if kind == events.ANSWERED else None
    if parent and kind in (events.ANSWERED, events.MISSED):
        _add_to_parent(conn, event, parent, answered)
    elif kind == events.ANSWERED:
        _record(conn, event, answered_line(event), answered, moved)
    elif kind == events.MISSED:
        _record(conn, event, missed_line(event), None, moved)
    elif kind == events.VOICEMAIL and event.get("message_id"):
        # The media app took a message: whoever answered (voicemail itself, or
        # an IVR menu that led to it), the caller reached no one (R19).
        row = conn.execute(
            """UPDATE calls c SET voicemail = true, voicemail_message_id = %(message)s, status = 'missed',
                                 end_reason = COALESCE(end_reason, %(reason)s)
                 FROM (SELECT id, voicemail_message_id AS before FROM calls WHERE call_id = %(call_id)s
                        ORDER BY started_at DESC LIMIT 1 FOR UPDATE) old
                WHERE c.id = old.id AND EXISTS (SELECT 1 FROM voicemail_messages WHERE id = %(message)s)
            RETURNING c.company_id, old.before IS DISTINCT FROM %(message)s AS new""",
            {"message": event["message_id"], "call_id": event["call_id"], "reason": events.NO_ANSWER},
        ).fetchone()
        if row is not None and row["new"]:
            moved.count(totals.VOICEMAIL, {"company_id": row["company_id"]})
    elif kind == events.LOOKUP:
        moved.count(
            totals.LOOKUPS,
            {"company_id": event.get("company_id") or "", "lookup": event["lookup"], "outcome": event["outcome"]},
        )
        moved.observe(
            totals.LOOKUP_SECONDS, {"lookup": event["lookup"], "outcome": event["outcome"]}, float(event["seconds"])
        )
    elif kind == events.QUEUE:
        _queue_call(conn, event)
    elif kind == events.CALLBACK_ASKED:
        # The caller's line says a callback was promised, to which number.
        conn.execute(
            """UPDATE calls SET callback_number = %(number)s
                WHERE id = (SELECT id FROM calls WHERE call_id = %(call_id)s ORDER BY started_at DESC LIMIT 1)
                  AND callback_outcome IS NULL""",
            {"number": event["number"], "call_id": event["call_id"]},
        )
    elif kind == events.CALLBACK_SERVED:
        _callback_served(conn, event)
    elif kind == events.CATEGORIZED:
        # The caller's line: the media app's leg to the person joined it (X-Vpbx-Parent).
        conn.execute(
            """UPDATE calls SET category = %(category)s, category_key = %(key)s, categorized_at = %(at)s
                WHERE id = (SELECT id FROM calls WHERE call_id = %(call_id)s ORDER BY started_at DESC LIMIT 1)""",
            {
                "category": event["category"],
                "key": event["key"],
                "at": event["at"],
                "call_id": event["call_id"],
            },
        )
    elif kind == events.ENDED:
        # The latest call with this Call-ID that has not ended (a BYE carries no start time).
        conn.execute(
            """UPDATE calls SET ended_at = %(at)s WHERE id = (
                            SELECT id FROM calls WHERE call_id = %(call_id)s AND ended_at IS NULL
                            ORDER BY started_at DESC LIMIT 1)""",
            {"at": event["at"], "call_id": event["call_id"]},
        )


def _queue_call(conn: Connection, event: dict) -> None:
    """A caller's time in a queue: the first event says how it ended, the one
    at the end of an answered call adds how long they talked."""
    row = conn.execute(
        """INSERT INTO queue_calls (queue_id, company_id, call_id, joined_at, left_at, outcome, wait_s,
                                    employee_id, talk_s, callback_number)
           SELECT q.id, q.company_id, %(call_id)s, %(joined_at)s, %(left_at)s, %(outcome)s, %(wait_s)s,
                  (SELECT id FROM employees WHERE id = %(employee_id)s AND company_id = q.company_id), %(talk_s)s,
                  %(callback_number)s
             FROM queues q WHERE q.id = %(queue_id)s AND q.company_id = %(company_id)s
           ON CONFLICT (queue_id, call_id, joined_at)
           DO UPDATE SET talk_s = COALESCE(excluded.talk_s, queue_calls.talk_s)
           RETURNING queue_id, outcome, wait_s, xmax = 0 AS inserted""",
        {
            "queue_id": event["queue_id"],
            "company_id": event["company_id"],
            "call_id": event["call_id"],
            "joined_at": events.event_time(event["joined_at"]),
            "left_at": events.event_time(event["left_at"]),
            "outcome": event["outcome"],
            "wait_s": max(0.0, float(event["wait_s"])),
            "employee_id": event.get("employee_id"),
            "talk_s": event.get("talk_s"),
            "callback_number": event.get("callback_number"),
        },
    ).fetchone()
    if row is not None and row["inserted"]:  # a repeated event, or the talk time, counts no call twice
        conn.execute(
            """INSERT INTO queue_totals (queue_id, outcome, calls, wait_s) VALUES (%s, %s, 1, %s)
               ON CONFLICT (queue_id, outcome)
               DO UPDATE SET calls = queue_totals.calls + 1, wait_s = queue_totals.wait_s + excluded.wait_s""",
            (row["queue_id"], row["outcome"], row["wait_s"]),
        )


def _record(conn: Connection, event: dict, line: Line, answered: dict | None, moved: totals.Totals) -> None:
    call = event["call"]
    if conn.execute("SELECT 1 FROM companies WHERE id = %s", (call["company_id"],)).fetchone() is None:
        return  # the company is gone: nothing to show its calls to
    inbound = _inbound_trunk(conn, call)
    caller = call["caller"]
    if inbound is not None:
        # A carrier's caller as the trunk's region reads it, E.164 like the number
        # called; done here, off the call's path (phonenumbers is no cheap parse).
        caller = to_e164(caller, inbound["region"].strip()) or caller
    row = conn.execute(
        """INSERT INTO calls (call_id, company_id, direction, caller, caller_employee_id, called, started_at,
                              answered_at, ended_at, status, employee_id, employee_label, forwarded, end_reason,
                              caller_id, trunk)
           VALUES (%(call_id)s, %(company_id)s, %(direction)s, %(caller)s,
                   (SELECT e.id FROM employees e JOIN companies c ON c.id = e.company_id
                     WHERE e.sip_login = %(caller_login)s AND c.sip_domain = %(caller_domain)s),
                   %(called)s, %(started_at)s, %(answered_at)s, %(ended_at)s, %(status)s,
                   (SELECT id FROM employees WHERE id = %(employee_id)s AND company_id = %(company_id)s),
                   %(employee_label)s, %(forwarded)s, %(end_reason)s, %(caller_id)s,
                   (SELECT name FROM trunks WHERE id = %(trunk_id)s))
           ON CONFLICT (call_id, started_at) DO NOTHING
           RETURNING id, trunk""",
        {
            # A click-to-call's employee leg is recorded under the client leg's Call-ID.
            "call_id": call.get("line_call_id") or event["call_id"],
            "company_id": call["company_id"],
            "direction": call["direction"],
            "caller": caller,
            "caller_login": call.get("caller_login"),
            "caller_domain": call.get("caller_domain"),
            "called": call["called"] or "",
            "started_at": call["started_at"],
            "answered_at": event["at"] if answered else None,
            "ended_at": None if answered else event["at"],
            "status": line.status,
            "employee_id": line.employee_id,
            "employee_label": line.employee_label,
            "forwarded": line.forwarded,
            "end_reason": line.end_reason,
            "caller_id": call.get("caller_id"),
            "trunk_id": _line_trunk(event["legs"], answered),
        },
    ).fetchone()
    if row is None:
        return  # already recorded: the first outcome stands
    _insert_legs(conn, row["id"], event["legs"], answered)
    _count_call(event, line, inbound["name"] if inbound else row["trunk"], moved)


def _inbound_trunk(conn: Connection, call: dict) -> dict | None:
    """The trunk an incoming call came in on (name, region), if known."""
    if call["direction"] != "incoming" or call.get("trunk_id") is None:
        return None
    return conn.execute("SELECT name, region FROM trunks WHERE id = %s", (call["trunk_id"],)).fetchone()


def _count_call(event: dict, line: Line, trunk: str | None, moved: totals.Totals) -> None:
    """The call in the metrics: how it ended, its setup and plan times."""
    call = event["call"]
    direction = call["direction"]
    number = ""
    if direction == "incoming":
        number = call["called"] or ""
    elif direction == "outgoing":
        number = "hidden" if call.get("caller_id") == HIDDEN else call.get("caller_id") or ""
    code = 200 if line.status == "answered" or event.get("type") == events.ANSWERED else event.get("code")
    moved.count(
        totals.CALLS,
        {
            "company_id": call["company_id"],
            "direction": direction,
            "number": number,
            "trunk": trunk or "",
            "outcome": line.status if line.end_reason not in FAILED_REASONS else "failed",
            "reason": line.end_reason or "",
            "code_class": f"{code // 100}xx" if isinstance(code, int) and 100 <= code < 700 else "",
        },
    )
    if event.get("ringing_at") is not None:
        started = events.event_time(call["started_at"])
        ringing = events.event_time(float(event["ringing_at"]))
        moved.observe(totals.SETUP, {"direction": direction}, (ringing - started).total_seconds())
    if call.get("plan_s") is not None:
        moved.observe(totals.PLAN, {"direction": direction}, float(call["plan_s"]))


def _line_trunk(legs: list[dict], answered: dict | None) -> int | None:
    """The trunk a line shows: the answered leg's, else the last one tried."""
    if answered is not None and answered.get("trunk_id") is not None:
        return int(answered["trunk_id"])
    return next((int(leg["trunk_id"]) for leg in reversed(legs) if leg.get("trunk_id") is not None), None)


def _insert_legs(conn: Connection, line_id: int, legs: list[dict], answered: dict | None, offset: int = 0) -> None:
    """The legs of a call's line, their steps moved on by ``offset``; a leg already there stays as it is."""
    for leg in legs:
        is_answer = answered is not None and leg["step"] == answered["step"] and leg["target"] == answered["target"]
        conn.execute(
            """INSERT INTO call_legs (call_id, step, target, employee_id, department_id, rang_at, answered, trunk)
               VALUES (%s, %s, %s, (SELECT id FROM employees WHERE id = %s),
                       (SELECT id FROM departments WHERE id = %s), %s, %s,
                       (SELECT name FROM trunks WHERE id = %s))
               ON CONFLICT (call_id, step, target) DO NOTHING""",
            (
                line_id,
                offset + leg["step"],
                leg["target"],
                leg["employee_id"],
                leg["department_id"],
                leg["rang_at"],
                is_answer,
                leg.get("trunk_id"),
            ),
        )


def _add_to_parent(conn: Connection, event: dict, parent_call_id: str, answered: dict | None) -> None:
    """A leg the media app opened for a caller (an IVR key ringing people, the
    forward of a direct call nobody answered) is part of the caller's call: its
    legs join that call's line, after the legs rung before it, and the first
    person to answer makes the line theirs (a direct call's line, missed by the
    employee dialled until then, among them)."""
    row = conn.execute(
        "SELECT id FROM calls WHERE call_id = %s ORDER BY started_at DESC LIMIT 1", (parent_call_id,)
    ).fetchone()
    if row is None or not event["legs"]:
        return
    first_rung = min(leg["rang_at"] for leg in event["legs"])
    # Counted from the legs before this one's, so a repeated event lands on the same steps.
    offset = one(
        conn.execute(
            "SELECT COALESCE(max(step), 0) AS n FROM call_legs WHERE call_id = %s AND rang_at < %s",
            (row["id"], first_rung),
        ).fetchone(),
        "an aggregate",
    )["n"]
    _insert_legs(conn, row["id"], event["legs"], answered, offset)
    if answered is not None:
        conn.execute(
            """UPDATE calls SET status = 'answered', answered_at = COALESCE(answered_at, %(at)s),
                      employee_id = (SELECT id FROM employees WHERE id = %(employee)s), employee_label = %(label)s,
                      end_reason = NULL
                WHERE id = %(id)s AND (employee_id IS NULL OR status = 'missed') AND NOT voicemail""",
            {"at": event["at"], "employee": answered.get("employee_id"), "label": answered["target"], "id": row["id"]},
        )
