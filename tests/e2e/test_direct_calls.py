"""Direct calls to an extension follow the employee's no-answer rule (R15)."""

from __future__ import annotations

import socket

import pytest

from . import sip_log
from .calls import history_line, phone_call, rung, silent_phone
from .sipp import Sipp, free_udp_port


@pytest.fixture
def boris_rule(api):
    """Set Boris's (102) no-answer rule for a test; back to the default afterwards."""
    boris = next(e for e in api("GET", "/employees")[1] if e["extension"] == "102")

    def _set(**rule):
        status, body = api("PATCH", f"/employees/{boris['id']}", {"no_answer": rule})
        assert status == 200, body

    yield _set
    api("PATCH", f"/employees/{boris['id']}", {"no_answer": {"rule": "busy", "after": 120}})


@pytest.fixture
def colleague(api, sip_target):
    """Vera (103), created through the API, registered and ready to answer."""
    status, vera = api("POST", "/employees", {"name": "Vera", "extension": "103", "email": "vera@example.com"})
    assert status == 201, vera
    port = free_udp_port()
    registration = Sipp(
        "register.xml",
        port=free_udp_port(),
        remote=sip_target,
        service="103",
        auth=("103", vera["sip_password"]),
        keys={"domain": "demo.vpbx.test", "contact_port": port},
    ).run()
    assert sip_log.status(sip_log.received(registration.messages)[-1]) == 200
    yield vera, port
    status, body = api("DELETE", f"/employees/{vera['id']}")
    assert status == 204, body


def _silent_boris(register) -> socket.socket:
    sock = silent_phone()
    assert register("102", sock.getsockname()[1])[0] == 200
    return sock


def test_no_answer_forwards_to_the_colleague_the_rule_names(
    sip_target, demo, api, register, colleague, boris_rule, no_registrations
):
    # colleague before boris_rule: Boris's rule is reset before Vera is deleted.
    vera, vera_port = colleague
    boris_rule(rule="forward_employee", after=5, employee_id=vera["id"])
    boris = _silent_boris(register)
    answering = Sipp("uas_answer.xml", port=vera_port, keys={"rtp_port": free_udp_port()}).start()

    caller = phone_call(sip_target, demo, "101", "102", duration_ms=300)
    call = caller.run()
    call_id = caller.call_id()
    answered = answering.wait()

    assert call.returncode == 0, call.explain()
    assert answered.returncode == 0, answered.explain()
    assert rung(boris).startswith(b"INVITE sip:102@")  # Boris was rung first
    boris.close()
    assert sip_log.first(sip_log.received(answered.messages), "INVITE ").startswith(
        f"INVITE sip:103@127.0.0.1:{vera_port}"
    )
    # R19: forwarded and answered is a call to whoever answered.
    line = history_line(api, call_id)
    assert (line["status"], line["employee_id"], line["forwarded"]) == ("answered", vera["id"], True)
    assert [(leg["target"], leg["answered"]) for leg in line["legs"]] == [
        ("employee 102 Boris Support", False),
        ("employee 103 Vera", True),
    ]
    assert line["legs"][1]["rang_at"] >= line["legs"][0]["rang_at"]
    assert line["direction"] == "internal" and line["called"] == "102"


def test_no_answer_by_default_ends_busy_with_the_reason(sip_target, demo, api, register, boris_rule, no_registrations):
    boris_rule(rule="busy", after=5)
    boris = _silent_boris(register)

    caller = phone_call(
        sip_target, demo, "101", "102", "phone_call_rejected.xml", values={"final": 486, "reason": "Q\\.850;cause=17"}
    )
    call = caller.run()
    boris.close()

    assert call.returncode == 0, call.explain()
    reply = sip_log.first(sip_log.received(call.messages), "SIP/2.0 486")
    assert sip_log.header(reply, "Reason") == 'Q.850;cause=17;text="User busy"'
    # R19: dropped is a call missed by the employee dialled.
    line = history_line(api, caller.call_id())
    boris_id = next(e["id"] for e in api("GET", "/employees")[1] if e["extension"] == "102")
    assert (line["status"], line["employee_id"], line["end_reason"], line["forwarded"]) == (
        "missed",
        boris_id,
        "no_answer",
        False,
    )
    assert line["caller_employee_id"] == next(e["id"] for e in api("GET", "/employees")[1] if e["extension"] == "101")
