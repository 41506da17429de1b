"""Calls out to the PSTN through the outbound gateways, and each trunk's region."""

from __future__ import annotations

import re
import secrets
import socket
import time

from vpbx.api import create_app
from vpbx.stack.process import wait_for

from . import raw_sip, sip_log
from .calls import carrier_call, employee, history_line, parallel, silent_phone
from .sipp import Sipp, free_udp_port

MOBILE = "+79165551234"


def test_a_call_forwarded_to_a_mobile_fails_over_to_the_second_gateway_when_the_first_returns_503(
    stack, api, sip_target, demo, trunks, demo_steps
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
    call = Sipp(
        "uac_call.xml",
        port=stack.ports.demo_trunk,
        remote=sip_target,
        service=demo["number"],
        keys={"rtp_port": carrier_rtp_port},
        duration_ms=300,
    )
    carrier = call.run()
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
    # History names the trunk that carried the call: the second, which answered.
    line = history_line(api, call.call_id())
    assert line["trunk"] == "gateway two"
    assert [(leg["target"], leg["trunk"]) for leg in line["legs"]] == [(f"phone {MOBILE}", "gateway two")]


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


def _status(cfg) -> dict:
    return create_app({"VPBX_SETTINGS": cfg, "TESTING": True}).test_client().get("/status").get_json()


def _sdp() -> str:
    return "v=0\r\no=carrier 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n"


def test_a_trunk_registers_to_its_carrier_and_takes_the_calls_sent_to_its_contact(
    stack, cfg, api, sip_target, demo, trunks, register, demo_steps, no_registrations
):
    secret = secrets.token_urlsafe(12)
    port = free_udp_port()
    registrar = Sipp("uas_register_digest.xml", port=port, values={"user": "acme-pbx", "password": secret}).start()
    trunks(
        "registering carrier",
        address="127.0.0.1",
        port=port,
        outbound=True,
        priority=1,
        auth_username="acme-pbx",
        auth_password=secret,
        register=True,
    )

    registered = registrar.wait()  # within uac's 10 s timer
    assert registered.returncode == 0, registered.explain()
    second = sip_log.received(registered.messages)[1]
    contact = sip_log.header(second, "Contact") or ""
    assert re.match(rf"<sip:vpbx-trunk-(\d+)@127\.0\.0\.1:{stack.ports.sip}>", contact), contact
    assert 'username="acme-pbx"' in (sip_log.header(second, "Authorization") or "")
    wait_for(
        lambda: (_status(cfg).get("trunk_registrations") or {}).get("registering carrier") == "registered",
        5,
        "the trunk to show as registered",
    )

    # The carrier calls the company number through the registration: addressed
    # to the trunk's Contact, the number in To, from the trunk's own address.
    anna = silent_phone()
    assert register("101", anna.getsockname()[1])[0] == 200
    demo_steps(parallel(employee(api, "101"), timeout=20))
    contact_uri = contact.strip("<>")
    invite, _ = raw_sip.request(
        "INVITE",
        contact_uri,
        headers={"To": f"<sip:{demo['number']}@127.0.0.1>", "Content-Type": "application/sdp"},
        body=_sdp(),
    )
    carrier = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    carrier.bind(("127.0.0.1", port))
    carrier.settimeout(5)
    try:
        carrier.sendto(invite.encode(), ("127.0.0.1", stack.ports.sip))
        rung = wait_for(lambda: _received(anna), 5, "Anna's phone to ring")
        assert rung.startswith("INVITE sip:101@")
    finally:
        carrier.sendto(_cancel(invite).encode(), ("127.0.0.1", stack.ports.sip))
        carrier.close()
        anna.close()


def _received(sock: socket.socket) -> str | None:
    try:
        return sock.recv(65535).decode()
    except BlockingIOError:
        return None


def _cancel(invite: str) -> str:
    """The CANCEL of a raw INVITE: the same Request-URI, Via, From, To, Call-ID and CSeq number."""
    head = invite.split("\r\n\r\n", 1)[0].split("\r\n")
    kept = [line for line in head[1:] if line.split(":", 1)[0] in ("Via", "From", "To", "Call-ID", "CSeq")]
    kept = [line.replace(" INVITE", " CANCEL") if line.startswith("CSeq:") else line for line in kept]
    return (
        "\r\n".join([head[0].replace("INVITE", "CANCEL", 1), *kept, "Max-Forwards: 70", "Content-Length: 0"])
        + "\r\n\r\n"
    )
