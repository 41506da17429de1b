"""Calls while the routing cache (Redis) is down, and after it comes back."""

from __future__ import annotations

import pytest

from vpbx.stack.services import Redis

from .sipp import Sipp, free_udp_port

WORKERS = 4  # kamailio.cfg children: enough calls that each UDP worker likely sees one


def _trunk_call(stack, sip_target, demo, final: int, reason: str):
    return Sipp(
        "uac_rejected.xml", port=stack.ports.demo_trunk, remote=sip_target, service=demo["number"],
        keys={"rtp_port": free_udp_port()}, values={"final": final, "reason": reason},
    ).run()


@pytest.fixture
def redis_service(stack):
    service = Redis(stack)
    yield service
    service.start()


def test_calls_get_503_while_redis_is_down_and_route_again_once_it_is_back(
    stack, sip_target, demo, redis_service, no_registrations
):
    assert redis_service.stop()

    down = _trunk_call(stack, sip_target, demo, 503, "Q\\.850;cause=41")
    assert down.returncode == 0, down.explain()

    redis_service.start()
    # Every worker reconnects on its own: no call after the restart is refused.
    # (No phone is registered, so a routed call ends in 480.)
    for _ in range(2 * WORKERS):
        routed = _trunk_call(stack, sip_target, demo, 480, "Q\\.850;cause=20")
        assert routed.returncode == 0, routed.explain()
