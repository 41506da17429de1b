"""Sources Kamailio refuses: flooders (pike) and password guessers.

Kamailio keeps them in its ``ipban`` htable (kamailio.cfg), each for 15
minutes; this module reads and lifts them over JSON-RPC for the CLI and
/metrics. Lifting a ban also forgets the source's failed authentications, so
it does not come back at the next wrong password.
"""

from __future__ import annotations

from dataclasses import dataclass

from .kamailio_rpc import KamailioRpc, RpcError

# Values of the ipban htable: why a source is banned (set by vpbx_kemi.py).
BANNED_FOR_FLOOD = 1
BANNED_FOR_AUTH = 2
REASONS = {BANNED_FOR_FLOOD: "flood", BANNED_FOR_AUTH: "failed authentication"}
# The counter of failed authentications (kamailio.cfg: counters' script_counter).
COUNTERS_GROUP, AUTH_FAILURES_COUNTER = "script", "auth_failures"


@dataclass(frozen=True)
class Ban:
    source: str
    reason: str


def bans(rpc: KamailioRpc) -> list[Ban]:
    found = []
    for slot in rpc.call("htable.dump", "ipban") or ():
        for item in slot.get("slot", ()):
            found.append(Ban(item["name"], REASONS.get(item.get("value"), str(item.get("value")))))
    return sorted(found, key=lambda ban: ban.source)


def lift(rpc: KamailioRpc, source: str) -> bool:
    """Unban ``source``; False if it was not banned."""
    banned = any(ban.source == source for ban in bans(rpc))
    for table in ("ipban", "authfail"):
        try:
            rpc.call("htable.delete", table, source)
        except RpcError:
            pass  # not in that table
    return banned


def auth_failures(rpc: KamailioRpc) -> int:
    """Failed SIP authentications since Kamailio started."""
    return int(rpc.call("cnt.get", COUNTERS_GROUP, AUTH_FAILURES_COUNTER) or 0)
