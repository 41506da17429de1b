"""Call history survives outages: events Redis cannot take wait on disk, in
order, and every call's line is written once it is back."""

from __future__ import annotations

import re

import pytest

from vpbx.kamailio_adapter.worker import history_spool_path
from vpbx.stack.process import wait_for

from ..scrape import metrics_text
from .calls import history_line
from .sip_ua import Dialog, RtpSocket, UserAgent, offer

CALLS = 4


@pytest.fixture
def phone(sip_phone):
    """Anna (101), who answers whenever she is rung."""
    return sip_phone("101")


def _answered(carrier: UserAgent, phone: UserAgent, number: str, rtp: RtpSocket) -> tuple[Dialog, Dialog]:
    """A carrier call to ``number`` that Anna answers: both ends' dialogs."""
    call = carrier.invite(number, offer(rtp.port, None), from_user="+79991234567")
    answered = phone.answer(phone.wait_request("INVITE"), offer(rtp.port, None))
    carrier.answered(call)
    phone.acked(answered)
    return call, answered


def _call(carrier: UserAgent, phone: UserAgent, number: str) -> str:
    """One carrier call to ``number``, ended whichever way it goes.

    With Redis down each Kamailio worker routes from its own copy of the
    number, which an earlier test may have left elsewhere (voicemail...):
    either way the call must have its history line.
    """
    rtp = RtpSocket()
    try:
        call = carrier.invite(number, offer(rtp.port, None), from_user="+79991234567")
        try:
            invite = phone.wait_request("INVITE", timeout=1.5)
        except AssertionError:  # routed elsewhere: whatever it rings, the caller gives up
            carrier.cancel(call)
            reply = carrier.wait_final(call.call_id, "INVITE")
            if reply.status == 200:  # answered meanwhile (the media app, say): hang up
                carrier.answered(call, reply=reply)
                carrier.hang_up(call)
            else:
                carrier.ack_failure(call, reply)
            return call.call_id
        answered = phone.answer(invite, offer(rtp.port, None))
        carrier.answered(call)
        phone.acked(answered)
        carrier.hang_up_on(call, phone)
        return call.call_id
    finally:
        rtp.close()


def _dropped_events(stack) -> float:
    text = metrics_text(stack)
    match = re.search(r"^vpbx_history_events_dropped_total (\S+)$", text, re.MULTILINE)
    assert match, "the metric is exported"
    return float(match.group(1))


def test_calls_made_or_ended_while_redis_is_down_keep_their_history_lines(
    stack, cfg, api, demo, redis_service, phone, carrier
):
    dropped_before = _dropped_events(stack)
    spool = history_spool_path(cfg)
    rtp = RtpSocket()
    talking, _ = _answered(carrier, phone, demo["number"], rtp)
    assert redis_service.stop()

    carrier.hang_up_on(talking, phone)
    during = [_call(carrier, phone, demo["number"]) for _ in range(CALLS)]
    wait_for(lambda: spool.exists() and spool.stat().st_size > 0, 5, "Kamailio to keep the events on disk")

    redis_service.start()

    assert history_line(api, talking.call_id, timeout=20)["status"] == "answered"  # and ended, during the outage
    for call_id in during:
        history_line(api, call_id, timeout=20)
    wait_for(lambda: not spool.exists(), 5, "the spool to be emptied")
    assert _dropped_events(stack) == dropped_before
    rtp.close()
