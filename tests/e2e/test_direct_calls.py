"""Direct calls to an extension follow the employee's no-answer rule (R15,
seed 003), and their history lines follow R19 on real calls: dropped (busy,
or with a message) and forwarded-not-answered are missed by the employee
dialled, forwarded-and-answered is a call to whoever answered. Voicemail
(left, or not) is in test_seed_000_voicemail_flows.py and test_voicemail.py;
a CRM client's call to their manager, then to the next, in
test_responsible_manager.py."""

from __future__ import annotations

import socket

import pytest

from vpbx.stack.process import wait_for

from . import sip_log
from .calls import history_line, phone_call, rtpengine_forgot, rung, silent_phone
from .media_caller import ended, hang_up_after, heard_as, phone_media_call
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
    """Vera (103), created through the API, registered and ready to answer;
    deleted afterwards (which unregisters her phone: the next test's Vera is
    a new employee with the same login)."""
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


def test_forwarded_and_not_answered_is_missed_by_the_employee_dialled(
    sip_target, demo, api, register, colleague, boris_rule, no_registrations
):
    vera, vera_port = colleague
    boris_rule(rule="forward_employee", after=5, employee_id=vera["id"])
    boris = _silent_boris(register)
    # Vera's phone is busy and says why, as most phones do (the phrase's line ends, a Reason header follows).
    vera_busy = Sipp(
        "uas_reject.xml", port=vera_port, values={"code": 486, "phrase": "Busy Here\n      Reason: Q.850;cause=17"}
    ).start()

    caller = phone_call(
        sip_target, demo, "101", "102", "phone_call_rejected.xml", values={"final": 486, "reason": "Q\\.850;cause=17"}
    )
    call = caller.run()
    refused = vera_busy.wait()
    boris.close()

    assert call.returncode == 0, call.explain()
    assert refused.returncode == 0, refused.explain()  # Vera was rung after Boris, and was busy
    # R19: forwarded and not answered is missed by the first employee, the one dialled.
    line = history_line(api, caller.call_id())
    boris_id = next(e["id"] for e in api("GET", "/employees")[1] if e["extension"] == "102")
    assert (line["status"], line["employee_id"], line["forwarded"]) == ("missed", boris_id, True)
    assert [leg["target"] for leg in line["legs"]] == ["employee 102 Boris Support", "employee 103 Vera"]


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


def test_drop_with_a_message_plays_it_then_hangs_up_and_the_call_is_missed_by_the_employee(
    sip_target, cfg, demo, api, register, boris_rule, no_registrations
):
    boris_rule(rule="drop_message", after=5)
    boris = _silent_boris(register)
    sipp, audio = phone_media_call(sip_target, demo, "101", "102")
    heard = audio.burst(within=15)  # after Boris's 5 s
    result = ended(sipp, audio)  # the media app hangs up once the message is played
    assert rung(boris).startswith(b"INVITE sip:102@")
    boris.close()

    assert result.returncode == 0, result.explain()
    assert heard is not None, "no message was played"
    assert heard_as(cfg, heard, "employee_unavailable") > 0.98
    line = history_line(api, sipp.call_id())
    boris_id = next(e["id"] for e in api("GET", "/employees")[1] if e["extension"] == "102")
    assert (line["status"], line["employee_id"], line["end_reason"]) == ("missed", boris_id, "no_answer")


def test_a_forward_with_the_notice_tells_the_caller_then_the_colleague_answers(
    sip_target, cfg, demo, api, register, colleague, boris_rule, no_registrations
):
    vera, vera_port = colleague
    boris_rule(rule="forward_employee", after=5, employee_id=vera["id"], notice="default")
    boris = _silent_boris(register)
    answering = Sipp(
        "uas_answer_pcma.xml", port=vera_port, keys={"rtp_port": free_udp_port()}, values={"ring_ms": 0}
    ).start()
    sipp, audio = phone_media_call(sip_target, demo, "101", "102", ending=hang_up_after(9000))
    heard = audio.burst(within=15)  # the notice, then the ringback
    result = ended(sipp, audio)
    answered = answering.wait()
    boris.close()

    assert result.returncode == 0, result.explain()
    assert answered.returncode == 0, answered.explain()  # Vera answered, and got the BYE once the caller left
    assert heard is not None, "no notice was played"
    assert heard_as(cfg, heard, "forward_notice") > 0.98
    # R19: forwarded and answered is a call to whoever answered.
    line = history_line(api, sipp.call_id())
    assert (line["status"], line["employee_id"], line["forwarded"]) == ("answered", vera["id"], True)
    legs = [(leg["target"], leg["answered"]) for leg in line["legs"]]
    assert legs[0] == ("employee 102 Boris Support", False) and legs[-1] == ("employee 103 Vera", True), legs


def test_a_custom_notice_needs_a_prompt_of_the_company(api, boris_rule, colleague):
    vera, _ = colleague
    boris = next(e for e in api("GET", "/employees")[1] if e["extension"] == "102")
    rule = {"rule": "forward_employee", "after": 10, "employee_id": vera["id"], "notice": "custom"}
    status, body = api("PATCH", f"/employees/{boris['id']}", {"no_answer": rule})
    assert status == 422 and "notice_prompt_id" in str(body["error"]["fields"]), body
    status, body = api("PATCH", f"/employees/{boris['id']}", {"no_answer": {**rule, "notice_prompt_id": 999999}})
    assert status == 422 and "no prompt 999999 in this company" in str(body["error"]["fields"]), body
    # A notice belongs to forwards only: any other rule stores none.
    status, body = api("PATCH", f"/employees/{boris['id']}", {"no_answer": {"rule": "busy", "notice": "default"}})
    assert status == 200 and body["no_answer"]["notice"] == "none", body


def test_a_caller_who_hangs_up_while_being_put_through_to_the_other_law_leaves_no_line_up(
    sip_target, demo, api, ng, register, colleague, boris_rule, no_registrations
):
    """Vera's phone speaks PCMU: the caller (PCMA) is re-INVITEd to be put
    through, and hangs up instead of answering it. Vera gets her BYE at once,
    not when the re-INVITE times out 32 s later."""
    vera, vera_port = colleague
    boris_rule(rule="forward_employee", after=5, employee_id=vera["id"], notice="default")
    boris = _silent_boris(register)
    answering = Sipp("uas_answer.xml", port=vera_port, keys={"rtp_port": free_udp_port()}, recv_timeout_s=10).start()
    sipp, audio = phone_media_call(sip_target, demo, "101", "102", ending=hang_up_after(9000))
    result = ended(sipp, audio)
    answered = answering.wait()
    boris.close()

    assert result.returncode == 0, result.explain()
    assert answered.returncode == 0, answered.explain()  # the BYE came within SIPp's 10 s
    wait_for(lambda: rtpengine_forgot(ng, sipp.call_id()), 5, "rtpengine to forget the call")
