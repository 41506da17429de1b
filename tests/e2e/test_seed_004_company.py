"""Seed 004's company set-up, built through the API and run on real calls:

- an employee on vacation is skipped by their department's call (R3);
- a number that follows the company's work schedule, not one of its own
  (out of hours: voicemail at once);
- in hours, a scheme outside its own active hours gives way to its backup (R9).

The self-service menu whose default route is taken after 5 s without a key is
test_ivr.py's; roles are tests/integration/api/test_roles.py's; the new
employee's email is test_welcome_email.py's.
"""

from __future__ import annotations

import pytest

from vpbx.kamailio_adapter.worker import TEST_CLOCK_KEY

from .. import clock as test_clock
from .calls import carrier_call, history_line, rung, silent_phone
from .media_caller import ended, leave_message, media_call, message_of
from .sipp import Sipp, free_udp_port

NUMBER = "+74951110404"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
MONDAY_AFTERNOON = "2026-11-23T15:00:00+03:00"
MONDAY_NIGHT = "2026-11-23T21:00:00+03:00"


def _employee(api, extension: str) -> dict:
    return next(e for e in api("GET", "/employees")[1] if e["extension"] == extension)


def _steps(timeout: int, *destinations: dict) -> list[dict]:
    return [{"mode": "parallel", "timeout": timeout, "destinations": list(destinations)}]


def _answering(register, login: str) -> Sipp:
    port = free_udp_port()
    assert register(login, port)[0] == 200
    return Sipp("uas_answer.xml", port=port, keys={"rtp_port": free_udp_port()}).start()


def test_the_department_skips_an_employee_on_vacation(stack, sip_target, api, made, register, no_registrations):
    anna, boris = _employee(api, "101"), _employee(api, "102")
    made(
        f"/employees/{anna['id']}/absences",
        {"kind": "vacation", "start": test_clock.day(-1).isoformat(), "end": test_clock.day(1).isoformat()},
    )
    support = made(
        "/departments",
        {"name": "Seed 004 support", "distribution": "all_at_once", "members": [anna["id"], boris["id"]]},
    )
    scheme = made(
        "/schemes",
        {"name": "Seed 004 support line", "steps": _steps(20, {"kind": "department", "department_id": support["id"]})},
    )
    made("/numbers", {"number": NUMBER, "scheme_id": scheme["id"]})  # 24/7
    anna_phone = silent_phone()
    assert register("101", anna_phone.getsockname()[1])[0] == 200
    boris_phone = _answering(register, "102")

    caller = carrier_call(stack, sip_target, NUMBER)
    call = caller.run()
    answered = boris_phone.wait()

    assert call.returncode == 0, call.explain()
    assert answered.returncode == 0, answered.explain()
    assert rung(anna_phone) is None  # on vacation: not rung
    anna_phone.close()
    line = history_line(api, caller.call_id())
    assert (line["status"], line["employee_id"]) == ("answered", boris["id"])
    assert [leg["target"] for leg in line["legs"]] == ["employee 102 Boris Support"]


@pytest.fixture
def company_hours(api, made):
    """The company's work schedule, Monday to Friday 9 to 18 in Moscow; the company's own afterwards."""
    before = api("GET", "/company")[1]["schedule_id"]
    hours = made(
        "/schedules",
        {
            "name": "Seed 004 company hours",
            "timezone": "Europe/Moscow",
            "weekly": [{"day": d, "start": "09:00", "end": "18:00"} for d in WEEKDAYS],
        },
    )
    status, body = api("PATCH", "/company", {"schedule_id": hours["id"]})
    assert status == 200, body
    yield hours
    api("PATCH", "/company", {"schedule_id": before})


@pytest.fixture
def by_company_schedule(api, voicemail_box, made, company_hours):
    """The number: by the company's schedule; in hours a morning scheme
    (Anna, active 9 to 13) whose backup rings Boris; out of hours voicemail."""
    anna, boris = _employee(api, "101"), _employee(api, "102")
    mornings = made(
        "/schedules",
        {
            "name": "Seed 004 mornings",
            "timezone": "Europe/Moscow",
            "weekly": [{"day": d, "start": "09:00", "end": "13:00"} for d in WEEKDAYS],
        },
    )
    afternoon = made(
        "/schemes",
        {"name": "Seed 004 afternoon", "steps": _steps(20, {"kind": "employee", "employee_id": boris["id"]})},
    )
    morning = made(
        "/schemes",
        {
            "name": "Seed 004 morning",
            "steps": _steps(20, {"kind": "employee", "employee_id": anna["id"]}),
            "active_schedule_id": mornings["id"],
            "backup_scheme_id": afternoon["id"],
        },
    )
    box = voicemail_box(name="Seed 004 after hours")
    closed = made(
        "/schemes",
        {"name": "Seed 004 closed", "steps": _steps(15, {"kind": "voicemail", "voicemail_box_id": box["id"]})},
    )
    number = made(
        "/numbers",
        {"number": NUMBER, "mode": "by_schedule", "scheme_id": morning["id"], "off_hours_scheme_id": closed["id"]},
    )
    assert number["schedule_id"] is None  # the company's schedule decides
    return {"box": box, "boris": boris}


def test_in_the_afternoon_the_morning_scheme_gives_way_to_its_backup(
    stack, sip_target, api, by_company_schedule, clock, register, no_registrations
):
    clock.set(TEST_CLOCK_KEY, MONDAY_AFTERNOON)
    anna_phone = silent_phone()
    assert register("101", anna_phone.getsockname()[1])[0] == 200
    boris_phone = _answering(register, "102")

    caller = carrier_call(stack, sip_target, NUMBER)
    call = caller.run()
    answered = boris_phone.wait()

    assert call.returncode == 0, call.explain()
    assert answered.returncode == 0, answered.explain()
    assert rung(anna_phone) is None
    anna_phone.close()
    line = history_line(api, caller.call_id())
    assert (line["status"], line["employee_id"]) == ("answered", by_company_schedule["boris"]["id"])
    status, route = api("GET", f"/numbers/{NUMBER}/route?at=2026-11-23T15:00:00%2B03:00")
    assert status == 200 and route["scheme"]["chosen_as"] == "backup", route


def test_after_the_companys_hours_the_number_goes_to_voicemail_at_once(
    stack, sip_target, db, api, by_company_schedule, clock
):
    clock.set(TEST_CLOCK_KEY, MONDAY_NIGHT)

    sipp, audio = media_call(stack, sip_target, NUMBER)
    assert audio.started(within=5) is not None, "voicemail did not answer at once"
    leave_message(audio)
    result = ended(sipp, audio)

    assert result.returncode == 0, result.explain()
    assert message_of(db, sipp.call_id())["voicemail_box_id"] == by_company_schedule["box"]["id"]
