"""The Plan: what Kamailio should ring for a call, step by step, and why."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from . import destinations
from .call import Call
from .schedule import is_open
from .targets import Target


@dataclass(frozen=True)
class Step:
    mode: str  # "parallel": ring all targets at once; "sequential": one after another
    timeout: int  # seconds this step may ring before the plan moves on
    targets: tuple[Target, ...]


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    reasons: tuple[str, ...] = field(default=())

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Plan:
        data = json.loads(text)
        steps = tuple(
            Step(s["mode"], s["timeout"], tuple(Target(**t) for t in s["targets"])) for s in data["steps"]
        )
        return cls(steps, tuple(data["reasons"]))


@dataclass(frozen=True)
class Context:
    """What destination modules may know about the company besides the call."""

    company_id: int
    domain: str
    timezone: str


def _context(company: dict) -> Context:
    return Context(company["id"], company["domain"], company["timezone"])


def _resolve_step(step: dict, index: int, call: Call, ctx: Context, reasons: list[str]) -> list[Target]:
    targets: list[Target] = []
    for data in step["destinations"]:
        resolution = destinations.resolve(data, call, ctx)
        reasons.extend(f"step {index}: {r}" for r in resolution.reasons)
        for target in resolution.targets:
            if target.uri == call.caller_aor:
                reasons.append(f"step {index}: {target.label} is the caller, not rung")
            else:
                targets.append(target)
    return targets


def _applicable_scheme(scheme: dict | None, call: Call, reasons: list[str]) -> dict | None:
    """The scheme itself while its active schedule is open, else its backup (R9), recursively."""
    while scheme is not None and scheme["active"] is not None:
        open_, why = is_open(scheme["active"], call.at)
        reasons.append(why)
        if open_:
            break
        backup = scheme["backup"]
        reasons.append(f"scheme {scheme['name']!r} is not active now: "
                       + (f"its backup {backup['name']!r} applies" if backup else "it has no backup"))
        scheme = backup
    return scheme


def build_plan(document: dict, call: Call) -> Plan:
    """The plan for a call to a company number, from the number's compiled document."""
    company = document["company"]
    ctx = _context(company)
    reasons: list[str] = [f"number {document['number']} of company {company['name']!r}"]
    scheme = document["working"]
    if document["mode"] == "by_schedule":
        open_, why = is_open(document["schedule"], call.at)
        reasons.append(why)
        if not open_:
            scheme = document["off_hours"]
            reasons.append("off hours: the off-hours scheme applies")
    scheme = _applicable_scheme(scheme, call, reasons)
    if scheme is None:
        reasons.append("no scheme applies: the call is missed")
        return Plan((), tuple(reasons))
    reasons.append(f"scheme {scheme['name']!r}")
    steps: list[Step] = []
    for index, step in enumerate(scheme["steps"], start=1):
        targets = _resolve_step(step, index, call, ctx, reasons)
        if targets:
            steps.append(Step(step["mode"], step["timeout"], tuple(targets)))
        else:
            reasons.append(f"step {index}: nobody to ring, skipped")
    if not steps:
        reasons.append("no step has anybody to ring: the call is missed")
    return Plan(tuple(steps), tuple(reasons))


# R15: by default a direct call nobody answers ends as "busy" after two minutes.
DIRECT_CALL_RING_SECONDS = 120


def build_direct_plan(company_document: dict, extension: str, call: Call) -> Plan | None:
    """The plan for a company phone dialling a colleague's extension; None if no such extension."""
    employee = company_document["extensions"].get(extension)
    if employee is None:
        return None
    company = company_document["company"]
    reasons = [f"extension {extension} of company {company['name']!r}"]
    ring = employee.get("no_answer", {}).get("after", DIRECT_CALL_RING_SECONDS)
    step = {"mode": "parallel", "timeout": ring, "destinations": [{"kind": "employee", "employee": employee}]}
    targets = _resolve_step(step, 1, call, _context(company), reasons)
    if not targets:
        return Plan((), tuple(reasons))
    return Plan((Step("parallel", ring, tuple(targets)),), tuple(reasons))
