"""Clients of the site's Redis primary, wherever it is now.

One host, one Redis: a client of ``redis_url``. Where Sentinel watches a
primary and its replicas (settings.redis_sentinel), a client asks the
sentinels for the primary's address each time it connects, so after a
failover its next reconnect (every client here retries a failed command once
on a fresh connection) lands on the promoted replica; ``redis_url`` then gives
only the password and the database.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio as aioredis
from redis.asyncio.sentinel import Sentinel as AsyncSentinel
from redis.asyncio.sentinel import SentinelConnectionPool as AsyncSentinelConnectionPool
from redis.sentinel import Sentinel, SentinelConnectionPool

from .settings import Settings

# Options of the client object itself; the rest configure its connections.
_CLIENT_OPTIONS = ("single_connection_client",)


def connect(settings: Settings, **options: Any) -> redis.Redis:
    """A client of the primary, with redis-py's ``options`` (timeouts, retry...)."""
    if settings.redis_sentinel is None:
        return redis.Redis.from_url(settings.redis_url, **options)
    client_options = {name: options.pop(name) for name in _CLIENT_OPTIONS if name in options}
    sentinel = Sentinel(settings.redis_sentinel.addresses(), **_sentinel_options(options))
    pool = SentinelConnectionPool(
        settings.redis_sentinel.master, sentinel, is_master=True, **_server_options(settings), **options
    )
    return redis.Redis(connection_pool=pool, **client_options)


def connect_async(settings: Settings, **options: Any) -> aioredis.Redis:
    """connect() for asyncio."""
    if settings.redis_sentinel is None:
        return aioredis.Redis.from_url(settings.redis_url, **options)
    client_options = {name: options.pop(name) for name in _CLIENT_OPTIONS if name in options}
    sentinel = AsyncSentinel(settings.redis_sentinel.addresses(), **_sentinel_options(options))
    pool = AsyncSentinelConnectionPool(
        settings.redis_sentinel.master, sentinel, is_master=True, **_server_options(settings), **options
    )
    return aioredis.Redis(connection_pool=pool, **client_options)


def limiter_storage(settings: Settings) -> tuple[str, dict[str, Any]]:
    """The storage URI and options of the API's rate limits (the limits library's notation)."""
    options: dict[str, Any] = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
    if settings.redis_sentinel is None:
        return settings.redis_url, options
    sentinels = ",".join(f"{host}:{port}" for host, port in settings.redis_sentinel.addresses())
    password = redis.connection.parse_url(settings.redis_url).get("password") or ""
    # The sentinels themselves take no password (Kamailio's ndb_redis cannot
    # give one); counts are read from the primary, never from a lagging replica.
    options |= {"sentinel_kwargs": {"password": None}, "use_replicas": False}
    return f"redis+sentinel://:{password}@{sentinels}/{settings.redis_sentinel.master}", options


def _server_options(settings: Settings) -> dict[str, Any]:
    parsed = redis.connection.parse_url(settings.redis_url)
    return {name: parsed[name] for name in ("username", "password", "db") if parsed.get(name) is not None}


def _sentinel_options(options: dict[str, Any]) -> dict[str, Any]:
    # A sentinel that does not answer within the client's own timeouts is
    # skipped for the next one.
    timeouts = ("socket_timeout", "socket_connect_timeout")
    return {"sentinel_kwargs": {name: options[name] for name in timeouts if name in options}}
