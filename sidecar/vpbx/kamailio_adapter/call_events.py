"""The history events of a call, as the KEMI script emits them (see vpbx.history.events).

Built here so the script only says when; what an event holds is decided once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TypeGuard

from ..history import events
from ..routing import Plan
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
        "direction": "internal" if from_phone else "incoming",
        "caller": caller,
        "caller_login": caller if from_phone else None,
        "caller_domain": caller_domain if from_phone else None,
        "started_at": now(),
        "dialled_employee_id": plan.dialled_employee_id,
        "dialled_employee_label": plan.dialled_employee_label,
    }
    if parent_call_id:
        record["parent_call_id"] = parent_call_id
    return record


def _ours(cursor: PlanCursor | None) -> TypeGuard[PlanCursor]:
    return cursor is not None and cursor.call.get("company_id") is not None


def answered(call_id: str, saved_cursor: str | None, branch_uri: str | None) -> dict | None:
    """The 200 OK's event, or None when it is no company's call or no branch of
    the plan answered. ``saved_cursor``: the PlanCursor's JSON, read as it is
    (rebuilding the plan would cost the answer more than all the rest)."""
    saved = json.loads(saved_cursor) if saved_cursor else None
    if saved is None or saved.get("call", {}).get("company_id") is None:
        return None
    leg = PlanCursor.answered_in(saved, branch_uri)
    if leg is None:
        return None
    return {
        "type": events.ANSWERED,
        "call_id": call_id,
        "at": now(),
        "call": saved["call"],
        "legs": saved["legs"],
        "answered": leg,
    }


def missed(call_id: str, cursor: PlanCursor | None, reason: str) -> dict | None:
    if not _ours(cursor):
        return None
    return {
        "type": events.MISSED,
        "call_id": call_id,
        "at": now(),
        "call": cursor.call,
        "legs": list(cursor.legs),
        "reason": reason,
    }
