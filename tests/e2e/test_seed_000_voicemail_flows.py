"""Seed 000's voicemail flows on real calls:

- a number "by schedule" whose non-working route is an IVR menu where key 1
  leaves a message in the company's voicemail;
- a department that sends callers to its voicemail when nobody answers (R4);
- an employee's voicemail for direct calls they do not answer (R15).
"""

from __future__ import annotations

import time

from vpbx.kamailio_adapter.worker import TEST_CLOCK_KEY

from .calls import history_line, rung, silent_phone
from .media_caller import ended, leave_message, media_call, message_of, phone_media_call

NUMBER = "+74951110088"


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
