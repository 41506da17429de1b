"""The history events of a call, as the KEMI script emits them (see vpbx.history.events).

Built here so the script only says when; what an event holds is decided once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ..history import events
from ..routing import Plan, click_to_call
from ..routing.outbound import HIDDEN
from .execute import PlanCursor


def now() -> str:
    return datetime.now(UTC).isoformat()


def call_record(
    plan: Plan,
    *,
    source: str,
    caller: str,
    caller_domain: str | None,
    parent_call_id: str | None = None,
    call_id: str = "",
    plan_seconds: float | None = None,
    trunk_id: int | None = None,
) -> dict:
    """What every event of this call says about the call itself. A leg the media
    app opened for a caller it answered names that caller's call (``parent_call_id``):
    history adds it to that call's line instead of making one of its own.
    ``plan_seconds`` (how long routing took) and ``trunk_id`` (the trunk an
    incoming call came in on) are for the metrics."""
    from_phone = source == "phone"
    if plan.on_behalf_of:  # a click-to-call: the employee's outgoing call, whatever the leg's From says
        from_phone, caller, caller_domain = True, plan.on_behalf_of, plan.domain
    direction = "incoming"
    if from_phone:
        direction = "outgoing" if plan.outgoing or plan.on_behalf_of else "internal"
    record: dict[str, object] = {
        "company_id": plan.company_id,
        "called": plan.called,
        "direction": direction,
        "caller": caller,
        "caller_login": caller if from_phone else None,
        "caller_domain": caller_domain if from_phone else None,
        "started_at": now(),
        "dialled_employee_id": plan.dialled_employee_id,
        "dialled_employee_label": plan.dialled_employee_label,
    }
    if plan_seconds is not None:
        record["plan_s"] = round(plan_seconds, 6)
    if trunk_id is not None and direction == "incoming":
        record["trunk_id"] = trunk_id
    if plan.caller_id is not None:
        # What the callee was shown: a hidden caller's number reached only the carrier.
        record["caller_id"] = HIDDEN if plan.caller_hidden else plan.caller_id
    if parent_call_id:
        record["parent_call_id"] = parent_call_id
    if not plan.answer_is_the_calls:
        # A click-to-call's employee leg: its answer is not the call's
        # (answer_prefix), and a line of its own takes the client leg's Call-ID.
        record["answer_elsewhere"] = True
        record["line_call_id"] = click_to_call.line_call_id(call_id)
    return record


def answer_prefix(call_id: str, cursor: PlanCursor) -> str | None:
    """The "answered" event of the step that rings now, all but its end, or None
    when it is no company's call. kamailio.cfg's reply route completes it at the
    200 OK with the answering branch's leg and the time, so an answer costs no
    Python: ``<prefix><leg index>,"at":<epoch seconds>}``."""
    if not cursor.is_ours() or cursor.call.get("answer_elsewhere"):
        return None
    head = json.dumps(
        {"type": events.ANSWERED, "call_id": call_id, "call": cursor.call, "legs": list(cursor.legs)},
        separators=(",", ":"),
    )
    return head[:-1] + ',"answered_leg":'


def missed(
    call_id: str, cursor: PlanCursor | None, reason: str, code: int | None, ringing_at: str | None = None
) -> dict | None:
    """``code``: the final reply the caller got (None: not known here);
    ``ringing_at``: when the call first rang (epoch seconds, kamailio.cfg's
    "ringing" table), None if it never did."""
    if cursor is None or not cursor.is_ours():
        return None
    return {
        "type": events.MISSED,
        "call_id": call_id,
        "at": now(),
        "call": cursor.call,
        "legs": list(cursor.legs),
        "reason": reason,
        "code": code,
        "ringing_at": float(ringing_at) if ringing_at else None,
    }
