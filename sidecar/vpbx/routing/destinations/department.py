"""Destination ``department``: ring its members (R4).

Options (``data["department"]``): id, name, distribution, ring_time,
if_nobody_answers, voicemail_box_id, members (employees, in order; each as
the ``employee`` destination reads them).

Members are resolved like employee destinations, in the department's order.
"""

from __future__ import annotations

from ..targets import Resolution
from . import employee


def resolve(data: dict, call, ctx) -> Resolution:
    department = data["department"]
    targets = []
    reasons = [f"department {department['name']!r} ({department['distribution']}): "
               f"{len(department['members'])} member(s)"]
    for member in department["members"]:
        resolution = employee.resolve({"kind": "employee", "employee": member}, call, ctx)
        targets.extend(resolution.targets)
        reasons.extend(resolution.reasons)
    return Resolution(tuple(targets), tuple(reasons))
