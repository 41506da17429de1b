"""A circuit breaker shared by every Kamailio node through Redis.

Closed: requests go out; each failure in a row counts. At ``threshold``
failures in a row it opens for ``open_seconds``: calls take the fallback at
once, without waiting on a server that is down. Then it is half-open: one call
(whoever takes the probe slot) asks again; success closes it, failure opens it
for another period. Losing Redis leaves the breaker closed: the budget still
bounds every request.

Hash ``vpbx:breaker:<name>``: ``failures`` (in a row), ``open_until`` (epoch s);
key ``vpbx:breaker:<name>:probe`` is the half-open probe slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis


def breaker_key(name: str) -> str:
    return f"vpbx:breaker:{name}"


@dataclass(frozen=True)
class BreakerState:
    failures: int = 0
    open_until: float = 0.0

    @classmethod
    def from_reply(cls, reply) -> BreakerState:
        failures, open_until = reply
        return cls(int(failures or 0), float(open_until or 0))


class Breaker:
    def __init__(self, client: redis.Redis, name: str, threshold: int, open_seconds: int):
        self.redis = client
        self.key = breaker_key(name)
        self.threshold = threshold  # 0: never opens
        self.open_seconds = open_seconds

    def queue_read(self, pipe) -> None:
        """Queue the state read on a pipeline: it shares the lookup's first round trip."""
        pipe.hmget(self.key, "failures", "open_until")

    def admits(self, state: BreakerState, now: float, probe_ms: int) -> bool:
        """Whether a request may go out now; in half-open state, only the one probe."""
        if self.threshold == 0 or state.open_until == 0:
            return True
        if now < state.open_until:
            return False
        return bool(self.redis.set(self.key + ":probe", "1", nx=True, px=max(probe_ms, 100)))

    def succeeded(self, state: BreakerState) -> None:
        if state.failures or state.open_until:
            self.redis.delete(self.key, self.key + ":probe")

    def failed(self, now: float) -> None:
        """Count a failure; open the breaker at the threshold (or again after a failed probe)."""
        if self.threshold == 0:
            return
        failures: Any = self.redis.hincrby(self.key, "failures", 1)  # redis-py: "Awaitable | Any"
        if failures >= self.threshold:
            with self.redis.pipeline(transaction=False) as opening:
                opening.hset(self.key, "open_until", repr(now + self.open_seconds))
                opening.delete(self.key + ":probe")
                opening.execute()
