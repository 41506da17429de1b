"""Click-to-call (POST /api/v1/calls): the employee's phone rings first,
showing the client's number; once they answer, the client is called through
the outbound trunk as the employee's own outgoing call; the two talk through
rtpengine, and history keeps one outgoing line."""

from __future__ import annotations

import time

import pytest

from vpbx.stack.process import wait_for

from . import sip_log
from .calls import history_line, rtpengine_forgot, rung, silent_phone
from .rtp import RtpEndpoint
from .sipp import Sipp, free_udp_port

CLIENT = "+79161234567"
PACKETS = 25


@pytest.fixture
def anna(api):
    return next(e for e in api("GET", "/employees")[1] if e["extension"] == "101")


def _first_packet_source(endpoint: RtpEndpoint, timeout: float) -> tuple[str, int] | None:
    got = endpoint.receive(1, timeout)
    return got[0][1] if got else None


def _heard_from(endpoint: RtpEndpoint, ssrc: int, within: float) -> list[tuple[bytes, tuple[str, int]]]:
    """Packets of the stream ``ssrc`` that reached ``endpoint`` within ``within`` s."""
    deadline = time.monotonic() + within
    heard = []
    while time.monotonic() < deadline and len(heard) < PACKETS:
        heard += [(p, a) for p, a in endpoint.receive(PACKETS, 0.2) if RtpEndpoint.ssrc_of(p) == ssrc]
    return heard


def test_click_to_call_rings_the_employee_then_the_client_and_both_talk(
    stack, api, ng, sip_target, demo, register, no_registrations, outbound_carrier, anna
):
    employee_rtp, client_rtp = RtpEndpoint(), RtpEndpoint()
    phone_port = free_udp_port()
    assert register("101", phone_port)[0] == 200
    phone = Sipp(
        "uas_answer_pcma_hang_up.xml",
        port=phone_port,
        keys={"rtp_port": employee_rtp.port},
        values={"ring_ms": 300, "talk_ms": 6000},
        timeout_s=40,
        recv_timeout_s=20,
    ).start()
    client = Sipp(
        "uas_answer_pcma.xml",
        port=outbound_carrier,
        keys={"rtp_port": client_rtp.port},
        values={"ring_ms": 1000},
        timeout_s=40,
        recv_timeout_s=20,
    ).start()
    try:
        status, placed = api("POST", "/calls", {"employee_id": anna["id"], "number": "8 916 123-45-67"})
        assert status == 202, placed
        assert (placed["employee_id"], placed["number"]) == (anna["id"], CLIENT)

        # While the client rings, the employee hears ringback from rtpengine's port for them.
        toward_employee = _first_packet_source(employee_rtp, timeout=10)
        assert toward_employee is not None, "the employee heard nothing while the client rang"
        # Once the client answered, what the employee says reaches the client, and back.
        deadline = time.monotonic() + 10
        heard_by_client: list = []
        while not heard_by_client and time.monotonic() < deadline:
            employee_rtp.send(toward_employee, 5)
            heard_by_client = _heard_from(client_rtp, employee_rtp.ssrc, within=0.3)
        assert heard_by_client, "the client never heard the employee"
        toward_client = heard_by_client[0][1]
        client_rtp.send(toward_client, PACKETS)
        heard_by_employee = _heard_from(employee_rtp, client_rtp.ssrc, within=3)
    finally:
        phone_result, client_result = phone.wait(), client.wait()
        employee_rtp.close()
        client_rtp.close()

    assert phone_result.returncode == 0, phone_result.explain()  # the employee hung up...
    assert client_result.returncode == 0, client_result.explain()  # ...and the client got the BYE
    assert len(heard_by_employee) == PACKETS
    assert {source for _, source in heard_by_employee} == {toward_employee}

    to_employee = sip_log.first(sip_log.received(phone_result.messages), "INVITE ")
    to_client = sip_log.first(sip_log.received(client_result.messages), "INVITE ")
    # The employee's display shows the client; the client sees the company number.
    assert f"<sip:{CLIENT}@demo.vpbx.test>" in sip_log.header(to_employee, "From")
    assert to_client.startswith(f"INVITE sip:{CLIENT}@127.0.0.1:{outbound_carrier} ")
    shown = f"<sip:{demo['number']}@demo.vpbx.test>"
    assert sip_log.header(to_client, "P-Asserted-Identity") == shown
    # Neither side learns the other's media address: both talk to rtpengine.
    assert sip_log.sdp_media(to_client)[1] != employee_rtp.port
    assert sip_log.sdp_media(to_employee)[1] != client_rtp.port

    line = history_line(api, placed["call_id"])
    assert (line["direction"], line["called"], line["status"], line["caller_employee_id"], line["caller_id"]) == (
        "outgoing",
        CLIENT,
        "answered",
        anna["id"],
        demo["number"],
    )
    assert line["answered_at"] and line["ended_at"]
    rtpengine_call = sip_log.header(to_employee, "Call-ID")

    wait_for(lambda: rtpengine_forgot(ng, rtpengine_call), 5, "the click-to-call's rtpengine call to be deleted")


def test_an_employee_who_declines_rings_no_client_and_history_keeps_the_missed_line(
    api, sip_target, register, no_registrations, outbound_carrier, anna
):
    phone_port = free_udp_port()
    assert register("101", phone_port)[0] == 200
    phone = Sipp("uas_reject.xml", port=phone_port, values={"code": 486, "phrase": "Busy Here"}).start()
    carrier = silent_phone(outbound_carrier)
    try:
        status, placed = api("POST", "/calls", {"number": CLIENT})  # the token's own employee: Anna
        assert status == 202, placed
        assert placed["employee_id"] == anna["id"]
        declined = phone.wait()
        line = history_line(api, placed["call_id"])
        assert rung(carrier) is None, "the client was rung though the employee declined"
    finally:
        carrier.close()
    assert declined.returncode == 0, declined.explain()
    assert (line["direction"], line["called"], line["status"], line["caller_employee_id"]) == (
        "outgoing",
        CLIENT,
        "missed",
        anna["id"],
    )


def test_click_to_call_to_a_number_the_employee_may_not_call_is_refused(api, anna):
    assert api("PATCH", f"/employees/{anna['id']}", {"outgoing_calls": "national"})[0] == 200
    try:
        status, body = api("POST", "/calls", {"employee_id": anna["id"], "number": "+442079460000"})
    finally:
        api("PATCH", f"/employees/{anna['id']}", {"outgoing_calls": anna["outgoing_calls"]})
    assert status == 403 and "international" in body["error"]["fields"]["number"][0], body

    status, body = api("POST", "/calls", {"employee_id": anna["id"], "number": "112"})
    assert status == 422 and "number" in body["error"]["fields"], body
