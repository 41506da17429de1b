"""A number by schedule: one route in working hours, another at night, on real calls.

The routing clock is pinned through a Redis key that only the test profile's
Kamailio workers read (production never does).
"""

from __future__ import annotations

import pytest
import redis

from vpbx.kamailio_adapter.worker import TEST_CLOCK_KEY

from .calls import answered_call, rung, silent_phone
from .sipp import free_udp_port

NUMBER = "+74951110099"


@pytest.fixture
def day_and_night(api, cfg):
    """Mon-Fri 09-18: the day scheme rings Anna (101), the night scheme Boris (102)."""
    ids = {e["extension"]: e["id"] for e in api("GET", "/employees")[1]}
    made = []

    def post(path, body):
        status, item = api("POST", path, body)
        assert status == 201, item
        made.append(f"{path}/{item.get('id', item.get('number'))}")
        return item

    hours = post(
        "/schedules",
        {
            "name": "E2E hours",
            "timezone": "Europe/Moscow",
            "weekly": [{"day": d, "start": "09:00", "end": "18:00"} for d in ("mon", "tue", "wed", "thu", "fri")],
        },
    )
    day = post(
        "/schemes",
        {
            "name": "E2E day",
            "steps": [
                {"mode": "parallel", "timeout": 20, "destinations": [{"kind": "employee", "employee_id": ids["101"]}]}
            ],
        },
    )
    night = post(
        "/schemes",
        {
            "name": "E2E night",
            "steps": [
                {"mode": "parallel", "timeout": 20, "destinations": [{"kind": "employee", "employee_id": ids["102"]}]}
            ],
        },
    )
    post(
        "/numbers",
        {
            "number": NUMBER,
            "mode": "by_schedule",
            "schedule_id": hours["id"],
            "scheme_id": day["id"],
            "off_hours_scheme_id": night["id"],
        },
    )
    clock = redis.Redis.from_url(cfg.redis_url)
    yield clock
    clock.delete(TEST_CLOCK_KEY)
    clock.close()
    for path in reversed(made):
        api("DELETE", path)


def test_working_hours_ring_the_day_route_and_the_night_rings_the_other(
    stack, sip_target, register, day_and_night, no_registrations
):
    anna_port, boris_port = free_udp_port(), free_udp_port()
    assert register("101", anna_port)[0] == 200
    assert register("102", boris_port)[0] == 200

    day_and_night.set(TEST_CLOCK_KEY, "2026-11-23T10:00:00+03:00")  # Monday morning
    boris = silent_phone(boris_port)
    invite = answered_call(stack, sip_target, NUMBER, anna_port)
    assert not rung(boris)  # the night route's phone
    boris.close()
    assert invite.startswith(f"INVITE sip:101@127.0.0.1:{anna_port}")

    day_and_night.set(TEST_CLOCK_KEY, "2026-11-23T23:00:00+03:00")  # Monday night
    anna = silent_phone(anna_port)
    invite = answered_call(stack, sip_target, NUMBER, boris_port)
    assert not rung(anna)  # the day route's phone
    anna.close()
    assert invite.startswith(f"INVITE sip:102@127.0.0.1:{boris_port}")
