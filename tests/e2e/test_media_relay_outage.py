"""rtpengine down: calls are refused at once and clearly, never sent on with
the caller's own SDP (its media would bypass NAT handling, and SRTP keys could
leave over UDP); anchored again as soon as rtpengine is back."""

from __future__ import annotations

from vpbx.stack.process import wait_for

from .calls import history_line
from .sip_ua import UserAgent, media_of, offer


def _call(carrier: UserAgent, phone: UserAgent, number: str):
    """A carrier call, hung up if the phone rings: (the carrier's final answer
    or the INVITE the phone got, the call)."""
    call = carrier.invite(number, offer(9, None), from_user="+79991234567")
    for _ in range(100):
        try:
            reply = carrier.wait_final(call.call_id, "INVITE", timeout=0.05)
        except AssertionError:
            pass
        else:
            carrier.ack_failure(call, reply)
            return reply, call
        try:
            invite = phone.wait_request("INVITE", timeout=0.05)
        except AssertionError:
            continue
        answered = phone.answer(invite, offer(9, None))
        carrier.answered(call)
        phone.acked(answered)
        carrier.hang_up_on(call, phone)
        return invite, call
    raise AssertionError(f"call {call.call_id}: neither refused nor rung within 10 s")


def test_calls_are_refused_with_503_while_rtpengine_is_down_and_anchored_once_it_is_back(
    stack, api, demo, carrier, sip_phone, rtpengine
):
    phone = sip_phone("101")
    assert rtpengine.stop()

    refused, call = _call(carrier, phone, demo["number"])

    assert refused.status == 503, refused
    assert 'cause=47;text="Media relay unavailable"' in refused.header("Reason")
    assert history_line(api, call.call_id, ended=False)["status"] == "missed"

    rtpengine.start()
    invite, _ = wait_for(
        lambda: (got := _call(carrier, phone, demo["number"]))[0].start.startswith("INVITE") and got,
        10,
        "a call to ring the phone again",
    )
    anchored = media_of(invite.body)
    assert stack.ports.rtp_min <= anchored.port <= stack.ports.rtp_max
