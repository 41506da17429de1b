"""Destination ``employee``: ring the employee's registered SIP devices.

Options (``data["employee"]``):
    id, name, extension: who the employee is (for reasons and history)
    login: SIP login; the AoR is ``sip:<login>@<company domain>``
    absences: [[kind, first_day, last_day], ...] (vacation, sick_leave)
    schedule: personal hours (a compiled schedule), or None for always
    mobile, mobile_after: R5, the mobile (through the outbound trunk) joins the
        ringing ``mobile_after`` seconds after the desk phone; None: never
    dnd: do not disturb, set by feature code from their phone
    forward_all: an E.164 number that rings instead of them, set the same way

An employee on leave, outside their hours or on do-not-disturb is skipped at
once (R3): the call moves on without ringing them. One who forwards all calls
has that number rung for calls to them; a department skips them instead (see
resolve).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..schedule import is_open
from ..targets import Data, Resolution, Target
from .kind import Field, Handler, Kind, Option
from .phone_number import pstn_target

if TYPE_CHECKING:
    from ..call import Call
    from ..plan import Context

LEAVE = {"vacation": "on vacation", "sick_leave": "on sick leave"}


def _unavailable(employee: Data, call: Call, ctx: Context) -> str | None:
    if employee.get("dnd"):
        return "on do-not-disturb"
    for kind, first, last in employee.get("absences", ()):
        if first <= ctx.today <= last:
            return f"{LEAVE[kind]} {first}..{last}"
    schedule = employee.get("schedule")
    if schedule is not None:
        key = ("schedule", schedule.get("id", id(schedule)))
        if key not in ctx.memo:
            ctx.memo[key] = is_open(schedule, call.at)
        open_, why = ctx.memo[key]
        if not open_:
            return f"outside personal hours ({why})"
    return None


def in_directory(directory: Data, *, employee_id: int | None = None, extension: str | None = None) -> Data | None:
    """The employee a lookup's answer names, by id or else by extension, in a
    company's compiled directory; None if there is no such employee."""
    if employee_id is not None:
        found: Data | None = directory["employees"].get(str(employee_id))
        return found
    if extension:
        return next((e for e in directory["employees"].values() if e["extension"] == extension), None)
    return None


def label(employee: Data) -> str:
    """How plans, explain and history name an employee."""
    return f"employee {employee['extension']} {employee['name']}"


def resolve(data: Data, call: Call, ctx: Context, *, group_call: bool = False, **target_fields: Any) -> Resolution:
    """``group_call``: a department or a queue rings the employee among others;
    ``target_fields``: more about the Target then."""
    employee = data["employee"]
    name = label(employee)
    why_not = _unavailable(employee, call, ctx)
    if why_not:
        return Resolution((), (f"skip {name}: {why_not}",))
    if forward := employee.get("forward_all"):
        if group_call:
            # A department's or a queue's call goes to whoever is at their desk: a forwarded
            # member's mobile voicemail would answer it and stop the others ringing.
            return Resolution(
                (), (f"skip {name}: forwards all calls to {forward}, which a department does not follow",)
            )
        if forward == call.called:
            return Resolution((), (f"skip {name}: forwards all calls to {forward}, the number being called (a loop)",))
        return Resolution(
            (pstn_target(forward, f"{name}'s forward-all number", employee_id=employee.get("id")),),
            (f"{name} forwards all calls to {forward}: ring it",),
        )
    target = Target(
        uri=f"sip:{employee['login']}@{ctx.domain}",
        via_location=True,
        label=name,
        employee_id=employee.get("id"),
        **target_fields,
    )
    after = employee.get("mobile_after")
    if employee.get("mobile") and after is not None:
        mobile = pstn_target(employee["mobile"], f"mobile of {name}", employee_id=employee.get("id"), **target_fields)
        return Resolution(
            (target,),
            (f"ring {name}", f"ring their mobile {employee['mobile']} {after} s later"),
            delayed=((after, mobile),),
        )
    return Resolution((target,), (f"ring {name}",))


KIND = Kind(
    "employee",
    Handler.KAMAILIO,
    resolve,
    Field("employee_id", Option.ID, "employee_id", "employee"),
    compiles=lambda row, parts: {"employee": parts.employees([row["employee_id"]])[0]},
)
