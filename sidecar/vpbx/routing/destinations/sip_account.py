"""Destination ``sip_account``: a company device that belongs to no employee.

Options (``data["account"]``): id, name, login; the AoR is
``sip:<login>@<company domain>``, looked up among registrations.
"""

from __future__ import annotations

from ..targets import Resolution, Target


def resolve(data: dict, call, ctx) -> Resolution:
    account = data["account"]
    target = Target(
        uri=f"sip:{account['login']}@{ctx.domain}", via_location=True, label=f"SIP account {account['name']}"
    )
    return Resolution((target,), (f"ring {target.label}",))
