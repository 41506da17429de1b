"""Shared runtime state of departments that hunt by round robin or longest idle.

Kamailio nodes share it through one Redis hash per department (see
``state_key``); this module only gives it a shape and reads it, so the routing
stays pure. Fields of the hash:

    turn            round robin: calls the department has been offered, this one included
    answered:<id>   epoch seconds the member last answered a department call
    ended:<id>      epoch seconds that call ended
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from .targets import Data

HUNTING = ("in_order", "round_robin", "random", "longest_idle")
# A member who answered longer ago than this without an "ended" is taken as idle
# again: a lost BYE must not keep them last in line forever.
STALE_CALL_SECONDS = 4 * 3600


def state_key(department_id: int) -> str:
    return f"vpbx:department:{department_id}"


@dataclass(frozen=True)
class DepartmentState:
    turn: int = 0
    answered: Mapping[int, float] = field(default_factory=dict)
    ended: Mapping[int, float] = field(default_factory=dict)

    @classmethod
    def from_hash(cls, fields: Mapping[bytes | str, bytes | str]) -> DepartmentState:
        turn, answered, ended = 0, {}, {}
        for raw_name, raw_value in fields.items():
            name = raw_name.decode() if isinstance(raw_name, bytes) else raw_name
            value = float(raw_value)
            kind, _, member = name.partition(":")
            if kind == "turn":
                turn = int(value)
            elif kind == "answered":
                answered[int(member)] = value
            elif kind == "ended":
                ended[int(member)] = value
        return cls(turn, answered, ended)

    def idle_since(self, employee_id: int, now: float) -> float | None:
        """When the member became free; None while they are on a department call."""
        answered = self.answered.get(employee_id, 0.0)
        ended = self.ended.get(employee_id, 0.0)
        if answered > ended and now - answered < STALE_CALL_SECONDS:
            return None
        return max(answered, ended)


def _walk(node: object) -> Iterator[Data]:
    if isinstance(node, dict):
        if "distribution" in node and "members" in node:
            yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def stateful_departments(document: Data) -> dict[int, str]:
    """Department id -> distribution, for every round robin or longest idle
    department a compiled document can route to."""
    return {d["id"]: d["distribution"] for d in _walk(document) if d["distribution"] in ("round_robin", "longest_idle")}


# Distributions whose order differs from one call to the next: a turn taken,
# a shuffle seeded by the Call-ID, the members' idle times.
ORDER_PER_CALL = ("round_robin", "random", "longest_idle")


def plans_vary_per_call(document: Data) -> bool:
    """Whether two calls routed by this document at the same minute, from the
    same source and caller, can get different plans. When not, a plan made
    once serves every such call (the Kamailio adapter keeps them a minute)."""
    return any(d["distribution"] in ORDER_PER_CALL for d in _walk(document))
