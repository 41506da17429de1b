"""Destination ``secretary``: the employee who takes the company's calls and transfers them (seed 004).

Options: as ``employee`` (``data["employee"]``). Rung exactly as that
employee, skipped the same way when away; the reasons name the role.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..targets import Data, Resolution
from . import employee
from .kind import Field, Handler, Kind, Option

if TYPE_CHECKING:
    from ..call import Call
    from ..plan import Context


def resolve(data: Data, call: Call, ctx: Context) -> Resolution:
    resolution = employee.resolve(data, call, ctx)
    return Resolution(resolution.targets, tuple(f"{r} (secretary)" for r in resolution.reasons))


KIND = Kind(
    "secretary",
    Handler.KAMAILIO,
    resolve,
    Field("employee_id", Option.ID, "employee_id", "employee"),
    compiles=employee.KIND.compiles,
)
