"""Queue the routing documents a request changes, to republish after it commits."""

from __future__ import annotations

import logging

import redis
from flask import current_app

from .. import redis_client
from ..config.publish import forget_kept_versions, publish, publish_company
from ..kamailio_rpc import KamailioRpc
from .database import after_commit

log = logging.getLogger(__name__)


def routing_cache() -> redis.Redis:
    """This app's client of the Redis that holds routing documents and shared call state."""
    clients = current_app.extensions.setdefault("vpbx_redis", {})
    settings = current_app.config["VPBX_SETTINGS"]
    if settings not in clients:
        clients[settings] = redis_client.connect(settings, socket_timeout=2, socket_connect_timeout=2)
    return clients[settings]


def _publish_now(conn, numbers, domains, company_id: int | None = None) -> None:
    try:
        if company_id is not None:
            publish_company(conn, routing_cache(), company_id)
        else:
            publish(conn, routing_cache(), numbers=numbers, domains=domains)
    except redis.RedisError:
        # The change is committed; calls keep the previous route until the
        # cache is rebuilt (`vpbx cache rebuild`).
        log.exception("routing cache not updated for numbers %s, domains %s", numbers, domains)
        return
    # A request waits at most this long for a Kamailio that does not answer.
    forget_kept_versions(KamailioRpc(current_app.config["VPBX_SETTINGS"].kamailio_rpc, timeout=0.5))


def republish(*, numbers=(), domains=()) -> None:
    """Republish these numbers' and companies' documents once the request commits."""
    numbers, domains = set(numbers), set(domains)
    if numbers or domains:
        after_commit(lambda conn: _publish_now(conn, numbers, domains))


def republish_company(company_id: int) -> None:
    """Republish all of a company's documents once the request commits (publish_company)."""
    after_commit(lambda conn: _publish_now(conn, (), (), company_id))


def forget_state(key: str) -> None:
    """Drop shared call state of something deleted (a department's turn and members' calls)."""
    try:
        routing_cache().delete(key)
    except redis.RedisError:
        log.warning("shared state %s not dropped: it is unused and harmless", key)
