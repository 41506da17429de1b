"""The keepers' heartbeats: each says in Redis, every few seconds, that it is
alive on its node, so /status can tell a keeper that died from one with
nothing to do (both are silent otherwise).

A heartbeat is a key per component and node holding the wall-clock time of
the beat, expiring after ``ALIVE_TTL_S``: a keeper gone for longer has none.
A node is named by the address its Kamailio serves SIP on (hosts of a test
cluster share one hostname).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

ALIVE_TTL_S = 10
BEAT_EVERY_S = 2.0
HISTORY_KEEPER = "history-keeper"
CACHE_KEEPER = "cache-keeper"


def alive_key(component: str, node: str) -> str:
    return f"vpbx:alive:{component}:{node}"


class Heartbeat:
    """Beats at most every ``BEAT_EVERY_S``, however often ``beat`` is called
    (the history keeper calls it once per batch, hundreds a second under load)."""

    def __init__(self, client: Any, component: str, node: str, clock: Callable[[], float] = time.time):
        self.client = client
        self.key = alive_key(component, node)
        self.clock = clock
        self.next_at = 0.0

    def beat(self) -> None:
        """One SET when due. Raises redis.RedisError like the keeper's own commands."""
        now = self.clock()
        if now < self.next_at:
            return
        self.client.set(self.key, f"{now:.3f}", ex=ALIVE_TTL_S)
        self.next_at = now + BEAT_EVERY_S
