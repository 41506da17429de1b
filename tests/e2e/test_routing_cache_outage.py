"""Calls while the routing cache (Redis) is down or emptied, and after it is back.

Every Kamailio worker copies the documents at start (child_init) and keeps a
copy of each one it reads, so a number known before the outage routes through
it; only a number no worker has seen gets 503.
"""

from __future__ import annotations

import pytest
import redis

from vpbx.documents import GENERATION_KEY
from vpbx.stack.process import wait_for
from vpbx.stack.services import CacheKeeper

from .sipp import Sipp, free_udp_port

WORKERS = 4  # kamailio.cfg children: twice as many calls as workers reach most of them
ROUTED = (480, "Q\\.850;cause=20")  # no phone registered: routed, nobody to ring
NO_ROUTE = (503, "Q\\.850;cause=41")


def _call(stack, sip_target, number: str, expected: tuple[int, str]):
    result = Sipp(
        "uac_rejected.xml",
        port=stack.ports.demo_trunk,
        remote=sip_target,
        service=number,
        keys={"rtp_port": free_udp_port()},
        values={"final": expected[0], "reason": expected[1]},
    ).run()
    assert result.returncode == 0, result.explain()


def test_known_numbers_route_while_redis_is_down_and_unseen_ones_get_503(
    stack, cfg, sip_target, demo, redis_service, new_number, no_registrations
):
    client = redis.Redis.from_url(cfg.redis_url)
    built = int(client.get(GENERATION_KEY))
    assert redis_service.stop()

    for _ in range(2 * WORKERS):
        _call(stack, sip_target, demo["number"], ROUTED)
    _call(stack, sip_target, new_number, NO_ROUTE)

    redis_service.start()
    # Redis may come back from an older snapshot: the cache keeper rebuilds every
    # document from PostgreSQL after any restart, then the new number routes.
    wait_for(lambda: int(client.get(GENERATION_KEY) or 0) > built, 10, "the cache keeper to rebuild the documents")
    client.close()
    for _ in range(2 * WORKERS):
        _call(stack, sip_target, new_number, ROUTED)


@pytest.fixture
def keeper(stack):
    service = CacheKeeper(stack)
    yield service
    service.start()


def test_an_emptied_cache_is_rebuilt_and_calls_route_meanwhile(
    stack, cfg, sip_target, demo, new_number, keeper, no_registrations
):
    client = redis.Redis.from_url(cfg.redis_url)
    assert keeper.stop()  # hold the rebuild back to see the calls in between
    client.flushall()

    for _ in range(2 * WORKERS):
        _call(stack, sip_target, demo["number"], ROUTED)
    _call(stack, sip_target, new_number, NO_ROUTE)

    keeper.start()
    wait_for(lambda: client.exists(GENERATION_KEY), 10, "the cache keeper to rebuild the documents")
    _call(stack, sip_target, new_number, ROUTED)
    client.close()
