"""The Plan: what Kamailio should ring for a call, step by step, and why."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from . import destinations
from .call import Call
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


def build_plan(document: dict, call: Call) -> Plan:
    company = document["company"]
    ctx = Context(company["id"], company["domain"], company["timezone"])
    steps: list[Step] = []
    reasons: list[str] = [f"number {document['number']} of company {company['name']!r}"]
    for index, step in enumerate(document["steps"], start=1):
        targets: list[Target] = []
        for data in step["destinations"]:
            resolution = destinations.resolve(data, call, ctx)
            targets.extend(resolution.targets)
            reasons.extend(f"step {index}: {r}" for r in resolution.reasons)
        if targets:
            steps.append(Step(step["mode"], step["timeout"], tuple(targets)))
        else:
            reasons.append(f"step {index}: nobody to ring, skipped")
    if not steps:
        reasons.append("no step has anybody to ring: the call is missed")
    return Plan(tuple(steps), tuple(reasons))
