"""Probe each component of this node: up or down, how long it took to answer,
and what an operator watches it for (the history keeper's lag, whether the
routing documents are current, the calls the media app holds)."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

import psycopg

from . import redis_client
from .documents import GENERATION_KEY
from .heartbeats import ALIVE_TTL_S, CACHE_KEEPER, HISTORY_KEEPER, alive_key
from .history import events
from .kamailio_rpc import KamailioRpc
from .media.load import media_app_state
from .media.ng import NgClient
from .settings import Settings

PROBE_TIMEOUT = 1.0


@dataclass(frozen=True)
class Probe:
    component: str
    up: bool
    latency_ms: float
    detail: str
    facts: dict = field(default_factory=dict)  # numbers beside the detail, for machines

    def as_dict(self) -> dict:
        return {"up": self.up, "latency_ms": round(self.latency_ms, 2), "detail": self.detail, **self.facts}


class Down(RuntimeError):
    """The component answered, and what it said means it is not doing its job."""


def _timed(component: str, check: Callable[[], str | tuple[str, dict]]) -> Probe:
    started = time.perf_counter()
    facts: dict = {}
    try:
        answer = check()
        detail, facts = answer if isinstance(answer, tuple) else (answer, {})
        up = True
    except Down as exc:
        detail, up = str(exc), False
    except Exception as exc:  # any failure of a probe means "down", with the reason shown
        detail = f"{type(exc).__name__}: {exc}"
        up = False
    return Probe(component, up, (time.perf_counter() - started) * 1000, detail, facts)


def _postgresql(settings: Settings) -> str:
    # libpq counts whole seconds and never waits less than 2.
    with psycopg.connect(settings.database_url, connect_timeout=2) as conn:
        row = conn.execute("SELECT version()").fetchone()
        return str(row[0]).split(" on ")[0] if row else "PostgreSQL"


@dataclass(frozen=True)
class RedisFacts:
    """What the Redis, history keeper and cache keeper probes read: one
    connection, one pipelined round trip for the three."""

    version: str
    beats: dict[str, float | None]  # seconds since each keeper's heartbeat on this node
    waiting: int  # events in the history stream
    oldest: list  # its first entry, if any
    current: bool  # the routing documents' generation key exists


def _redis_facts(settings: Settings) -> RedisFacts:
    client = redis_client.connect(settings, socket_timeout=PROBE_TIMEOUT, socket_connect_timeout=PROBE_TIMEOUT)
    keepers = (HISTORY_KEEPER, CACHE_KEEPER)
    with client, client.pipeline(transaction=False) as pipe:
        pipe.info("server")
        for keeper in keepers:
            pipe.get(alive_key(keeper, settings.sip.host))
        pipe.xlen(events.STREAM)
        pipe.xrange(events.STREAM, count=1)
        pipe.exists(GENERATION_KEY)
        info, *beats, waiting, oldest, current = pipe.execute()
    now = time.time()
    return RedisFacts(
        "Redis " + info["redis_version"],
        {
            keeper: None if raw is None else max(0.0, now - float(raw))
            for keeper, raw in zip(keepers, beats, strict=True)
        },
        int(waiting),
        oldest,
        bool(current),
    )


def _redis(facts: Future[RedisFacts]) -> str:
    return facts.result().version


def _kamailio(settings: Settings) -> str:
    rpc = KamailioRpc(settings.kamailio_rpc, timeout=PROBE_TIMEOUT)
    return rpc.call("core.version")


def _rtpengine(settings: Settings) -> str:
    ng = NgClient(settings.rtpengine_ng.host, settings.rtpengine_ng.port, timeout=PROBE_TIMEOUT, attempts=1)
    if not ng.ping():
        raise RuntimeError("ping not answered with pong")
    return "pong"


def _media_app(settings: Settings) -> tuple[str, dict]:
    load = media_app_state(settings.media.sip.port, settings.media.sip.host, timeout=PROBE_TIMEOUT)
    if load is None:
        raise Down(f"no answer to OPTIONS on {settings.media.sip.host}:{settings.media.sip.port}")
    return f"{load.calls} calls, {load.tasks} tasks in hand", {"calls": load.calls, "calls_by_kind": load.by_kind}


def _keeper_alive(facts: RedisFacts, component: str) -> None:
    if facts.beats[component] is None:
        raise Down(f"no heartbeat from this node's {component} in {ALIVE_TTL_S} s")


def _history_keeper(facts: Future[RedisFacts]) -> tuple[str, dict]:
    """Alive, and how far behind: the stream holds only the events not yet in
    PostgreSQL (the keeper deletes what it wrote), so its length and its
    oldest entry's age are the lag."""
    read = facts.result()
    _keeper_alive(read, HISTORY_KEEPER)
    lag = 0.0
    if read.oldest:
        # An entry's ID is the Redis server's clock in milliseconds at XADD.
        entry_id = read.oldest[0][0]
        entry_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        lag = max(0.0, time.time() - int(entry_id.split("-")[0]) / 1000)
    return f"{read.waiting} call events waiting, the oldest {lag:.1f} s old", {
        "lag_events": read.waiting,
        "lag_seconds": round(lag, 3),
    }


def _cache_keeper(facts: Future[RedisFacts]) -> tuple[str, dict]:
    read = facts.result()
    _keeper_alive(read, CACHE_KEEPER)
    if not read.current:
        raise Down("the routing documents are missing from Redis: being rebuilt from PostgreSQL")
    return "the routing documents in Redis are current", {"current": True}


PROBES: dict[str, Callable[[Settings], str | tuple[str, dict]]] = {
    "postgresql": _postgresql,
    "kamailio": _kamailio,
    "rtpengine": _rtpengine,
    "media_app": _media_app,
}
# Read from the one round trip to Redis (RedisFacts).
REDIS_PROBES: dict[str, Callable[[Future[RedisFacts]], str | tuple[str, dict]]] = {
    "redis": _redis,
    "history_keeper": _history_keeper,
    "cache_keeper": _cache_keeper,
}
ORDER = ("postgresql", "redis", "kamailio", "rtpengine", "media_app", "history_keeper", "cache_keeper")


def probe_all(settings: Settings) -> list[Probe]:
    """Run every probe concurrently: the slowest, not the sum, bounds the answer."""
    with ThreadPoolExecutor(max_workers=len(PROBES) + len(REDIS_PROBES) + 1) as pool:
        facts = pool.submit(_redis_facts, settings)
        futures = {name: pool.submit(_timed, name, partial(probe, settings)) for name, probe in PROBES.items()}
        futures |= {name: pool.submit(_timed, name, partial(probe, facts)) for name, probe in REDIS_PROBES.items()}
        return [futures[name].result() for name in ORDER]
