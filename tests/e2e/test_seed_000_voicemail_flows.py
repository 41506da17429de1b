"""Seed 000's voicemail flows on real calls:

- a number "by schedule" whose non-working route is an IVR menu where key 1
  leaves a message in the company's voicemail;
- a department that sends callers to its voicemail when nobody answers (R4),
  and one that promises to call them back, and does;
- an employee's voicemail for direct calls they do not answer (R15).
"""

from __future__ import annotations

import time

from vpbx.kamailio_adapter.worker import TEST_CLOCK_KEY
from vpbx.media.nodes.feature import spoken
from vpbx.stack.process import wait_for

from . import sip_log
from .calls import history_line, rung, silent_phone
from .media_caller import ended, heard_as, leave_message, media_call, message_of, phone_media_call
from .rtp import RtpEndpoint
from .sipp import Sipp, free_udp_port

NUMBER = "+74951110088"
CLIENT = "+79161234567"  # the carrier caller's number (scenarios/uac_media.xml)


def _employee(api, extension: str) -> dict:
    return next(e for e in api("GET", "/employees")[1] if e["extension"] == extension)


def test_at_night_the_menu_takes_key_1_to_the_company_voicemail(
    stack, sip_target, db, api, voicemail_box, made, clock, no_registrations
):
    anna = _employee(api, "101")
    company_box = voicemail_box(name="E2E company voicemail")
    night_box = voicemail_box(name="E2E unheard")
    hours = made(
        "/schedules",
        {
            "name": "E2E office",
            "timezone": "Europe/Moscow",
            "weekly": [{"day": d, "start": "09:00", "end": "18:00"} for d in ("mon", "tue", "wed", "thu", "fri")],
        },
    )
    menu = made(
        "/ivr-menus",
        {
            "name": "E2E night menu",
            "timeout": 5,
            "keys": {
                "1": {"kind": "voicemail", "voicemail_box_id": company_box["id"]},
                "timeout": {"kind": "voicemail", "voicemail_box_id": night_box["id"]},
            },
        },
    )
    day = made(
        "/schemes",
        {
            "name": "E2E day",
            "steps": [
                {"mode": "parallel", "timeout": 20, "destinations": [{"kind": "employee", "employee_id": anna["id"]}]}
            ],
        },
    )
    night = made(
        "/schemes",
        {
            "name": "E2E night",
            "steps": [
                {"mode": "parallel", "timeout": 15, "destinations": [{"kind": "ivr", "ivr_menu_id": menu["id"]}]}
            ],
        },
    )
    made(
        "/numbers",
        {
            "number": NUMBER,
            "mode": "by_schedule",
            "schedule_id": hours["id"],
            "scheme_id": day["id"],
            "off_hours_scheme_id": night["id"],
        },
    )
    clock.set(TEST_CLOCK_KEY, "2026-11-23T23:00:00+03:00")  # Monday night

    sipp, audio = media_call(stack, sip_target, NUMBER)
    assert audio.started(within=15) is not None, "the night menu never answered"
    audio.press("1")
    leave_message(audio)
    result = ended(sipp, audio)
    assert result.returncode == 0, result.explain()
    assert message_of(db, sipp.call_id())["voicemail_box_id"] == company_box["id"]
    line = history_line(api, sipp.call_id())
    assert (line["called"], line["status"], line["voicemail"]) == (NUMBER, "missed", True)


def test_a_department_nobody_answers_sends_the_caller_to_its_voicemail(
    stack, sip_target, db, api, demo, voicemail_box, made, register, demo_steps, no_registrations
):
    boris = _employee(api, "102")
    box = voicemail_box(name="E2E sales voicemail")
    sales = made(
        "/departments",
        {
            "name": "E2E sales",
            "distribution": "in_order",
            "ring_time": 5,
            "if_nobody_answers": "voicemail",
            "voicemail_box_id": box["id"],
            "members": [boris["id"]],
        },
    )
    demo_steps(
        {"mode": "parallel", "timeout": 30, "destinations": [{"kind": "department", "department_id": sales["id"]}]}
    )
    phone = silent_phone()
    assert register("102", phone.getsockname()[1])[0] == 200

    sipp, audio = media_call(stack, sip_target, demo["number"])
    try:
        began = time.monotonic()
        answered = audio.started(within=20)
        assert answered is not None, "voicemail never answered"
        leave_message(audio)
        result = ended(sipp, audio)
    finally:
        phone.close()
    assert result.returncode == 0, result.explain()
    assert 4.5 <= answered - began <= 7, answered - began  # Boris rang his 5 s first
    assert message_of(db, sipp.call_id())["voicemail_box_id"] == box["id"]
    line = history_line(api, sipp.call_id())
    assert (line["status"], line["voicemail"]) == ("missed", True)
    assert [leg["target"] for leg in line["legs"]] == ["employee 102 Boris Support", f"voicemail box {box['id']}"]


def test_a_department_nobody_answers_promises_a_callback_then_rings_its_member_and_the_caller(
    stack, cfg, sip_target, api, demo, made, register, demo_steps, outbound_carrier, no_registrations
):
    boris = _employee(api, "102")
    support = made(
        "/departments",
        {
            "name": "E2E call back",
            "distribution": "in_order",
            "ring_time": 5,
            "if_nobody_answers": "call_back_later",
            "members": [boris["id"]],
        },
    )
    demo_steps(
        {"mode": "parallel", "timeout": 30, "destinations": [{"kind": "department", "department_id": support["id"]}]}
    )
    port = free_udp_port()
    assert register("102", port)[0] == 200
    boris_rtp, client_rtp = RtpEndpoint(), RtpEndpoint()
    # Boris lets the caller's call ring out, then takes the callback.
    ringing = Sipp("uas_ring_until_cancelled.xml", port=port, timeout_s=30).start()
    client_phone = Sipp(
        "uas_answer_pcma.xml",
        port=outbound_carrier,
        keys={"rtp_port": client_rtp.port},
        values={"ring_ms": 500},
        timeout_s=90,
        recv_timeout_s=60,
    ).start()
    answering = None
    try:
        sipp, audio = media_call(stack, sip_target, demo["number"])
        began = time.monotonic()
        promise = audio.burst(within=20)
        answered_after = promise.started - began if promise is not None else None
        rang_out = ringing.wait()
        answering = Sipp(
            "uas_answer_pcma_hang_up.xml",
            port=port,
            keys={"rtp_port": boris_rtp.port},
            values={"ring_ms": 300, "talk_ms": 2000},
            timeout_s=90,
            recv_timeout_s=60,
        ).start()
        result = ended(sipp, audio)  # the media app hangs up once the promise is said
        called_back, client = answering.wait(), client_phone.wait()
        line = wait_for(
            lambda: (found := history_line(api, sipp.call_id()))["callback"] and found["callback"]["outcome"] and found,
            15,
            "the callback's outcome in the caller's line",
        )
        callback_line = history_line(api, line["callback"]["call_id"])
    finally:
        ringing.stop()
        client_phone.stop()
        if answering is not None:
            answering.stop()
        boris_rtp.close()
        client_rtp.close()
    for run in (rang_out, result, called_back, client):
        assert run.returncode == 0, run.explain()
    assert promise is not None and answered_after is not None, "the caller heard no promise"
    assert 4.5 <= answered_after <= 8, answered_after  # after the department's 5 s
    assert heard_as(cfg, promise, "department_callback_asked", number=spoken(CLIENT)) > 0.98

    # Boris's phone rang first for the callback, showing the caller's number; then the caller was called.
    invite = sip_log.first(sip_log.received(called_back.messages), "INVITE ")
    assert f"<sip:{CLIENT}@" in sip_log.header(invite, "From")
    to_client = sip_log.first(sip_log.received(client.messages), "INVITE ")
    assert to_client.startswith(f"INVITE sip:{CLIENT}@127.0.0.1:{outbound_carrier} ")

    # The caller's line is missed by the department and names the callback; the call back is Boris's own call.
    assert (line["status"], line["end_reason"]) == ("missed", "no_answer")
    assert (line["callback"]["number"], line["callback"]["outcome"]) == (CLIENT, "answered")
    assert (callback_line["direction"], callback_line["called"], callback_line["status"]) == (
        "outgoing",
        CLIENT,
        "answered",
    )
    assert (callback_line["caller_employee_id"], callback_line["callback_of"]) == (boris["id"], sipp.call_id())


def test_a_direct_call_boris_does_not_answer_goes_to_his_voicemail(
    stack, sip_target, db, api, demo, register, voicemail_box, no_registrations
):
    boris = _employee(api, "102")
    box = voicemail_box(
        name="E2E Boris's voicemail",
        owner_kind="employee",
        owner_id=boris["id"],
        recipients=[{"employee_id": boris["id"]}],
        extra_email=None,
    )
    status, body = api(
        "PATCH",
        f"/employees/{boris['id']}",
        {"no_answer": {"rule": "voicemail", "after": 5, "voicemail_box_id": box["id"]}},
    )
    assert status == 200, body
    phone = silent_phone()
    try:
        assert register("102", phone.getsockname()[1])[0] == 200
        sipp, audio = phone_media_call(sip_target, demo, "101", "102")
        assert audio.started(within=20) is not None, "voicemail never answered"
        assert rung(phone), "Boris's phone did not ring first"
        leave_message(audio)
        result = ended(sipp, audio)
    finally:
        phone.close()
        api("PATCH", f"/employees/{boris['id']}", {"no_answer": {"rule": "busy", "after": 120}})
    assert result.returncode == 0, result.explain()
    message = message_of(db, sipp.call_id())
    assert (message["voicemail_box_id"], message["caller"]) == (box["id"], "101")
    # R19: a voicemail left on a direct call is a call missed by the employee, marked "voicemail".
    line = history_line(api, sipp.call_id())
    assert (line["status"], line["employee_id"], line["voicemail"]) == ("missed", boris["id"], True)
