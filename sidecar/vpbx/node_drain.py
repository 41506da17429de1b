"""Draining a Kamailio node before it is stopped, so that stopping it drops
no call (the rolling upgrade, ansible/upgrade.yml).

A draining node refuses what would start something new on it: calls and
registrations from carriers and phones get 503 with Retry-After, its OPTIONS
keepalive answers 503 (a carrier that pings its trunk addresses stops
choosing it). It keeps carrying what already runs through it: in-dialog
requests, calls another node relays to the phones registered through this
one, and the media app's own calls. The flag is Kamailio's shared variable
``$shv(draining)`` (kamailio.cfg); a restart clears it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .kamailio_rpc import KamailioRpc

DRAINING = "draining"  # the shared variable kamailio.cfg reads


@dataclass(frozen=True)
class Drained:
    calls_left: int  # still up when the wait ended: 0 unless it timed out
    waited_s: float


def start(rpc: KamailioRpc) -> None:
    rpc.call("pv.shvSet", DRAINING, "int", 1)


def end(rpc: KamailioRpc) -> None:
    rpc.call("pv.shvSet", DRAINING, "int", 0)


def draining(rpc: KamailioRpc) -> bool:
    reply = rpc.call("pv.shvGet", DRAINING)
    if isinstance(reply, list):  # jsonrpcs gives a lone value as itself, or in a list
        reply = reply[0]
    return bool(reply["value"])


def calls(rpc: KamailioRpc) -> int:
    """Dialogs the node is in, ringing or answered."""
    return int(rpc.call("dlg.stats_active")["all"])


def left(rpc: KamailioRpc, limit: int = 20) -> list[str]:
    """The node's dialogs, one line each (Call-ID, state, when it began): what a drain waits for."""
    dialogs = rpc.call("dlg.list") or []
    if isinstance(dialogs, dict):  # jsonrpcs gives a lone value as itself
        dialogs = [dialogs]
    lines = []
    for dialog in dialogs[:limit]:
        lines.append(f"{dialog.get('call-id')} state {dialog.get('state')} since {dialog.get('init_ts')}")
    return lines


def wait(
    rpc: KamailioRpc,
    timeout_s: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    report: Callable[[int], None] = lambda calls_left: None,
    interval_s: float = 0.5,
) -> Drained:
    """Wait until the node's calls have ended, at most ``timeout_s``;
    ``report`` hears the count each time it changes."""
    started = clock()
    last = None
    while True:
        left = calls(rpc)
        if left != last:
            report(left)
            last = left
        waited = clock() - started
        if left == 0 or waited >= timeout_s:
            return Drained(left, waited)
        sleep(min(interval_s, timeout_s - waited))
