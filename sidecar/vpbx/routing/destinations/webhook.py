"""Destination ``webhook``: the customer's URL chooses the route (R17).

Options: ``data["webhook_id"]``. When the plan is built it is a node target
("webhook:5"): the adapter asks the webhook off the SIP workers (see
vpbx.lookups) and ``expand`` turns the validated answer, or the failure to get
one, into what rings instead:

    {"action": "ring", "destinations": [...], "mode": "parallel", "timeout": 30}
    {"action": "scheme", "scheme_id": 4}
    {"action": "reject", "code": 486}
    {"action": "fallback"}

The answer's destinations: {"kind": "employee", "employee_id": 7} (or
"extension": "101"), {"kind": "department", "department_id": 3},
{"kind": "phone_number", "number": "+7..."}, {"kind": "sip_uri", "uri": "sip:..."},
{"kind": "queue", "queue_id": 2}; and "queue_priority" (0-9) puts the caller
ahead of lower priorities in any call queue the call reaches.
Anything the webhook cannot answer (timeout, error, invalid answer, open
breaker) follows the webhook's fallback scheme: never dead air.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..targets import Data, Expansion, Resolution, node_resolution
from .employee import in_directory
from .kind import Field, Handler, Kind, Option

if TYPE_CHECKING:
    from ..call import Call
    from ..plan import Context


def resolve(data: Data, call: Call, ctx: Context) -> Resolution:
    node_id = data["webhook_id"]
    return node_resolution(
        "webhook", node_id, f"webhook {node_id}", "its URL chooses the route when the call arrives (R17)", runs=True
    )


def _destination(wanted: Data, directory: Data) -> tuple[Data | None, str]:
    """The compiled destination an answer's destination names, or None and why not."""
    kind = wanted["kind"]
    if kind == "employee":
        employee = in_directory(directory, employee_id=wanted.get("employee_id"), extension=wanted.get("extension"))
        named = (
            f"employee id {wanted['employee_id']}"
            if wanted.get("employee_id") is not None
            else f"extension {wanted['extension']}"
        )
        return ({"kind": "employee", "employee": employee}, "") if employee else (None, f"no {named}")
    if kind == "department":
        department = directory["departments"].get(str(wanted["department_id"]))
        return (
            ({"kind": "department", "department": department}, "")
            if department
            else (None, f"no department id {wanted['department_id']}")
        )
    if kind == "phone_number":
        return {"kind": "phone_number", "number": wanted["number"]}, ""
    if kind == "queue":
        # The media app looks the queue up within the call's company only.
        return {"kind": "queue", "queue_id": wanted["queue_id"]}, ""
    return {"kind": "sip_uri", "uri": wanted["uri"]}, ""


def _scheme(scheme_id: int | None, directory: Data, why: str) -> Expansion:
    if scheme_id is None:
        return Expansion(reasons=(f"{why}: no fallback scheme, the next step rings",))
    scheme = directory["schemes"].get(str(scheme_id))
    if scheme is None:
        return Expansion(reasons=(f"{why}: scheme {scheme_id} does not exist, the next step rings",))
    return Expansion(scheme=scheme, reasons=(f"{why}: scheme {scheme['name']!r}",))


def expand(node: str, outcome: Data | str, step_timeout: int, directory: Data) -> Expansion:
    """What rings in the webhook's place. ``outcome``: its validated answer
    (a dict), or a string saying why there is none."""
    webhook = directory["webhooks"].get(node.partition(":")[2])
    if webhook is None:
        return Expansion(reasons=(f"{node} no longer exists: the next step rings",))
    name = f"webhook {webhook['name']!r}"
    if isinstance(outcome, str) or outcome["action"] == "fallback":
        why = f"{name} failed ({outcome})" if isinstance(outcome, str) else f"{name} chose the fallback"
        return _scheme(webhook["fallback_scheme_id"], directory, why)
    action = outcome["action"]
    if action == "reject":
        return Expansion(reject=outcome["code"], reasons=(f"{name} rejects the call with {outcome['code']}",))
    priority = outcome.get("queue_priority", 0)
    if action == "scheme":
        return replace(_scheme(outcome["scheme_id"], directory, f"{name} chose"), queue_priority=priority)
    found, reasons = (
        [],
        [f"{name} rings {len(outcome['destinations'])} destination(s) {outcome['mode']} for {outcome['timeout']} s"],
    )
    for wanted in outcome["destinations"]:
        destination, why_not = _destination(wanted, directory)
        if destination is None:
            reasons.append(f"{name} named {why_not}: skipped")
        else:
            found.append(destination)
    if not found:
        return _scheme(webhook["fallback_scheme_id"], directory, f"{name} named nobody to ring")
    if priority:
        reasons.append(f"{name} gives the caller queue priority {priority}")
    return Expansion(
        steps=({"mode": outcome["mode"], "timeout": outcome["timeout"], "destinations": found},),
        reasons=tuple(reasons),
        queue_priority=priority,
    )


KIND = Kind("webhook", Handler.LOOKUP, resolve, Field("webhook_id", Option.ID, "webhook_id", "webhook"), expand=expand)
