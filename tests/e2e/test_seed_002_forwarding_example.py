"""Seed 002's example forwarding scheme, built through the API and run on real calls:

1. The working week is Monday to Friday, 9:00 to 18:00.
2. Out of hours, callers go to voicemail.
3. In hours the sales manager's SIP account rings for 35 s; if they do not
   answer, the head of sales' mobile rings through the carrier; if nobody
   answers, voicemail takes the call.

Plus the variant the seed's scheme editor offers beside it: the manager and
the head's mobile ringing at once.
"""

from __future__ import annotations

import socket
import time

import pytest

from vpbx.kamailio_adapter.worker import TEST_CLOCK_KEY

from . import sip_log
from .calls import carrier_call, history_line, silent_phone
from .media_caller import ended, leave_message, media_call, message_of
from .sipp import Sipp, free_udp_port

NUMBER = "+74951110202"
HEAD_MOBILE = "+79031110202"
MONDAY_NOON = "2026-11-23T12:00:00+03:00"
MONDAY_NIGHT = "2026-11-23T21:00:00+03:00"


@pytest.fixture
def sales(api, voicemail_box, trunks, made, sip_target):
    """The seed's company: the manager (a registered SIP account that never
    answers, a socket the test reads), the head of sales (their mobile, on the
    carrier), the company voicemail, the office hours and the number."""
    manager = made("/employees", {"name": "Sales Manager", "extension": "121", "send_welcome_email": False})
    made("/employees", {"name": "Head of Sales", "extension": "122", "mobile": HEAD_MOBILE})
    phone = silent_phone()
    registration = Sipp(
        "register.xml",
        port=free_udp_port(),
        remote=sip_target,
        service=manager["sip_login"],
        auth=(manager["sip_login"], manager["sip_password"]),
        keys={"domain": manager_domain(api), "contact_port": phone.getsockname()[1]},
    ).run()
    assert sip_log.status(sip_log.received(registration.messages)[-1]) == 200
    carrier_port = free_udp_port()
    trunks("seed 002 carrier", address="127.0.0.1", port=carrier_port, outbound=True, priority=10)
    box = voicemail_box(name="Seed 002 voicemail")
    hours = made(
        "/schedules",
        {
            "name": "Seed 002 office",
            "timezone": "Europe/Moscow",
            "weekly": [{"day": d, "start": "09:00", "end": "18:00"} for d in ("mon", "tue", "wed", "thu", "fri")],
        },
    )
    voicemail = {"kind": "voicemail", "voicemail_box_id": box["id"]}
    night = made("/schemes", {"name": "Seed 002 out of hours", "steps": [_step(15, voicemail)]})

    def number(*steps) -> dict:
        day = made("/schemes", {"name": f"Seed 002 hours {len(steps)}", "steps": list(steps)})
        return made(
            "/numbers",
            {
                "number": NUMBER,
                "mode": "by_schedule",
                "schedule_id": hours["id"],
                "scheme_id": day["id"],
                "off_hours_scheme_id": night["id"],
            },
        )

    yield {"manager": manager, "phone": phone, "carrier_port": carrier_port, "box": box, "number": number}
    phone.close()


def manager_domain(api) -> str:
    return api("GET", "/company")[1]["sip_domain"]


def _step(timeout: int, *destinations: dict) -> dict:
    return {"mode": "parallel", "timeout": timeout, "destinations": list(destinations)}


def _rung_at(phone: socket.socket, within: float) -> float:
    """When the silent phone got its INVITE."""
    phone.settimeout(within)
    assert phone.recv(65535).startswith(b"INVITE "), "the manager's phone was not rung"
    return time.monotonic()


def test_in_hours_the_manager_rings_35_s_then_the_heads_mobile_then_voicemail(
    stack, sip_target, db, api, sales, clock, no_registrations
):
    manager = {"kind": "employee", "employee_id": sales["manager"]["id"]}
    mobile = {"kind": "phone_number", "number": HEAD_MOBILE}
    sales["number"](
        _step(35, manager), _step(20, mobile), _step(15, {"kind": "voicemail", "voicemail_box_id": sales["box"]["id"]})
    )
    clock.set(TEST_CLOCK_KEY, MONDAY_NOON)
    # The head is on another call: their carrier answers busy, and voicemail follows at once.
    head = Sipp(
        "uas_reject.xml", port=sales["carrier_port"], values={"code": 486, "phrase": "Busy Here"}, timeout_s=90
    ).start()

    sipp, audio = media_call(stack, sip_target, NUMBER)
    manager_rung = _rung_at(sales["phone"], 10)
    greeting = audio.started(within=50)
    assert greeting is not None, "voicemail never answered"
    leave_message(audio)
    result = ended(sipp, audio)
    asked_head = head.wait()

    assert result.returncode == 0, result.explain()
    assert asked_head.returncode == 0, asked_head.explain()
    assert sip_log.first(sip_log.received(asked_head.messages), "INVITE ").startswith(f"INVITE sip:{HEAD_MOBILE}@")
    # The manager's 35 s (as the test reads the sockets: to within tens of ms), then
    # the busy mobile: voicemail within a few seconds of it.
    assert 34.5 <= greeting - manager_rung < 42, greeting - manager_rung
    assert message_of(db, sipp.call_id())["voicemail_box_id"] == sales["box"]["id"]
    line = history_line(api, sipp.call_id())
    assert (line["status"], line["voicemail"]) == ("missed", True)
    assert [leg["target"] for leg in line["legs"]][:2] == ["employee 121 Sales Manager", f"phone {HEAD_MOBILE}"]


def test_out_of_hours_the_call_goes_straight_to_voicemail(stack, sip_target, db, api, sales, clock, no_registrations):
    manager = {"kind": "employee", "employee_id": sales["manager"]["id"]}
    sales["number"](_step(35, manager))
    clock.set(TEST_CLOCK_KEY, MONDAY_NIGHT)

    sipp, audio = media_call(stack, sip_target, NUMBER)
    assert audio.started(within=5) is not None, "voicemail did not answer at once"
    leave_message(audio)
    result = ended(sipp, audio)

    assert result.returncode == 0, result.explain()
    sales["phone"].settimeout(0)
    with pytest.raises(BlockingIOError):
        sales["phone"].recv(65535)  # nobody was rung
    assert message_of(db, sipp.call_id())["voicemail_box_id"] == sales["box"]["id"]
    assert history_line(api, sipp.call_id())["voicemail"] is True


def test_the_parallel_variant_rings_both_and_the_head_who_answers_takes_the_call(
    stack, sip_target, api, sales, clock, no_registrations
):
    manager = {"kind": "employee", "employee_id": sales["manager"]["id"]}
    mobile = {"kind": "phone_number", "number": HEAD_MOBILE}
    sales["number"](_step(35, manager, mobile))
    clock.set(TEST_CLOCK_KEY, MONDAY_NOON)
    head = Sipp("uas_answer.xml", port=sales["carrier_port"], keys={"rtp_port": free_udp_port()}).start()

    caller = carrier_call(stack, sip_target, NUMBER, duration_ms=1000)
    result = caller.run()
    answered = head.wait()

    assert result.returncode == 0, result.explain()
    assert answered.returncode == 0, answered.explain()
    _rung_at(sales["phone"], 1)  # rung at once too, and cancelled
    line = history_line(api, caller.call_id())
    assert (line["status"], line["employee_label"], line["trunk"]) == (
        "answered",
        f"phone {HEAD_MOBILE}",
        "seed 002 carrier",
    )
    assert {leg["step"] for leg in line["legs"]} == {1}
