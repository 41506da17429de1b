"""Value types shared by the plan and the destination modules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

from . import leg_names

# A JSON object of a compiled routing document (or of a lookup's answer), as parsed.
Data: TypeAlias = dict[str, Any]


@dataclass(frozen=True)
class Target:
    uri: str
    # True: an AoR of a registered phone, to be looked up in usrloc.
    # False: relay to the URI as it is (external SIP URIs), or through a trunk.
    via_location: bool
    label: str
    # Who is rung, for history and for the departments that track their members' calls.
    employee_id: int | None = None
    department_id: int | None = None
    # The department hunts by longest idle: when this target answers and hangs up matters.
    tracks_idle: bool = False
    # A PSTN number: sent to the outbound gateways, one after another until one takes it.
    via_trunk: bool = False
    # Set for what vpbx handles itself rather than rings: "voicemail:3", "ivr:2",
    # "queue:1" (the media app answers; Kamailio skips these until it runs),
    # "webhook:5", "responsible_manager" (looked up when the call arrives, then
    # replaced by what the answer rings).
    node: str | None = None


@dataclass(frozen=True)
class Resolution:
    """What one destination contributes to a step: whom to ring, and why.

    ``hunt_ring_time`` set: the targets ring one after another, each for that
    many seconds (a department hunting through its members), instead of
    together for the step's timeout.
    """

    targets: tuple[Target, ...] = ()
    reasons: tuple[str, ...] = ()
    hunt_ring_time: int | None = None
    # Targets that join the ringing this many seconds after the step starts (R5:
    # an employee's mobile after their desk phone).
    delayed: tuple[tuple[int, Target], ...] = ()


# The media app's placeholder host in node targets' URIs (RFC 6761: never resolves).
NODE_HOST = "media.invalid"
# The company whose plan sent a call to the media app: Kamailio removes it from
# whatever callers send and adds it to the branches it relays to the media app,
# which looks up every object of the call within that company only.
COMPANY_HEADER = "X-Vpbx-Company"
# The caller's priority in call queues (0-9), likewise only Kamailio's to write.
PRIORITY_HEADER = "X-Vpbx-Priority"
# Which employee answered a leg the media app opened: Kamailio writes it into
# the 200 OK (removing any a phone sent), from the branch that answered.
ANSWERED_BY_HEADER = "X-Vpbx-Answered-By"


def node_resolution(kind: str, node_id: int | None, label: str, handled_by: str, *, runs: bool = False) -> Resolution:
    """A destination vpbx handles itself: its place in the plan, and how it is handled
    (``runs`` False: by a part of vpbx this version does not run yet)."""
    node = leg_names.node(kind, node_id)
    target = Target(uri=f"sip:{leg_names.node_user(node)}@{NODE_HOST}", via_location=False, label=label, node=node)
    return Resolution(
        (target,), (f"{label}: {handled_by}" + ("" if runs else ", which this version does not run yet"),)
    )


@dataclass(frozen=True)
class Expansion:
    """What a looked-up destination (webhook, responsible manager) rings in its place.

    ``steps`` are scheme steps in compiled form (``"forward": True`` on one
    that rings because the one before was not answered), ``scheme`` a whole compiled
    scheme (its schedule and backup apply); ``reject`` a SIP code that ends
    the call here. All empty: nothing, the plan moves on.
    """

    steps: tuple[Data, ...] = ()
    scheme: Data | None = None
    reject: int | None = None
    reasons: tuple[str, ...] = ()
    queue_priority: int = 0  # the caller's in call queues, at least (a webhook's answer)
