"""The names Kamailio and the media app give the legs they hand each other, as
SIP user parts. Built and parsed here only, so both sides always agree.

- A node the media app handles, as routing names it (``Target.node``,
  "<kind>:<id>"), travels as "<kind>-<id>" ("voicemail-3", "ivr-2",
  "announce-7"; a kind with an underscore travels with a hyphen).
- The leg the media app opens when a caller presses an IVR key that rings
  people: "ivr-<menu>-<key>", the key a digit, "star" or "hash". Its
  "<menu>-<key>" part also keys the company document's ``ivr_keys``.
- The leg the media app opens to ring one step of a scheme it answered for
  (an announcement first, R14): "scheme-<id>-<step>", the step 1-based.
- The leg the media app opens to forward a direct call nobody answered, once
  the caller heard the notice (the employee's no-answer rule, R15):
  "direct-<employee id>-forward".
- A trunk that registers to its carrier does so as "vpbx-trunk-<id>" (the
  kamailio_uacreg view): the carrier's calls arrive addressed to it.
- The leg a call queue opens to ring its agents (media/nodes/queue.py):
  "agents-<queue id>-<ring seconds>-<employee id>[.<employee id>...]".
- The two legs of a click-to-call (routing/click_to_call.py): the employee's
  phones, "c2c-<employee id>-<client's E.164>", then the client,
  "c2c-<employee id>-<client's E.164>-client".
- The first leg of a department's callback (its rule "call back later"): the
  members on duty, all at once, "cbd-<department id>-<client's E.164>"; the
  client's leg is then the click-to-call's of the member who answered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

REGISTERED_TRUNK_PREFIX = "vpbx-trunk-"

# Keys of an IVR menu as a SIP user part may carry them (RFC 3261 allows "*"
# and "#" only escaped; phones and logs read words better).
_KEY_WORDS = {"*": "star", "#": "hash"}
_WORD_KEYS = {word: key for key, word in _KEY_WORDS.items()}

_NODE_USER = re.compile(r"^([a-z][a-z-]*?)-([0-9]+)$")
_IVR_KEY = re.compile(r"^([0-9]+)-([0-9]|star|hash|timeout)$")
_SCHEME_STEP_USER = re.compile(r"^scheme-([0-9]+)-([0-9]+)$")
_DIRECT_FORWARD_USER = re.compile(r"^direct-([0-9]+)-forward$")
_AGENTS_USER = re.compile(r"^agents-([0-9]+)-([0-9]+)-([0-9]+(?:\.[0-9]+)*)$")
_CLICK_TO_CALL_USER = re.compile(r"^c2c-([0-9]+)-(\+[1-9][0-9]{6,14})(-client)?$")
_DEPARTMENT_CALLBACK_USER = re.compile(r"^cbd-([0-9]+)-(\+[1-9][0-9]{6,14})$")


@dataclass(frozen=True)
class NodeName:
    kind: str  # as routing names it: "voicemail", "ivr", "announce"...
    id: int


def node(kind: str, node_id: int | None) -> str:
    """Routing's name for a node target: "voicemail:3", or the kind alone."""
    return kind if node_id is None else f"{kind}:{node_id}"


def node_kind(node_name: str | None) -> str | None:
    """The kind of a node as routing names it: "voicemail:3" -> "voicemail"."""
    return node_name.partition(":")[0] if node_name else None


def node_user(node_name: str) -> str:
    """As a SIP user part: "voicemail:3" -> "voicemail-3"."""
    return node_name.replace(":", "-").replace("_", "-")


def parse_node_user(user: str) -> NodeName | None:
    """The node a SIP user part names: "voicemail-3" -> NodeName("voicemail", 3); None for anything else."""
    match = _NODE_USER.match(user)
    return NodeName(match.group(1).replace("-", "_"), int(match.group(2))) if match else None


def ivr_key(menu_id: int, key: str) -> str:
    """The ``ivr_keys`` key of a menu's key: (3, "*") -> "3-star"."""
    return f"{menu_id}-{_KEY_WORDS.get(key, key)}"


def ivr_key_user(menu_id: int, key: str) -> str:
    """(3, "*") -> "ivr-3-star"."""
    return f"ivr-{ivr_key(menu_id, key)}"


def parse_ivr_key(name: str) -> tuple[int, str] | None:
    """The menu and key an ``ivr_keys`` key names: "3-star" -> (3, "*"); None for anything else."""
    match = _IVR_KEY.match(name)
    return (int(match.group(1)), _WORD_KEYS.get(match.group(2), match.group(2))) if match else None


def parse_ivr_key_user(user: str) -> tuple[int, str] | None:
    """The menu and key a leg names: "ivr-3-star" -> (3, "*"); None for anything else."""
    return parse_ivr_key(user.removeprefix("ivr-")) if user.startswith("ivr-") else None


def scheme_step_user(scheme_id: int, step: int) -> str:
    """(5, 2) -> "scheme-5-2"."""
    return f"scheme-{scheme_id}-{step}"


def parse_scheme_step_user(user: str) -> tuple[int, int] | None:
    """The scheme and step a leg names: "scheme-5-2" -> (5, 2); None for anything else."""
    match = _SCHEME_STEP_USER.match(user)
    return (int(match.group(1)), int(match.group(2))) if match else None


def direct_forward_user(employee_id: int) -> str:
    """12 -> "direct-12-forward"."""
    return f"direct-{employee_id}-forward"


def parse_direct_forward_user(user: str) -> int | None:
    """The employee whose no-answer forward a leg rings: "direct-12-forward" -> 12; None for anything else."""
    match = _DIRECT_FORWARD_USER.match(user)
    return int(match.group(1)) if match else None


def click_to_call_user(employee_id: int, client: str, *, client_leg: bool) -> str:
    """(12, "+79161234567") -> "c2c-12-+79161234567", or with ``client_leg`` "c2c-12-+79161234567-client"."""
    return f"c2c-{employee_id}-{client}" + ("-client" if client_leg else "")


@dataclass(frozen=True)
class ClickToCallLeg:
    employee_id: int
    client: str  # E.164
    client_leg: bool  # False: the employee's phones


def parse_click_to_call_user(user: str) -> ClickToCallLeg | None:
    """The click-to-call leg a SIP user part names; None for anything else."""
    match = _CLICK_TO_CALL_USER.match(user)
    return ClickToCallLeg(int(match.group(1)), match.group(2), match.group(3) is not None) if match else None


def department_callback_user(department_id: int, client: str) -> str:
    """(3, "+79161234567") -> "cbd-3-+79161234567"."""
    return f"cbd-{department_id}-{client}"


def parse_department_callback_user(user: str) -> tuple[int, str] | None:
    """(department id, client's E.164) of a department callback's first leg; None for anything else."""
    match = _DEPARTMENT_CALLBACK_USER.match(user)
    return (int(match.group(1)), match.group(2)) if match else None


@dataclass(frozen=True)
class AgentsLeg:
    queue_id: int
    ring_seconds: int
    employee_ids: tuple[int, ...]


def agents_user(queue_id: int, ring_seconds: int, employee_ids: list[int]) -> str:
    """(4, 15, [11, 12]) -> "agents-4-15-11.12"."""
    return f"agents-{queue_id}-{ring_seconds}-" + ".".join(str(e) for e in employee_ids)


def parse_agents_user(user: str) -> AgentsLeg | None:
    match = _AGENTS_USER.match(user)
    if match is None:
        return None
    return AgentsLeg(int(match.group(1)), int(match.group(2)), tuple(int(e) for e in match.group(3).split(".")))
