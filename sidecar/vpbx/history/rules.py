"""R19: what the one history line of a call says, from its events.

- Answered: a call to whoever answered; "forwarded" when that was not the
  first one rung (or, for a direct call, not the employee dialled), or when a
  no-answer rule rang them (a leg marked "forward": the CRM's rule, R16).
- A direct call missed, whether dropped with busy or forwarded and not
  answered: missed by the employee dialled.
- A call to a number missed: missed on the number, by nobody in particular.
- Voicemail (or an employee's no-answer message) answered: nobody did, so the call is missed (by the employee
  dialled, for a direct call); a message left marks the line "voicemail"
  (the media app's event, see store.py); no message is an ordinary miss.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..routing import leg_names
from ..routing.targets import Data
from . import events
from .events import NO_ANSWER

# Nodes of the media app whose answer means nobody did: voicemail, an
# employee's no-answer rule (a message, or a notice before the forward; the
# forward's leg makes the line answered if the colleague answers), and a
# department's promise to call back (the call back has its own line).
NOBODY_ANSWERED_NODES = ("voicemail", "no_answer", "department_callback")


@dataclass(frozen=True)
class Line:
    status: str  # "answered" or "missed"
    employee_id: int | None
    employee_label: str | None
    forwarded: bool
    end_reason: str | None


def _first_employee_leg(legs: list[Data]) -> Data | None:
    return next((leg for leg in legs if leg.get("employee_id") is not None), None)


def answered_line(event: Data) -> Line:
    call, legs, answered = event["call"], event["legs"], events.answered_leg(event)
    if leg_names.node_kind(answered.get("node")) in NOBODY_ANSWERED_NODES:
        return missed_line({**event, "reason": NO_ANSWER})
    dialled = call.get("dialled_employee_id")
    if dialled is not None:
        forwarded = answered.get("employee_id") != dialled
    else:
        first_step = min((leg["step"] for leg in legs), default=answered["step"])
        forwarded = answered["step"] != first_step or bool(answered.get("forward"))
    return Line("answered", answered.get("employee_id"), answered["target"], forwarded, None)


def missed_line(event: Data) -> Line:
    call, legs = event["call"], event["legs"]
    dialled = call.get("dialled_employee_id")
    forwarded = len({leg["step"] for leg in legs}) > 1 or any(leg.get("forward") for leg in legs)
    if dialled is not None:
        label = call.get("dialled_employee_label")
        return Line("missed", dialled, label, forwarded, event["reason"])
    return Line("missed", None, None, forwarded, event["reason"])
