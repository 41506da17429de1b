"""Calls from a trunk to the demo number, through Kamailio and rtpengine."""

from __future__ import annotations

import pytest

from vpbx.media.ng import NgError
from vpbx.stack.process import wait_for

from . import sip_log
from .calls import history_line, rtpengine_forgot
from .rtp import RtpEndpoint
from .sipp import Sipp, free_udp_port

CALL_MS = 6000  # how long the carrier holds the answered call before its BYE
PACKETS = 20


def _rtpengine_ports(session: dict, caller_port: int, phone_port: int) -> tuple[int, int]:
    """rtpengine's local ports facing the caller and facing the phone."""
    facing = {}
    for monologue in session["tags"].values():
        for media in monologue["medias"]:
            for stream in media["streams"]:
                if "RTP" in stream["flags"]:
                    facing[stream["endpoint"]["port"]] = stream["local port"]
    return facing[caller_port], facing[phone_port]


def _answered_session(ng, call_id: str) -> dict | None:
    try:
        session = ng.query(call_id)
    except NgError:
        return None
    # Both sides' SDP seen: two tags, and every RTP stream knows its peer.
    streams = [
        stream
        for monologue in session.get("tags", {}).values()
        for media in monologue["medias"]
        for stream in media["streams"]
        if "RTP" in stream["flags"]
    ]
    answered = len(session.get("tags", {})) == 2 and all("port" in stream.get("endpoint", {}) for stream in streams)
    return session if answered else None


def test_trunk_call_rings_the_registered_phone_with_media_through_rtpengine(
    stack, register, ng, sip_target, demo, no_registrations
):
    caller_rtp, phone_rtp = RtpEndpoint(), RtpEndpoint()
    phone_port = free_udp_port()
    assert register("101", phone_port)[0] == 200

    phone = Sipp("uas_answer.xml", port=phone_port, keys={"rtp_port": phone_rtp.port}).start()
    # The carrier sends the number in national format; vpbx reads it as E.164.
    carrier = Sipp(
        "uac_call.xml",
        port=stack.ports.demo_trunk,
        remote=sip_target,
        service="84951112233",
        keys={"rtp_port": caller_rtp.port},
        duration_ms=CALL_MS,
    ).start()
    try:
        call_id = carrier.call_id()
        session = wait_for(lambda: _answered_session(ng, call_id), 5, "rtpengine to anchor both legs")
        toward_caller, toward_phone = _rtpengine_ports(session, caller_rtp.port, phone_rtp.port)
        low, high = stack.ports.rtp_min, stack.ports.rtp_max
        assert low <= toward_caller <= high and low <= toward_phone <= high

        caller_rtp.send(("127.0.0.1", toward_caller), PACKETS)
        heard_by_phone = phone_rtp.receive(PACKETS, timeout=3)
        phone_rtp.send(("127.0.0.1", toward_phone), PACKETS)
        heard_by_caller = caller_rtp.receive(PACKETS, timeout=3)
    finally:
        carrier_result, phone_result = carrier.wait(), phone.wait()
        caller_rtp.close()
        phone_rtp.close()

    assert carrier_result.returncode == 0, carrier_result.explain()
    assert phone_result.returncode == 0, phone_result.explain()

    # Media flows both ways, each side hearing the other's stream from rtpengine.
    assert len(heard_by_phone) == PACKETS
    assert {source for _, source in heard_by_phone} == {("127.0.0.1", toward_phone)}
    assert {RtpEndpoint.ssrc_of(p) for p, _ in heard_by_phone} == {caller_rtp.ssrc}
    assert len(heard_by_caller) == PACKETS
    assert {source for _, source in heard_by_caller} == {("127.0.0.1", toward_caller)}
    assert {RtpEndpoint.ssrc_of(p) for p, _ in heard_by_caller} == {phone_rtp.ssrc}

    # Each side's SDP names rtpengine, never the other party.
    invite = sip_log.first(sip_log.received(phone_result.messages), "INVITE ")
    assert sip_log.sdp_media(invite) == ("127.0.0.1", toward_phone)
    assert invite.startswith(f"INVITE sip:101@127.0.0.1:{phone_port}")
    answer = sip_log.first(sip_log.received(carrier_result.messages), "SIP/2.0 200 OK")
    assert sip_log.sdp_media(answer) == ("127.0.0.1", toward_caller)

    # BYE deleted the media session.
    wait_for(lambda: rtpengine_forgot(ng, carrier.call_id()), 5, "rtpengine to delete the session")


@pytest.mark.parametrize(
    "dialled",
    ["74950000000", "+12025550123", "not-a-number"],
    ids=["unknown-russian-number", "unknown-foreign-number", "not-a-number"],
)
def test_call_to_a_number_that_is_not_ours_gets_404_with_reason(stack, sip_target, ng, dialled):
    calls_before = set(ng.list_calls())
    result = Sipp(
        "uac_rejected.xml",
        port=stack.ports.demo_trunk,
        remote=sip_target,
        service=dialled,
        keys={"rtp_port": free_udp_port()},
        values={"final": 404, "reason": 'Q\\.850;cause=1;text="Unallocated'},
    ).run()

    assert result.returncode == 0, result.explain()
    reply = sip_log.first(sip_log.received(result.messages), "SIP/2.0 404")
    assert sip_log.header(reply, "Reason") == 'Q.850;cause=1;text="Unallocated (unassigned) number"'
    assert set(ng.list_calls()) <= calls_before  # no media session was opened for it


def test_call_when_no_phone_is_registered_gets_480_and_opens_no_media_session(
    stack, sip_target, ng, api, no_registrations
):
    calls_before = set(ng.list_calls())
    caller = Sipp(
        "uac_rejected.xml",
        port=stack.ports.demo_trunk,
        remote=sip_target,
        service="+74951112233",
        keys={"rtp_port": free_udp_port()},
        values={"final": 480, "reason": "Q\\.850;cause=20"},
    )
    result = caller.run()

    assert result.returncode == 0, result.explain()
    assert set(ng.list_calls()) <= calls_before
    # Still a missed call of the company, on the number.
    line = history_line(api, caller.call_id())
    assert (line["status"], line["end_reason"], line["called"], line["legs"]) == (
        "missed",
        "nobody_to_ring",
        "+74951112233",
        [],
    )
