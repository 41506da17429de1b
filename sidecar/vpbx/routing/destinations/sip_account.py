"""Destination ``sip_account``: a company device that belongs to no employee.

Options (``data["account"]``): id, name, login; the AoR is
``sip:<login>@<company domain>``, looked up among registrations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..targets import Data, Resolution, Target
from .kind import Field, Handler, Kind, Option

if TYPE_CHECKING:
    from ..call import Call
    from ..plan import Context


def resolve(data: Data, call: Call, ctx: Context) -> Resolution:
    account = data["account"]
    target = Target(
        uri=f"sip:{account['login']}@{ctx.domain}", via_location=True, label=f"SIP account {account['name']}"
    )
    return Resolution((target,), (f"ring {target.label}",))


KIND = Kind(
    "sip_account",
    Handler.KAMAILIO,
    resolve,
    Field("sip_account_id", Option.ID, "sip_account_id", "SIP account"),
    compiles=lambda row, parts: {"account": parts.sip_account(row["sip_account_id"])},
)
