"""R5: an employee's desk phone rings alone for N seconds, then their mobile rings too."""

from __future__ import annotations

import time

import pytest

from . import sip_log
from .calls import carrier_call, history_line, silent_phone
from .sipp import Sipp, free_udp_port

ANNA_MOBILE = "+79165550101"


@pytest.fixture
def anna_mobile_after(api):
    anna = next(e for e in api("GET", "/employees")[1] if e["extension"] == "101")

    def _set(seconds):
        status, body = api("PATCH", f"/employees/{anna['id']}", {"mobile": ANNA_MOBILE, "mobile_after": seconds})
        assert status == 200, body
        return anna

    yield _set
    status, body = api("PATCH", f"/employees/{anna['id']}", {"mobile_after": None, "mobile": None})
    assert status == 200, body


def test_the_mobile_rings_after_the_desk_phone_rang_alone_and_answers_the_call(
    stack, sip_target, demo, api, register, trunks, anna_mobile_after, no_registrations
):
    anna = anna_mobile_after(5)
    gateway_port = free_udp_port()
    trunks("mobile gateway", address="127.0.0.1", port=gateway_port, outbound=True, priority=10)
    desk = silent_phone()
    assert register("101", desk.getsockname()[1])[0] == 200  # Boris is not registered: only Anna's phones ring
    mobile = Sipp("uas_answer.xml", port=gateway_port, keys={"rtp_port": free_udp_port()}).start()

    caller = carrier_call(stack, sip_target, demo["number"])
    carrier = caller.start()
    desk.settimeout(5)
    assert desk.recv(65535).startswith(b"INVITE sip:101@")
    desk_rung = time.monotonic()
    answered = mobile.wait()
    mobile_done = time.monotonic()
    result = carrier.wait()
    desk.close()

    assert result.returncode == 0, result.explain()
    assert answered.returncode == 0, answered.explain()
    invite = sip_log.first(sip_log.received(answered.messages), "INVITE ")
    assert invite.startswith(f"INVITE sip:{ANNA_MOBILE}@127.0.0.1:{gateway_port} ")
    # The mobile joined after the desk phone's 5 s alone (its call then lasted 0.3 s).
    assert 5 <= mobile_done - desk_rung < 10
    # One scheme step: a call to Anna, answered on her mobile, not a forwarded one.
    line = history_line(api, caller.call_id())
    assert (line["status"], line["employee_id"], line["employee_label"], line["forwarded"]) == (
        "answered",
        anna["id"],
        "mobile of employee 101 Anna Sales",
        False,
    )


def test_mobile_after_needs_a_mobile_number(api):
    boris = next(e for e in api("GET", "/employees")[1] if e["extension"] == "102")

    status, body = api("PATCH", f"/employees/{boris['id']}", {"mobile_after": 10})

    assert status == 422
    assert body["error"]["fields"] == {"mobile_after": ["ringing the mobile needs a mobile number"]}


def test_removing_the_mobile_while_it_is_rung_is_refused_and_changes_nothing(api, anna_mobile_after):
    anna = anna_mobile_after(10)

    status, body = api("PATCH", f"/employees/{anna['id']}", {"mobile": None})

    assert status == 422
    assert body["error"]["fields"] == {"mobile_after": ["ringing the mobile needs a mobile number"]}
    now = api("GET", f"/employees/{anna['id']}")[1]
    assert (now["mobile"], now["mobile_after"]) == (ANNA_MOBILE, 10)
