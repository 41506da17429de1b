"""Probe each component of this node: up or down, how long it took to answer,
and what an operator watches it for (the history keeper's lag, whether the
routing documents are current, the calls the media app holds)."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import psycopg
import redis

from . import redis_client
from .documents import GENERATION_KEY
from .heartbeats import ALIVE_TTL_S, CACHE_KEEPER, HISTORY_KEEPER, seconds_since_beat
from .history import events
from .kamailio_rpc import KamailioRpc
from .media.load import media_app_load
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


def _probe_redis(settings: Settings) -> redis.Redis:
    """A client for one probe, with the probe's timeouts; the caller closes it (``with``)."""
    return redis_client.connect(settings, socket_timeout=PROBE_TIMEOUT, socket_connect_timeout=PROBE_TIMEOUT)


def _redis(settings: Settings) -> str:
    with _probe_redis(settings) as client:
        client.ping()
        info: Any = client.info("server")  # redis-py types sync replies as "Awaitable | Any"
        return "Redis " + info["redis_version"]


def _kamailio(settings: Settings) -> str:
    rpc = KamailioRpc(settings.kamailio_rpc, timeout=PROBE_TIMEOUT)
    return rpc.call("core.version")


def _rtpengine(settings: Settings) -> str:
    ng = NgClient(settings.rtpengine_ng.host, settings.rtpengine_ng.port, timeout=PROBE_TIMEOUT, attempts=1)
    if not ng.ping():
        raise RuntimeError("ping not answered with pong")
    return "pong"


def _media_app(settings: Settings) -> tuple[str, dict]:
    load = media_app_load(settings.media.sip.port, settings.media.sip.host, timeout=PROBE_TIMEOUT)
    if load is None:
        raise Down(f"no answer to OPTIONS on {settings.media.sip.host}:{settings.media.sip.port}")
    calls, tasks = load
    return f"{calls} calls, {tasks} tasks in hand", {"calls": calls}


def _keeper_alive(client, component: str, settings: Settings) -> None:
    if seconds_since_beat(client, component, settings.sip.host, time.time()) is None:
        raise Down(f"no heartbeat from this node's {component} in {ALIVE_TTL_S} s")


def _history_keeper(settings: Settings) -> tuple[str, dict]:
    """Alive, and how far behind: the stream holds only the events not yet in
    PostgreSQL (the keeper deletes what it wrote), so its length and its
    oldest entry's age are the lag."""
    with _probe_redis(settings) as client:
        _keeper_alive(client, HISTORY_KEEPER, settings)
        pipe = client.pipeline(transaction=False)
        pipe.xlen(events.STREAM)
        pipe.xrange(events.STREAM, count=1)
        waiting, oldest = pipe.execute()
    lag = 0.0
    if oldest:
        # An entry's ID is the Redis server's clock in milliseconds at XADD.
        entry_id = oldest[0][0]
        entry_id = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        lag = max(0.0, time.time() - int(entry_id.split("-")[0]) / 1000)
    return f"{waiting} call events waiting, the oldest {lag:.1f} s old", {
        "lag_events": waiting,
        "lag_seconds": round(lag, 3),
    }


def _cache_keeper(settings: Settings) -> tuple[str, dict]:
    with _probe_redis(settings) as client:
        _keeper_alive(client, CACHE_KEEPER, settings)
        current = bool(client.exists(GENERATION_KEY))
    if not current:
        raise Down("the routing documents are missing from Redis: being rebuilt from PostgreSQL")
    return "the routing documents in Redis are current", {"current": True}


PROBES: dict[str, Callable[[Settings], str | tuple[str, dict]]] = {
    "postgresql": _postgresql,
    "redis": _redis,
    "kamailio": _kamailio,
    "rtpengine": _rtpengine,
    "media_app": _media_app,
    "history_keeper": _history_keeper,
    "cache_keeper": _cache_keeper,
}


def probe_all(settings: Settings) -> list[Probe]:
    """Run every probe concurrently: the slowest, not the sum, bounds the answer."""
    with ThreadPoolExecutor(max_workers=len(PROBES)) as pool:
        futures = [pool.submit(_timed, name, partial(probe, settings)) for name, probe in PROBES.items()]
        return [f.result() for f in futures]
