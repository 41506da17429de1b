"""A change made through the running sidecar applies to the very next call."""

from __future__ import annotations

import redis

from vpbx.documents import number_key, version_key
from vpbx.kamailio_rpc import RpcError
from vpbx.stack.process import wait_for

from .calls import answered_call, employee, parallel, rung, silent_phone
from .sipp import Sipp, free_udp_port


def test_the_next_call_follows_a_scheme_changed_through_the_api(
    stack, api, register, sip_target, demo, demo_steps, no_registrations
):
    anna, boris_port = silent_phone(), free_udp_port()
    anna_port = anna.getsockname()[1]
    assert register("101", anna_port)[0] == 200
    assert register("102", boris_port)[0] == 200

    demo_steps(parallel(employee(api, "102"), timeout=20))
    invite = answered_call(stack, sip_target, demo["number"], boris_port)
    assert invite.startswith(f"INVITE sip:102@127.0.0.1:{boris_port}")
    assert not rung(anna)
    anna.close()

    demo_steps(parallel(employee(api, "101"), timeout=20))
    boris = silent_phone(boris_port)
    invite = answered_call(stack, sip_target, demo["number"], anna_port)
    assert invite.startswith(f"INVITE sip:101@127.0.0.1:{anna_port}")
    assert not rung(boris)
    boris.close()


def kept_version(rpc, key: str) -> bytes | None:
    """The version of ``key`` Kamailio's workers keep (kamailio.cfg: routing_versions), or None."""
    try:
        return str(rpc.call("htable.get", "routing_versions", key)["item"]["value"]).encode()
    except RpcError:  # "Key name doesn't exist in htable."
        return None


def ring_and_cancel(stack, sip_target, number: str, phone_port: int) -> None:
    """The carrier calls ``number`` and hangs up at the first ring: a fraction
    of a second, less than the one to two seconds a kept version lives."""
    phone = Sipp("uas_ring_until_cancelled.xml", port=phone_port).start()
    carrier = Sipp(
        "uac_cancel.xml",
        port=stack.ports.demo_trunk,
        remote=sip_target,
        service=number,
        keys={"rtp_port": free_udp_port()},
    ).run()
    cancelled = phone.wait()
    assert carrier.returncode == 0, carrier.explain()
    assert cancelled.returncode == 0, cancelled.explain()


def test_workers_keep_a_numbers_version_after_a_call_until_an_api_change_drops_it(
    stack, api, cfg, rpc, register, sip_target, demo, demo_steps, no_registrations
):
    boris_port = free_udp_port()
    assert register("102", boris_port)[0] == 200
    demo_steps(parallel(employee(api, "102"), timeout=20))
    key = number_key(demo["number"])
    published = redis.Redis.from_url(cfg.redis_url).get(version_key(key))

    ring_and_cancel(stack, sip_target, demo["number"], boris_port)
    assert kept_version(rpc, key) == published

    demo_steps(parallel(employee(api, "101"), timeout=20))
    assert kept_version(rpc, key) is None


def test_a_kept_version_expires_when_kamailio_is_not_told_of_a_change(
    stack, api, rpc, register, sip_target, demo, demo_steps, no_registrations
):
    """What bounds a change's delay on a host whose Kamailio the publisher
    cannot reach: the entry lives one to two seconds (whole-second expiry)."""
    boris_port = free_udp_port()
    assert register("102", boris_port)[0] == 200
    demo_steps(parallel(employee(api, "102"), timeout=20))
    key = number_key(demo["number"])
    ring_and_cancel(stack, sip_target, demo["number"], boris_port)
    assert kept_version(rpc, key) is not None

    wait_for(lambda: kept_version(rpc, key) is None, 3, "the kept version to expire")
