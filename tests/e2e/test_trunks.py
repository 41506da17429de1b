"""Calls out to the PSTN through the outbound gateways, and each trunk's region."""

from __future__ import annotations

import time

from . import sip_log
from .calls import carrier_call, parallel, silent_phone
from .sipp import Sipp, free_udp_port

MOBILE = "+79165551234"


def test_a_call_forwarded_to_a_mobile_fails_over_to_the_second_gateway_when_the_first_returns_503(
    stack, sip_target, demo, trunks, demo_steps
):
    first_port, second_port = free_udp_port(), free_udp_port()
    trunks("gateway one", address="127.0.0.1", port=first_port, outbound=True, priority=20)
    trunks("gateway two", address="127.0.0.1", port=second_port, outbound=True, priority=10)
    demo_steps(parallel({"kind": "phone_number", "number": MOBILE}))
    out_of_service = Sipp(
        "uas_reject.xml", port=first_port, values={"code": 503, "phrase": "Service Unavailable"}
    ).start()
    answering = Sipp("uas_answer.xml", port=second_port, keys={"rtp_port": free_udp_port()}).start()

    carrier_rtp_port = free_udp_port()
    carrier = Sipp(
        "uac_call.xml",
        port=stack.ports.demo_trunk,
        remote=sip_target,
        service=demo["number"],
        keys={"rtp_port": carrier_rtp_port},
        duration_ms=300,
    ).run()
    refused, answered = out_of_service.wait(), answering.wait()

    assert carrier.returncode == 0, carrier.explain()
    assert refused.returncode == 0, refused.explain()
    assert answered.returncode == 0, answered.explain()
    # Both gateways were asked for the mobile, the first one first: it refused, so it
    # could only have been tried before the second answered.
    assert sip_log.first(sip_log.received(refused.messages), "INVITE ").startswith(
        f"INVITE sip:{MOBILE}@127.0.0.1:{first_port} "
    )
    invite = sip_log.first(sip_log.received(answered.messages), "INVITE ")
    assert invite.startswith(f"INVITE sip:{MOBILE}@127.0.0.1:{second_port} ")
    # Media is anchored on the outbound leg too.
    assert sip_log.sdp_media(invite)[1] in range(stack.ports.rtp_min, stack.ports.rtp_max + 1)
    assert sip_log.sdp_media(invite)[1] != carrier_rtp_port


def test_a_gateway_that_never_replies_is_given_up_after_five_seconds_not_the_whole_step(
    stack, sip_target, demo, trunks, demo_steps
):
    dead = silent_phone()
    second_port = free_udp_port()
    trunks("gateway one", address="127.0.0.1", port=dead.getsockname()[1], outbound=True, priority=20)
    trunks("gateway two", address="127.0.0.1", port=second_port, outbound=True, priority=10)
    demo_steps(parallel({"kind": "phone_number", "number": MOBILE}, timeout=60))
    answering = Sipp("uas_answer.xml", port=second_port, keys={"rtp_port": free_udp_port()}).start()

    carrier = carrier_call(stack, sip_target, demo["number"]).start()
    dead.settimeout(5)
    dead.recv(65535)  # the first gateway is asked...
    asked_first = time.monotonic()
    answered = answering.wait()  # ...and, silent, given up for the second
    asked_second = time.monotonic()
    result = carrier.wait()
    dead.close()

    assert result.returncode == 0, result.explain()
    assert answered.returncode == 0, answered.explain()
    assert 5 <= asked_second - asked_first < 15  # the 60 s step was not waited out


def test_a_trunk_reads_national_numbers_in_its_own_region(
    stack, sip_target, demo, api, trunks, register, no_registrations
):
    kyiv_number = "+380441234567"
    status, body = api(
        "POST",
        "/numbers",
        {
            "number": kyiv_number,
            "scheme_id": next(s["id"] for s in api("GET", "/schemes")[1] if s["name"] == "Ring everyone"),
        },
    )
    assert status == 201, body
    try:
        ukrainian_port = free_udp_port()
        trunks("Kyiv carrier", address="127.0.0.1", port=ukrainian_port, region="UA")
        anna_port = free_udp_port()
        assert register("101", anna_port)[0] == 200
        anna = Sipp("uas_answer.xml", port=anna_port, keys={"rtp_port": free_udp_port()}).start()

        # A Ukrainian carrier sends the national form 044 123 4567.
        carrier = Sipp(
            "uac_call.xml",
            port=ukrainian_port,
            remote=sip_target,
            service="0441234567",
            keys={"rtp_port": free_udp_port()},
            duration_ms=300,
        ).run()
        answered = anna.wait()

        assert carrier.returncode == 0, carrier.explain()
        assert answered.returncode == 0, answered.explain()
        # The same digits from the Russian demo trunk are not a number of ours.
        russian = Sipp(
            "uac_rejected.xml",
            port=stack.ports.demo_trunk,
            remote=sip_target,
            service="0441234567",
            keys={"rtp_port": free_udp_port()},
            values={"final": 404, "reason": 'Q\\.850;cause=1;text="Unallocated'},
        ).run()
        assert russian.returncode == 0, russian.explain()
    finally:
        api("DELETE", f"/numbers/{kyiv_number}")
