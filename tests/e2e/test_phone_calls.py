"""Calls placed by the company's own registered phones (digest-authenticated INVITEs)."""

from __future__ import annotations

from . import sip_log
from .calls import phone_call
from .rtp import RtpEndpoint
from .sipp import Sipp, free_udp_port

CALL_MS = 1500


def test_a_phone_dials_a_colleagues_extension(stack, register, sip_target, demo, no_registrations):
    caller_rtp = RtpEndpoint()
    colleague_port = free_udp_port()
    assert register("102", colleague_port)[0] == 200
    colleague = Sipp("uas_answer.xml", port=colleague_port, keys={"rtp_port": free_udp_port()}).start()

    caller_result = phone_call(sip_target, demo, "101", "102", rtp_port=caller_rtp.port, duration_ms=CALL_MS).run()
    colleague_result = colleague.wait()
    caller_rtp.close()

    assert caller_result.returncode == 0, caller_result.explain()
    assert colleague_result.returncode == 0, colleague_result.explain()
    invite = sip_log.first(sip_log.received(colleague_result.messages), "INVITE ")
    assert "<sip:101@demo.vpbx.test>" in sip_log.header(invite, "From")
    address, port = sip_log.sdp_media(invite)
    assert address == "127.0.0.1" and stack.ports.rtp_min <= port <= stack.ports.rtp_max


def test_a_phone_calling_the_company_number_rings_its_colleagues_but_not_itself(
    register, sip_target, demo, no_registrations
):
    caller_rtp, own_contact = RtpEndpoint(), RtpEndpoint()  # the caller's registered contact
    assert register("101", own_contact.port)[0] == 200
    colleague_port = free_udp_port()
    assert register("102", colleague_port)[0] == 200
    colleague = Sipp("uas_answer.xml", port=colleague_port, keys={"rtp_port": free_udp_port()}).start()

    caller_result = phone_call(
        sip_target, demo, "101", demo["number"], rtp_port=caller_rtp.port, duration_ms=CALL_MS
    ).run()
    colleague_result = colleague.wait()

    assert caller_result.returncode == 0, caller_result.explain()
    assert colleague_result.returncode == 0, colleague_result.explain()
    # The fork happened before the colleague answered: had the caller's own
    # contact been a branch, its INVITE would be waiting on that socket now.
    assert own_contact.receive(1, timeout=0) == []
    caller_rtp.close()
    own_contact.close()
