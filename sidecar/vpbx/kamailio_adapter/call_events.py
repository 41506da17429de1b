"""The history events of a call, as the KEMI script emits them (see vpbx.history.events).

Built here so the script only says when; what an event holds is decided once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ..history import events
from ..routing import Plan
from ..routing.outbound import HIDDEN
from .execute import PlanCursor


def now() -> str:
    return datetime.now(UTC).isoformat()


def call_record(
    plan: Plan, *, source: str, caller: str, caller_domain: str | None, parent_call_id: str | None = None
) -> dict:
    """What every event of this call says about the call itself. A leg the media
    app opened for a caller it answered names that caller's call (``parent_call_id``):
    history adds it to that call's line instead of making one of its own."""
    from_phone = source == "phone"
    record = {
        "company_id": plan.company_id,
        "called": plan.called,
        "direction": ("outgoing" if plan.outgoing else "internal") if from_phone else "incoming",
        "caller": caller,
        "caller_login": caller if from_phone else None,
        "caller_domain": caller_domain if from_phone else None,
        "started_at": now(),
        "dialled_employee_id": plan.dialled_employee_id,
        "dialled_employee_label": plan.dialled_employee_label,
    }
    if plan.caller_id is not None:
        # What the callee was shown: a hidden caller's number reached only the carrier.
        record["caller_id"] = HIDDEN if plan.caller_hidden else plan.caller_id
    if parent_call_id:
        record["parent_call_id"] = parent_call_id
    return record


def answer_prefix(call_id: str, cursor: PlanCursor) -> str | None:
    """The "answered" event of the step that rings now, all but its end, or None
    when it is no company's call. kamailio.cfg's reply route completes it at the
    200 OK with the answering branch's leg and the time, so an answer costs no
    Python: ``<prefix><leg index>,"at":<epoch seconds>}``."""
    if not cursor.is_ours():
        return None
    head = json.dumps(
        {"type": events.ANSWERED, "call_id": call_id, "call": cursor.call, "legs": list(cursor.legs)},
        separators=(",", ":"),
    )
    return head[:-1] + ',"answered_leg":'


def missed(call_id: str, cursor: PlanCursor | None, reason: str) -> dict | None:
    if cursor is None or not cursor.is_ours():
        return None
    return {
        "type": events.MISSED,
        "call_id": call_id,
        "at": now(),
        "call": cursor.call,
        "legs": list(cursor.legs),
        "reason": reason,
    }
