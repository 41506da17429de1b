"""Feature codes dialled from a phone (README, "Feature codes"): the media app
answers, says what it did, and the next calls follow it: do-not-disturb skips
the employee in a department, forward-all sends a direct call out through the
trunk, *97 plays the employee's voicemail; an unknown code is refused with
the reason."""

from __future__ import annotations

import pytest

from . import sip_log
from .calls import carrier_call, employee, history_line, parallel, phone_call, rung, silent_phone
from .media_caller import WAIT_FOR_HANGUP, ended, media_call, message_of, phone_media_call, tone_heard
from .rtp import RtpEndpoint
from .sipp import Sipp, free_udp_port

AGENTS = ("371", "372")
# The tone a caller leaves as a message: no voice prompt holds it for a second.
MESSAGE_TONE_HZ = 1000


@pytest.fixture
def agents(api, register):
    """Two employees made through the API, each registered at a silent contact: [(employee, socket)]."""
    made = []
    for extension in AGENTS:
        status, agent = api(
            "POST",
            "/employees",
            {"name": f"Agent {extension}", "extension": extension, "email": f"agent{extension}@example.com"},
        )
        assert status == 201, agent
        phone = silent_phone()
        made.append((agent, phone))
        assert register(extension, phone.getsockname()[1], password=agent["sip_password"])[0] == 200
    yield made
    for agent, phone in made:
        phone.close()
        api("DELETE", f"/employees/{agent['id']}")


def _dial_code(sip_target, demo, agent: dict, code: str) -> None:
    """The agent dials a feature code, hears the media app say what it did, and is hung up on."""
    sipp, audio = phone_media_call(
        sip_target, demo, agent["extension"], code, WAIT_FOR_HANGUP, password=agent["sip_password"]
    )
    said = audio.burst(within=20)
    result = ended(sipp, audio)
    assert said is not None and said.seconds > 0.8, f"nothing was said after {code}"
    assert result.returncode == 0, result.explain()  # the media app hung up once it had said it


def test_dnd_by_feature_code_skips_the_employee_in_a_department_until_turned_off(
    stack, api, sip_target, demo, demo_steps, agents
):
    (a, a_phone), (b, b_phone) = agents
    status, sales = api(
        "POST",
        "/departments",
        {"name": "DND sales", "distribution": "all_at_once", "ring_time": 10, "members": [a["id"], b["id"]]},
    )
    assert status == 201, sales
    # B answers both calls at the contact it registered.
    b_port = b_phone.getsockname()[1]
    b_phone.close()
    b_answers = Sipp("uas_answer.xml", port=b_port, calls=2, keys={"rtp_port": free_udp_port()}).start()
    try:
        demo_steps(parallel({"kind": "department", "department_id": sales["id"]}, timeout=15))

        _dial_code(sip_target, demo, a, "*78")
        assert api("GET", f"/employees/{a['id']}")[1]["dnd"] is True
        explained = api("GET", f"/numbers/{demo['number']}/route")[1]
        skipped = f"skip employee {a['extension']} Agent {a['extension']}: on do-not-disturb"
        assert any(r.endswith(skipped) for r in explained["reasons"]), explained["reasons"]
        first_call = carrier_call(stack, sip_target, demo["number"])
        first = first_call.run()
        assert first.returncode == 0, first.explain()
        assert rung(a_phone) is None, "a phone on do-not-disturb rang"

        _dial_code(sip_target, demo, a, "*79")
        assert api("GET", f"/employees/{a['id']}")[1]["dnd"] is False
        second = carrier_call(stack, sip_target, demo["number"]).run()
        assert second.returncode == 0, second.explain()
        assert rung(a_phone) is not None, "do-not-disturb is off, yet the phone did not ring"
        assert b_answers.wait().returncode == 0
        assert history_line(api, first_call.call_id())["employee_id"] == b["id"]
    finally:
        b_answers.stop()
        demo_steps(parallel(employee(api, "101")))  # the scheme lets go of the department
        assert api("DELETE", f"/departments/{sales['id']}")[0] == 204


def test_forward_all_by_feature_code_sends_a_direct_call_out_through_the_trunk(
    api, sip_target, demo, agents, outbound_carrier
):
    (a, a_phone), _ = agents

    _dial_code(sip_target, demo, a, "*7289161234567")
    assert api("GET", f"/employees/{a['id']}")[1]["forward_all"] == "+79161234567"

    callee = Sipp("uas_answer.xml", port=outbound_carrier, keys={"rtp_port": free_udp_port()}).start()
    caller_rtp = RtpEndpoint()
    caller = phone_call(sip_target, demo, "101", a["extension"], rtp_port=caller_rtp.port, duration_ms=500)
    called = caller.run()
    answered = callee.wait()
    caller_rtp.close()
    assert called.returncode == 0, called.explain()
    assert answered.returncode == 0, answered.explain()
    invite = sip_log.first(sip_log.received(answered.messages), "INVITE ")
    assert invite.startswith(f"INVITE sip:+79161234567@127.0.0.1:{outbound_carrier} ")
    assert rung(a_phone) is None, "the desk phone rang though every call is forwarded"
    line = history_line(api, caller.call_id())
    assert (line["direction"], line["called"], line["status"]) == ("internal", a["extension"], "answered")

    _dial_code(sip_target, demo, a, "*73")
    assert api("GET", f"/employees/{a['id']}")[1]["forward_all"] is None


def test_forward_all_to_a_number_the_employee_may_not_call_is_refused(api, sip_target, demo, agents):
    (a, _), _ = agents
    assert api("PATCH", f"/employees/{a['id']}", {"outgoing_calls": "national"})[0] == 200

    refused = _refused(sip_target, demo, a, "*72810442079460000", 403)

    assert refused == "Outgoing calls to international numbers are not permitted"
    assert api("GET", f"/employees/{a['id']}")[1]["forward_all"] is None
    status, body = api("PATCH", f"/employees/{a['id']}", {"forward_all": "+442079460000"})
    assert status == 422 and "forward_all" in body["error"]["fields"], body


def test_an_unknown_feature_code_is_refused_with_404_and_the_reason(sip_target, demo, agents):
    (a, _), _ = agents
    assert _refused(sip_target, demo, a, "*55", 404) == "No such feature code"


def _refused(sip_target, demo, agent: dict, dialled: str, final: int) -> str:
    """The Reason's text of the ``final`` failure a phone got for ``dialled``."""
    result = Sipp(
        "phone_call_rejected.xml",
        port=free_udp_port(),
        remote=sip_target,
        service=dialled,
        auth=(agent["extension"], agent["sip_password"]),
        keys={"caller": agent["extension"], "domain": demo["accounts"][0]["domain"], "rtp_port": free_udp_port()},
        values={"final": final, "reason": "Q\\.850;cause="},
    ).run()
    assert result.returncode == 0, result.explain()
    reply = sip_log.first(sip_log.received(result.messages), f"SIP/2.0 {final}")
    return (sip_log.header(reply, "Reason") or "").split('text="', 1)[-1].rstrip('"')


def test_star_97_plays_the_employees_new_message_and_7_deletes_it(
    stack, cfg, db, api, sip_target, demo, demo_steps, agents, voicemail_box
):
    (a, _), _ = agents
    box = voicemail_box(name="E2E agent box", silence_s=3, recipients=[{"employee_id": a["id"]}])
    demo_steps(parallel({"kind": "voicemail", "voicemail_box_id": box["id"]}, timeout=15))
    sipp, audio = media_call(stack, sip_target, demo["number"])
    assert audio.burst(within=20) is not None, "the voicemail greeting never came"
    audio.speak(2.0, frequency=MESSAGE_TONE_HZ)
    audio.press("#")
    assert ended(sipp, audio).returncode == 0
    message = message_of(db, sipp.call_id())
    recording = cfg.media.data_dir / message["file_name"]
    assert recording.is_file()

    sipp, audio = phone_media_call(sip_target, demo, a["extension"], "*97", WAIT_FOR_HANGUP, password=a["sip_password"])
    try:
        # The count, the keys, then the message itself: a second of its tone.
        assert tone_heard(audio, MESSAGE_TONE_HZ, run=50, within=40), "the message was not played"
        audio.press("7")
        result = ended(sipp, audio)
    finally:
        sipp.stop()
    assert result.returncode == 0, result.explain()
    assert db.execute("SELECT 1 FROM voicemail_messages WHERE id = %s", (message["id"],)).fetchone() is None
    assert not recording.exists()
    line = history_line(api, sipp.call_id())
    assert (line["direction"], line["called"]) == ("internal", "*97")
