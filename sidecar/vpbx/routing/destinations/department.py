"""Destination ``department``: ring its members by the department's distribution rule (R4).

Options (``data["department"]``): id, name, distribution, ring_time,
if_nobody_answers, voicemail_box_id, members (employees, in order; each as
the ``employee`` destination reads them).

Distributions:
    all_at_once   every member at once, for the step's timeout
    in_order      one member after another, each for ``ring_time``, in the list's order
    round_robin   the same, each call starting one member further on (shared turn counter)
    random        the same, in a random order (seeded by the call id, so explain can replay it)
    longest_idle  the same, the member free for longest first; members on a call last

Members off duty are skipped wherever they stand in the order.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from ..department_state import DepartmentState
from ..targets import Data, Resolution, Target
from . import employee
from .kind import Field, Handler, Kind, Option

if TYPE_CHECKING:
    from ..call import Call
    from ..plan import Context


def _ordered(department: Data, call: Call, ctx: Context) -> tuple[list[Data], str]:
    members = list(department["members"])
    distribution = department["distribution"]
    state: DepartmentState = ctx.departments.get(department["id"], DepartmentState())
    if distribution == "round_robin" and members:
        start = (state.turn - 1) % len(members) if state.turn > 0 else 0
        return members[start:] + members[:start], f"turn {state.turn}: starting with member {start + 1}"
    if distribution == "random":
        # Seeded by the Call-ID: the same call always shuffles the same way (a fair spread, not a secret).
        random.Random(call.call_id).shuffle(members)  # noqa: S311
        return members, "shuffled"
    if distribution == "longest_idle":
        now = call.at.timestamp()

        def free_for(member: Data) -> tuple[int, float]:
            since = state.idle_since(member["id"], now)
            return (1, 0.0) if since is None else (0, since)

        busy = [m["name"] for m in members if state.idle_since(m["id"], now) is None]
        members.sort(key=free_for)  # stable: ties keep the department's order
        return members, ("on a call: " + ", ".join(busy)) if busy else "nobody on a call"
    return members, "in the department's order" if distribution == "in_order" else ""


def resolve(data: Data, call: Call, ctx: Context) -> Resolution:
    department = data["department"]
    members, why_order = _ordered(department, call, ctx)
    hunting = department["distribution"] != "all_at_once"
    tracks_idle = department["distribution"] == "longest_idle"
    reasons = [
        f"department {department['name']!r} ({department['distribution']}"
        + (f", {department['ring_time']} s each" if hunting else "")
        + f"): {len(members)} member(s)"
        + (f", {why_order}" if why_order else "")
    ]
    targets: list[Target] = []
    delayed: list[tuple[int, Target]] = []
    for member in members:
        resolution = employee.resolve(
            {"kind": "employee", "employee": member},
            call,
            ctx,
            group_call=True,
            department_id=department["id"],
            tracks_idle=tracks_idle,
        )
        targets.extend(resolution.targets)
        reasons.extend(resolution.reasons)
        # A member's turn in a hunt is their desk phone's: mobiles join only when everyone rings at once.
        if not hunting:
            delayed.extend(resolution.delayed)
    return Resolution(tuple(targets), tuple(reasons), department["ring_time"] if hunting else None, tuple(delayed))


def voicemail_when_nobody_answers(data: Data) -> int | None:
    """R4's "if nobody answers: voicemail": the department's box; None for its other rules."""
    department = data["department"]
    return department.get("voicemail_box_id") if department.get("if_nobody_answers") == "voicemail" else None


def callback_when_nobody_answers(data: Data) -> int | None:
    """R4's "if nobody answers: call back later" (seed 000): the department,
    which calls the caller back; None for its other rules."""
    department = data["department"]
    return department["id"] if department.get("if_nobody_answers") == "call_back_later" else None


KIND = Kind(
    "department",
    Handler.KAMAILIO,
    resolve,
    Field("department_id", Option.ID, "department_id", "department"),
    compiles=lambda row, parts: {"department": parts.department(row["department_id"])},
    when_nobody_answers=voicemail_when_nobody_answers,
    calls_back_when_nobody_answers=callback_when_nobody_answers,
)
