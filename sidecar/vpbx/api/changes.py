"""Queue the routing documents a request changes, to republish after it commits."""

from __future__ import annotations

import logging

import redis
from flask import current_app

from ..config.publish import publish
from .database import after_commit

log = logging.getLogger(__name__)


def _cache() -> redis.Redis:
    clients = current_app.extensions.setdefault("vpbx_redis", {})
    url = current_app.config["VPBX_SETTINGS"].redis_url
    if url not in clients:
        clients[url] = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    return clients[url]


def republish(*, numbers=(), domains=()) -> None:
    numbers, domains = set(numbers), set(domains)
    if not numbers and not domains:
        return

    def _publish(conn):
        try:
            publish(conn, _cache(), numbers=numbers, domains=domains)
        except redis.RedisError:
            # The change is committed; calls keep the previous route until the
            # cache is rebuilt (`vpbx cache rebuild`, or on demand).
            log.exception("routing cache not updated for numbers %s, domains %s", numbers, domains)

    after_commit(_publish)
