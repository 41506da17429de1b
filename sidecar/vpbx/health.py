"""Probe each component vpbx depends on: up or down, and how long it took to answer."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import psycopg

from . import redis_client
from .kamailio_rpc import KamailioRpc
from .media.ng import NgClient
from .settings import Settings

PROBE_TIMEOUT = 1.0


@dataclass(frozen=True)
class Probe:
    component: str
    up: bool
    latency_ms: float
    detail: str

    def as_dict(self) -> dict:
        return {"up": self.up, "latency_ms": round(self.latency_ms, 2), "detail": self.detail}


def _timed(component: str, check: Callable[[], str]) -> Probe:
    started = time.perf_counter()
    try:
        detail = check()
        up = True
    except Exception as exc:  # any failure of a probe means "down", with the reason shown
        detail = f"{type(exc).__name__}: {exc}"
        up = False
    return Probe(component, up, (time.perf_counter() - started) * 1000, detail)


def _postgresql(settings: Settings) -> str:
    # libpq counts whole seconds and never waits less than 2.
    with psycopg.connect(settings.database_url, connect_timeout=2) as conn:
        row = conn.execute("SELECT version()").fetchone()
        return str(row[0]).split(" on ")[0] if row else "PostgreSQL"


def _redis(settings: Settings) -> str:
    client = redis_client.connect(settings, socket_timeout=PROBE_TIMEOUT, socket_connect_timeout=PROBE_TIMEOUT)
    try:
        client.ping()
        info: Any = client.info("server")  # redis-py types sync replies as "Awaitable | Any"
        return "Redis " + info["redis_version"]
    finally:
        client.close()


def _kamailio(settings: Settings) -> str:
    rpc = KamailioRpc(settings.kamailio_rpc, timeout=PROBE_TIMEOUT)
    return rpc.call("core.version")


def _rtpengine(settings: Settings) -> str:
    ng = NgClient(settings.rtpengine_ng.host, settings.rtpengine_ng.port, timeout=PROBE_TIMEOUT, attempts=1)
    if not ng.ping():
        raise RuntimeError("ping not answered with pong")
    return "pong"


PROBES: dict[str, Callable[[Settings], str]] = {
    "postgresql": _postgresql,
    "redis": _redis,
    "kamailio": _kamailio,
    "rtpengine": _rtpengine,
}


def probe_all(settings: Settings) -> list[Probe]:
    """Run every probe concurrently: the slowest, not the sum, bounds the answer."""
    with ThreadPoolExecutor(max_workers=len(PROBES)) as pool:
        futures = [pool.submit(_timed, name, partial(probe, settings)) for name, probe in PROBES.items()]
        return [f.result() for f in futures]
