"""Destination ``employee``: ring the employee's registered SIP devices.

Options (``data["employee"]``):
    id, name, extension: who the employee is (for reasons and history)
    login: SIP login; the AoR is ``sip:<login>@<company domain>``
"""

from __future__ import annotations

from ..targets import Resolution, Target


def resolve(data: dict, call, ctx) -> Resolution:
    employee = data["employee"]
    target = Target(
        uri=f"sip:{employee['login']}@{ctx.domain}",
        via_location=True,
        label=f"employee {employee['extension']} {employee['name']}",
    )
    return Resolution((target,), (f"ring {target.label}",))
