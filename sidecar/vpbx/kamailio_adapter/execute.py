"""Turn plan steps into Kamailio branches, and carry the rest of the plan with the transaction."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ..routing import Plan, Step

USRLOC_TABLE = "location"


def load_step_branches(ksr, step: Step) -> int:
    """Fill the R-URI and the destination set with the step's reachable contacts.

    The first reachable target takes the R-URI (lookup_uri also sets $du for a
    NATed phone); later ones are appended as branches, so t_relay forks to all of
    them at once. Returns how many targets were reachable.
    """
    reachable = 0
    for target in step.targets:
        if target.via_location:
            lookup = ksr.registrar.lookup_to_dset if reachable else ksr.registrar.lookup_uri
            found = lookup(USRLOC_TABLE, target.uri) > 0
        elif reachable:
            found = ksr.corex.append_branch_uri(target.uri) > 0
        else:
            found = ksr.seturi(target.uri) > 0
        if found:
            reachable += 1
        else:
            ksr.info(f"vpbx: {target.label} ({target.uri}) is not reachable\n")
    return reachable


@dataclass(frozen=True)
class PlanCursor:
    """The plan and the index of the step to try next: travels with the SIP
    transaction (an xavp), so any worker's failure_route can continue it."""

    plan: Plan
    next_step: int

    def to_json(self) -> str:
        return json.dumps({"plan": json.loads(self.plan.to_json()), "next": self.next_step}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> PlanCursor:
        data = json.loads(text)
        return cls(Plan.from_json(json.dumps(data["plan"])), data["next"])

    def remaining(self):
        """(index, step) pairs still to try, in order."""
        return list(enumerate(self.plan.steps))[self.next_step:]


def step_timers(ksr, step: Step) -> None:
    """The step's timeout bounds both timers: with no reply at all (fr) and
    after a provisional one (fr_inv)."""
    milliseconds = step.timeout * 1000
    ksr.tm.t_set_fr(milliseconds, milliseconds)


# Record-Route parameter naming the longest idle department member a call
# rings: it comes back in the 200 OK's Record-Route and in every in-dialog
# request's Route, so the answer and the hang-up are attributed without any
# per-call state in Kamailio.
IDLE_RR_PARAM = "vpbx_li"
_IDLE_RR_VALUE = re.compile(IDLE_RR_PARAM + r"=(\d+)\.(\d+)")


def idle_tracking_param(step: Step) -> str | None:
    """The rr parameter for a step that rings one longest-idle department member."""
    members = {(t.department_id, t.employee_id) for t in step.targets if t.tracks_idle}
    if len(members) != 1 or len(step.targets) != 1:
        return None
    department_id, employee_id = members.pop()
    return f";{IDLE_RR_PARAM}={department_id}.{employee_id}"


def idle_tracked_member(route_headers: str | None) -> tuple[int, int] | None:
    """(department id, employee id) from a Route or Record-Route header value."""
    match = _IDLE_RR_VALUE.search(route_headers or "")
    return (int(match.group(1)), int(match.group(2))) if match else None
