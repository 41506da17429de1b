"""A call queue's waiting line and its agents' availability, in Redis, so that
every media app on every node serves one line: first come, first served,
whichever media app answered the caller (R18).

- The line is a sorted set of Call-IDs scored by the moment each caller joined.
- Each caller's media app keeps an "alive" key of theirs fresh while it holds
  them; a caller whose key lapsed (their media app died with the call) is
  dropped by the next sweep of the line (one caller sweeps it every
  SWEEP_EVERY_S), so nobody waits behind a ghost for long.
- An agent is claimed for one caller while their phone rings and while they
  talk (a key that expires, refreshed meanwhile), then kept for the queue's
  wrap-up time: a claimed agent is rung by nobody else, on any node.
- A caller who asked to be called back keeps their place: their callback
  request (a key of its own, listed in CALLBACKS) stands for them in the line
  instead of the alive key. Whichever media app holds its lease serves it;
  a lease that lapses (that media app died) is taken by another.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress
from datetime import UTC, datetime
from typing import cast

import redis
import redis.asyncio as aioredis

# A caller's alive key lasts this long; the media app refreshes it every KEEPALIVE_S.
ALIVE_S = 10
KEEPALIVE_S = 3
# How often one caller of a line drops the callers whose alive key lapsed.
SWEEP_EVERY_S = 3
# An agent's claim lasts this long past its last refresh (a media app that died mid-call frees it).
CLAIM_S = 30
# Unanswered calls in a row are counted for a day at most.
MISSES_KEPT_S = 86400
# A caller's place is their score in the line: when they joined, less this per
# point of priority (about 115 days: no one waits that long).
PRIORITY_AHEAD_S = 10_000_000
# Every callback request waiting to be served, by every media app: a queue's
# as "<queue id>:<Call-ID>", a department's as "department-<id>:<Call-ID>"
# (media/callbacks.py serves both).
CALLBACKS = "vpbx:queue-callbacks"
# A callback request's lease lasts this long past its last refresh.
LEASE_S = 10

_JOIN = """
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return -1 end
redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
redis.call('HSETNX', KEYS[3], ARGV[1], ARGV[5])
redis.call('SET', KEYS[2], '1', 'EX', ARGV[4])
return redis.call('ZRANK', KEYS[1], ARGV[1])
"""


_AVERAGE = """
local old = redis.call('GET', KEYS[1])
local new = tonumber(ARGV[1])
if old then new = (tonumber(old) * 3 + new) / 4 end
redis.call('SET', KEYS[1], tostring(new))
return tostring(new)
"""


def line_key(queue_id: int) -> str:
    return f"vpbx:queue:{queue_id}:line"


def joined_key(queue_id: int) -> str:
    """When each caller in the line joined it (their score in the line may say otherwise, later)."""
    return f"vpbx:queue:{queue_id}:joined"


def sweep_key(queue_id: int) -> str:
    return f"vpbx:queue:{queue_id}:sweep"


def alive_key(queue_id: int, call_id: str) -> str:
    return f"vpbx:queue:{queue_id}:alive:{call_id}"


def callback_key(queue_id: int, call_id: str) -> str:
    return f"vpbx:queue:{queue_id}:callback:{call_id}"


def lease_key(queue_id: int, call_id: str) -> str:
    return f"vpbx:queue:{queue_id}:callback-lease:{call_id}"


def claim_key(employee_id: int) -> str:
    return f"vpbx:queue-agent:{employee_id}"


def misses_key(queue_id: int, employee_id: int) -> str:
    return f"vpbx:queue:{queue_id}:misses:{employee_id}"


def turn_key(queue_id: int) -> str:
    return f"vpbx:queue:{queue_id}:turn"


def idle_key(queue_id: int) -> str:
    return f"vpbx:queue:{queue_id}:idle"


def hold_key(queue_id: int) -> str:
    """The queue's running average wait of answered callers (an estimate for those waiting)."""
    return f"vpbx:queue:{queue_id}:hold"


def calls_today_key(queue_id: int, now: float) -> str:
    """Calls each agent took today (UTC: one day for every node, whatever its zone)."""
    return f"vpbx:queue:{queue_id}:calls:{datetime.fromtimestamp(now, UTC).date().isoformat()}"


def lowest_penalty(agents: list[int], penalty: Mapping[int, int]) -> list[int]:
    """Those of ``agents`` with the lowest penalty among them: an agent with a
    higher one is rung only while nobody with a lower one can be."""
    if not agents:
        return []
    lowest = min(penalty.get(a, 0) for a in agents)
    return [a for a in agents if penalty.get(a, 0) == lowest]


class WaitingLine:
    def __init__(self, client: aioredis.Redis, queue_id: int):
        self.redis = client
        self.queue_id = queue_id
        self._join = client.register_script(_JOIN)
        self._average = client.register_script(_AVERAGE)

    async def join(self, call_id: str, max_callers: int, priority: int = 0) -> int | None:
        """Join the line: the caller's place (0: first), None when the line is full.
        A caller with a higher ``priority`` waits ahead of every caller with a lower one."""
        now = time.time()
        rank = await self._join(
            keys=[line_key(self.queue_id), alive_key(self.queue_id, call_id), joined_key(self.queue_id)],
            args=[call_id, now - priority * PRIORITY_AHEAD_S, max_callers, ALIVE_S, now],
        )
        return None if rank is None or int(rank) < 0 else int(rank)

    async def keep_alive(self, call_id: str) -> None:
        await self.redis.set(alive_key(self.queue_id, call_id), "1", ex=ALIVE_S)

    async def place(self, call_id: str) -> int | None:
        """The caller's place now (0: first); None when the caller is not in the line.

        Every caller asks every second, so this costs one round trip: their rank,
        and a lock that lets one caller of the whole line, every SWEEP_EVERY_S,
        drop the callers whose media app stopped keeping them (sweep). Checking
        everyone ahead at every look would cost the line O(N^2) per second."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrank(line_key(self.queue_id), call_id)
            pipe.set(sweep_key(self.queue_id), "1", nx=True, ex=SWEEP_EVERY_S)
            rank, sweeping = await pipe.execute()
        if sweeping and await self.sweep():
            rank = await self.redis.zrank(line_key(self.queue_id), call_id)
        return None if rank is None else int(rank)

    async def sweep(self) -> int:
        """Drop the callers whose alive key lapsed (and who asked for no
        callback): how many were dropped."""
        members = await self.redis.zrange(line_key(self.queue_id), 0, -1)
        callers = [c.decode() if isinstance(c, bytes) else c for c in members]
        if not callers:
            return 0
        async with self.redis.pipeline(transaction=False) as pipe:
            for caller in callers:
                pipe.exists(alive_key(self.queue_id, caller), callback_key(self.queue_id, caller))
            alive = await pipe.execute()
        gone = [caller for caller, there in zip(callers, alive, strict=True) if not there]
        if gone:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zrem(line_key(self.queue_id), *gone)
                pipe.hdel(joined_key(self.queue_id), *gone)
                await pipe.execute()
        return len(gone)

    async def waiting(self) -> int:
        return int(await self.redis.zcard(line_key(self.queue_id)))

    async def leave(self, call_id: str) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrem(line_key(self.queue_id), call_id)
            pipe.hdel(joined_key(self.queue_id), call_id)
            pipe.delete(alive_key(self.queue_id, call_id))
            await pipe.execute()

    # ---- callbacks --------------------------------------------------------------

    async def ask_callback(self, call_id: str, request: dict, keep_s: int) -> None:
        """The caller hangs up and is called back in their turn: the request
        holds their place for ``keep_s`` at most."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(callback_key(self.queue_id, call_id), json.dumps(request), ex=keep_s)
            pipe.zadd(CALLBACKS, {f"{self.queue_id}:{call_id}": time.time()})
            await pipe.execute()

    async def hung_up(self, call_id: str) -> None:
        """The caller who asked for a callback hung up (their alive key would
        otherwise lapse within ALIVE_S): they may be called back now."""
        await self.redis.delete(alive_key(self.queue_id, call_id))

    async def on_the_line(self, call_id: str) -> bool:
        return bool(await self.redis.exists(alive_key(self.queue_id, call_id)))

    async def callback_request(self, call_id: str) -> dict | None:
        """The request, None once it expired (or was served)."""
        text = await self.redis.get(callback_key(self.queue_id, call_id))
        return json.loads(text) if text else None

    async def lease(self, call_id: str, owner: str) -> bool:
        """Serve the callback request, unless another media app does."""
        return bool(await self.redis.set(lease_key(self.queue_id, call_id), owner, nx=True, ex=LEASE_S))

    async def keep_lease(self, call_id: str, owner: str) -> None:
        await self.redis.set(lease_key(self.queue_id, call_id), owner, ex=LEASE_S)

    async def callback_done(self, call_id: str) -> None:
        """The request is served (or expired): it leaves the line and the list."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(line_key(self.queue_id), call_id)
            pipe.hdel(joined_key(self.queue_id), call_id)
            pipe.delete(callback_key(self.queue_id, call_id), lease_key(self.queue_id, call_id))
            pipe.zrem(CALLBACKS, f"{self.queue_id}:{call_id}")
            await pipe.execute()

    # ---- agents ---------------------------------------------------------------

    async def free(self, agents: list[int]) -> list[int]:
        """Those of ``agents`` no caller has claimed and not in wrap-up, in the given order."""
        if not agents:
            return []
        claimed = await self.redis.mget([claim_key(a) for a in agents])
        return [agent for agent, claim in zip(agents, claimed, strict=True) if claim is None]

    async def claim_for(self, call_id: str, agents: list[int], *, every: bool) -> list[int]:
        """Claim every agent of ``agents`` free still (ring all), or the first one
        (the caller behind, on another node, may have just taken the one before)."""
        claimed = []
        for agent in agents:
            if await self.claim(agent, call_id):
                claimed.append(agent)
                if not every:
                    break
        return claimed

    async def claim(self, agent: int, call_id: str) -> bool:
        return bool(await self.redis.set(claim_key(agent), f"{self.queue_id}:{call_id}", nx=True, ex=CLAIM_S))

    async def keep_claims(self, agents: list[int], call_id: str) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for agent in agents:
                pipe.set(claim_key(agent), f"{self.queue_id}:{call_id}", ex=CLAIM_S)
            await pipe.execute()

    async def release(self, agent: int, wrap_up_s: int = 0) -> None:
        """Free the agent, after ``wrap_up_s`` seconds of rest when they took a call."""
        if wrap_up_s > 0:
            await self.redis.set(claim_key(agent), "wrap-up", ex=wrap_up_s)
        else:
            await self.redis.delete(claim_key(agent))

    async def took_call(self, agent: int) -> None:
        """Note when the agent last finished a queue call (longest idle) and count it (fewest calls)."""
        now = time.time()
        today = calls_today_key(self.queue_id, now)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(idle_key(self.queue_id), str(agent), repr(now))
            pipe.hincrby(today, str(agent), 1)
            pipe.expire(today, 2 * 86400)
            await pipe.execute()

    async def answered_after(self, wait_s: float) -> None:
        """An answered caller waited ``wait_s``: the average moves a quarter of
        the way toward it (Asterisk's holdtime), atomically across nodes."""
        await self._average(keys=[hold_key(self.queue_id)], args=[wait_s])

    async def estimated_wait(self) -> float | None:
        """The running average wait of answered callers; None before the first."""
        value = await self.redis.get(hold_key(self.queue_id))
        return float(value) if value is not None else None

    async def in_order(self, strategy: str, agents: list[int]) -> list[int]:
        """The agents (in the queue's own order) in the order the strategy rings them next."""
        if strategy == "random":
            return random.sample(agents, len(agents))
        if strategy == "fewest_calls" and agents:
            # redis-py types hash commands as sync or async alike: this client's are async.
            taken = await cast(
                Awaitable[list], self.redis.hmget(calls_today_key(self.queue_id, time.time()), [str(a) for a in agents])
            )
            calls = {a: int(t or 0) for a, t in zip(agents, taken, strict=True)}
            return sorted(agents, key=lambda a: calls[a])  # stable: the queue's order breaks a tie
        if strategy == "round_robin" and agents:
            turn = int(await self.redis.incr(turn_key(self.queue_id))) - 1
            start = turn % len(agents)
            return agents[start:] + agents[:start]
        if strategy == "longest_idle" and agents:
            ended = await cast(Awaitable[list], self.redis.hmget(idle_key(self.queue_id), [str(a) for a in agents]))
            last = {a: float(e) if e is not None else 0.0 for a, e in zip(agents, ended, strict=True)}
            return sorted(agents, key=lambda a: last[a])
        return list(agents)

    async def missed(self, agent: int) -> int:
        """Count a queue call the agent left unanswered: how many in a row now."""
        key = misses_key(self.queue_id, agent)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, MISSES_KEPT_S)
            count, _ = await pipe.execute()
        return int(count)

    async def answered(self, agent: int) -> None:
        await self.redis.delete(misses_key(self.queue_id, agent))


async def keep_fresh(refresh: Callable[[], Awaitable[object]]) -> None:
    """Until cancelled: ``refresh`` every KEEPALIVE_S (a caller's alive key, an
    agent's claim, a callback's lease), so none lapses while it is in use."""
    while True:
        await asyncio.sleep(KEEPALIVE_S)
        with suppress(Exception):  # a missed refresh costs nothing while the key lives
            await refresh()


def live_state(client: redis.Redis, queue_id: int, agents: list[int], now: float) -> dict:
    """What a queue looks like now, for its statistics (the API's side, which is
    synchronous): callers waiting, the longest wait, and of ``agents`` (those
    logged in and not paused) who is on a queue call or ringing, resting, free."""
    with client.pipeline(transaction=False) as pipe:
        pipe.zcard(line_key(queue_id))
        pipe.hvals(joined_key(queue_id))
        pipe.mget([claim_key(a) for a in agents] or ["-"])
        waiting, joined, claims = pipe.execute()
    claims = claims if agents else []
    resting = sum(1 for c in claims if c == b"wrap-up")
    busy = sum(1 for c in claims if c is not None) - resting
    return {
        "callers_waiting": int(waiting),
        "longest_wait_seconds": round(max(0.0, now - min(float(t) for t in joined)), 1) if joined else 0.0,
        "agents_busy": busy,
        "agents_in_wrap_up": resting,
        "agents_free": len(agents) - busy - resting,
    }
