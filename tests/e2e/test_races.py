"""Races a busy PBX meets every day, each ending with nothing left behind:
two phones answering the same call at once, a CANCEL crossing a 200."""

from __future__ import annotations

import dataclasses
import secrets

import pytest

from vpbx.stack.process import wait_for

from .calls import employee, parallel
from .sip_ua import RtpSocket, media_of, offer, payload_of, uri_of

PACKETS = 10


@pytest.fixture
def phones(api, demo_steps, sip_phone):
    """Anna (101) and Boris (102), both rung at once by the demo number."""
    demo_steps(parallel(employee(api, "101"), employee(api, "102"), timeout=15))
    return {login: sip_phone(login) for login in ("101", "102")}


def _no_media_session(ng, call_id: str) -> None:
    wait_for(lambda: call_id not in ng.list_calls(), 5, f"rtpengine to forget call {call_id}")


def test_two_phones_answering_at_once_the_first_gets_the_call_and_nothing_is_left(stack, demo, ng, phones, carrier):
    carrier_rtp = RtpSocket()
    phone_rtp = {login: RtpSocket() for login in phones}
    try:
        call = carrier.invite(demo["number"], offer(carrier_rtp.port, None), from_user="+79991234567")
        invites = {login: phone.wait_request("INVITE") for login, phone in phones.items()}
        # Both answer before either 200 reaches the carrier.
        answers = {
            login: phone.answer(invites[login], offer(phone_rtp[login].port, None)) for login, phone in phones.items()
        }

        replies = [carrier.wait_final(call.call_id, "INVITE"), carrier.wait_final(call.call_id, "INVITE")]
        dialogs = {}
        for reply in replies:
            login = uri_of(reply.header("Contact")).split("@")[0].removeprefix("sip:")
            dialogs[login] = dataclasses.replace(call)
            carrier.answered(dialogs[login], reply=reply)
        winner = uri_of(replies[0].header("Contact")).split("@")[0].removeprefix("sip:")
        loser = next(login for login in phones if login != winner)
        for login, phone in phones.items():
            phone.acked(answers[login])

        # The carrier lets the second answer go, as a UA that got two 200s does.
        carrier.hang_up_on(dialogs[loser], phones[loser])

        # The first answer is still a call, its media through rtpengine.
        spoken = [secrets.token_bytes(160) for _ in range(PACKETS)]
        towards = media_of(dialogs[winner].remote_sdp)
        carrier_rtp.send((towards.address, towards.port), spoken)
        heard = phone_rtp[winner].receive(PACKETS, timeout=5)
        assert [payload_of(p) for p in heard] == spoken[-len(heard) :] and len(heard) >= PACKETS - 2

        carrier.hang_up_on(dialogs[winner], phones[winner])
        _no_media_session(ng, call.call_id)
    finally:
        carrier_rtp.close()
        for sock in phone_rtp.values():
            sock.close()


def test_a_cancel_crossing_the_answer_leaves_an_anchored_call_that_ends_cleanly(stack, demo, ng, phones, carrier):
    """The caller hangs up as a phone answers: the CANCEL reaches Kamailio first,
    the 200 right after. The 200 still reaches the caller (2xx are always
    relayed), with rtpengine's SDP: media anchored, and the session ends with
    the caller's BYE."""
    carrier_rtp, phone_rtp = RtpSocket(), RtpSocket()
    try:
        call = carrier.invite(demo["number"], offer(carrier_rtp.port, None), from_user="+79991234567")
        invite = phones["101"].wait_request("INVITE")
        phones["102"].wait_request("INVITE")
        carrier.cancel(call)
        answer = phones["101"].answer(invite, offer(phone_rtp.port, None))

        reply = carrier.wait(
            lambda m: (
                m.is_response and m.cseq_method == "INVITE" and m.status >= 200 and m.header("Call-ID") == call.call_id
            )
        )
        assert reply.status == 200, reply
        anchored = media_of(reply.body)
        assert stack.ports.rtp_min <= anchored.port <= stack.ports.rtp_max, f"media not anchored:\n{reply.body}"
        carrier.answered(call, reply=reply)
        phones["101"].acked(answer)

        spoken = [secrets.token_bytes(160) for _ in range(PACKETS)]
        carrier_rtp.send((anchored.address, anchored.port), spoken)
        assert len(phone_rtp.receive(PACKETS, timeout=5)) >= PACKETS - 2

        carrier.hang_up_on(call, phones["101"])
        _no_media_session(ng, call.call_id)
    finally:
        carrier_rtp.close()
        phone_rtp.close()


def test_a_487_built_from_the_cancel_reaches_the_caller_as_a_proper_487(demo, ng, phones, carrier):
    """Some phones answer a CANCELled INVITE with a 487 that copies the CANCEL's
    single Via instead of the INVITE's. Kamailio answers the caller with its own
    487, carrying the caller's Via, and takes the caller's ACK."""
    for phone in phones.values():
        phone.terminates_with_cancel_vias = True
    call = carrier.invite(demo["number"], offer(9, None), from_user="+79991234567")
    for phone in phones.values():
        phone.wait_request("INVITE")
    carrier.cancel(call)
    for phone in phones.values():
        phone.serve(0.5)  # the CANCEL, answered with the 487 such phones send

    assert call.invite is not None
    reply = carrier.wait_final(call.call_id, "INVITE")
    assert reply.status == 487
    assert reply.all("Via")[0].startswith(call.invite.header("Via").split(";rport")[0]), reply
    carrier.ack_failure(call, reply)
    carrier.serve(0.3)  # retransmissions already on their way when the ACK left
    carrier.received.clear()
    carrier.serve(3)  # past two more of timer G's retransmissions, had the ACK not been taken
    retransmitted = [m for m in carrier.received if m.is_response and m.status >= 200 and m.cseq_method == "INVITE"]
    assert not any(m.header("Call-ID") == call.call_id for m in retransmitted), (
        "the ACK ended the 487's retransmissions"
    )
    _no_media_session(ng, call.call_id)
