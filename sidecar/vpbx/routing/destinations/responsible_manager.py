"""Destination ``responsible_manager``: the employee the CRM says owns the caller (R16).

No options. When the plan is built it is a node target: the adapter asks
who the caller's manager is (the CRM's pushed list, or its lookup URL) off
the SIP workers, and ``expand`` rings that manager for the step's timeout.
If the manager does not answer, the CRM integration's own no-answer rule
applies, and takes priority over the manager's personal one (seed 003: Ivan
does not answer his client, Petr takes the call, whatever Ivan's profile says).
An unknown caller moves straight on to the next step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..ring_times import FORWARD_RING_SECONDS
from ..targets import Data, Expansion, Resolution, node_resolution
from .employee import label
from .kind import Handler, Kind

if TYPE_CHECKING:
    from ..call import Call
    from ..plan import Context


def resolve(data: Data, call: Call, ctx: Context) -> Resolution:
    return node_resolution(
        "responsible_manager",
        None,
        "responsible manager",
        "the CRM names the caller's manager when the call arrives (R16)",
        runs=True,
    )


def _forward(rule: str | None, employee: Data | None, department: Data | None, seconds: int) -> Data | None:
    if rule == "forward_employee" and employee:
        return {
            "mode": "parallel",
            "timeout": seconds,
            "forward": True,
            "destinations": [{"kind": "employee", "employee": employee}],
        }
    if rule == "forward_department" and department:
        return {
            "mode": "parallel",
            "timeout": seconds,
            "forward": True,
            "destinations": [{"kind": "department", "department": department}],
        }
    return None


def expand(node: str, outcome: int | str, step_timeout: int, directory: Data) -> Expansion:
    """``outcome``: the manager's employee id, or a string saying why there is none."""
    if isinstance(outcome, str):
        return Expansion(reasons=(f"responsible manager: {outcome}, the next step rings",))
    manager = directory["employees"].get(str(outcome))
    if manager is None:
        return Expansion(reasons=(f"responsible manager: employee id {outcome} does not exist, the next step rings",))
    steps = [{"mode": "parallel", "timeout": step_timeout, "destinations": [{"kind": "employee", "employee": manager}]}]
    reasons = [f"responsible manager: {label(manager)}"]
    crm = directory.get("crm") or {}
    crm_rule = crm.get("no_answer_rule", "none")
    if crm_rule != "none":
        forward = _forward(
            crm_rule,
            directory["employees"].get(str(crm.get("no_answer_employee_id"))),
            directory["departments"].get(str(crm.get("no_answer_department_id"))),
            crm["no_answer_ring_s"],
        )
        reasons.append(
            "no answer: the CRM's rule "
            + ("forwards" if forward else "names nobody left")
            + ", before the manager's own"
        )
    else:
        own = manager.get("no_answer") or {}
        forward = _forward(own.get("rule"), own.get("employee"), own.get("department"), FORWARD_RING_SECONDS)
        if forward:
            reasons.append("no answer: the manager's own rule forwards")
    if forward:
        steps.append(forward)
    return Expansion(steps=tuple(steps), reasons=tuple(reasons))


KIND = Kind("responsible_manager", Handler.LOOKUP, resolve, expand=expand)
