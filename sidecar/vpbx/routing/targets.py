"""Value types shared by the plan and the destination modules."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    uri: str
    # True: an AoR of a registered phone, to be looked up in usrloc.
    # False: relay to the URI as it is (trunks, external SIP URIs).
    via_location: bool
    label: str


@dataclass(frozen=True)
class Resolution:
    """What one destination contributes to a step: whom to ring, and why."""

    targets: tuple[Target, ...] = ()
    reasons: tuple[str, ...] = ()
