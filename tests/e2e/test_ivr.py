"""IVR menus on real calls (R10): keys sent as RFC 4733 events through
rtpengine, prompts heard on the caller's own RTP socket."""

from __future__ import annotations

import pytest

from vpbx.media.load import media_app_load
from vpbx.stack.process import wait_for

from . import sip_log
from .calls import history_line, parallel, rung, silent_phone
from .media_caller import (
    TO_THE_MEDIA_APP,
    answer_reinvite_then,
    answering_phone,
    ended,
    hang_up_after,
    is_comfort_noise,
    leave_message,
    media_call,
    message_of,
)
from .rtp import RtpEndpoint
from .wav import alaw_to_linear, pitch_of_packets, rms, ulaw_to_linear


@pytest.fixture
def menu_number(api, demo, voicemail_box, demo_steps):
    """The demo number answers with a menu: 1 is the company's voicemail, no key the night box."""
    company_box = voicemail_box(name="E2E company box")
    night_box = voicemail_box(name="E2E night box")
    made = []

    def _menu(**fields):
        body = {
            "name": "E2E menu",
            "greeting": {"kind": "tts", "text": "Нажмите один, чтобы оставить сообщение."},
            "timeout": 5,
            "invalid_key_tries": 2,
            "keys": {
                "1": {"kind": "voicemail", "voicemail_box_id": company_box["id"]},
                "timeout": {"kind": "voicemail", "voicemail_box_id": night_box["id"]},
            },
            **fields,
        }
        status, menu = api("POST", "/ivr-menus", body)
        assert status == 201, menu
        made.append(menu["id"])
        demo_steps(parallel({"kind": "ivr", "ivr_menu_id": menu["id"]}, timeout=15))
        return menu

    yield _menu, company_box, night_box
    demo_steps(parallel({"kind": "voicemail", "voicemail_box_id": company_box["id"]}, timeout=15))
    for menu_id in made:
        api("DELETE", f"/ivr-menus/{menu_id}")


def test_key_1_pressed_during_the_greeting_leaves_a_message_in_the_company_box(
    stack, sip_target, db, api, demo, menu_number
):
    make_menu, company_box, _ = menu_number
    make_menu()
    sipp, audio = media_call(stack, sip_target, demo["number"])
    assert audio.started(within=15) is not None, "the menu's greeting never came"
    audio.press("1")  # without waiting for the greeting to end
    leave_message(audio)
    result = ended(sipp, audio)
    assert result.returncode == 0, result.explain()
    assert message_of(db, sipp.call_id())["voicemail_box_id"] == company_box["id"]
    line = history_line(api, sipp.call_id())
    assert (line["status"], line["voicemail"]) == ("missed", True)


def test_no_key_takes_the_default_route_after_the_menus_5_seconds(stack, sip_target, db, demo, menu_number):
    make_menu, _, night_box = menu_number
    make_menu()
    sipp, audio = media_call(stack, sip_target, demo["number"])
    greeting = audio.burst(within=15)
    assert greeting is not None
    night_greeting = audio.started(within=10)
    assert night_greeting is not None, "the default route never answered"
    waited = night_greeting - greeting.ended
    leave_message(audio)
    result = ended(sipp, audio)
    assert result.returncode == 0, result.explain()
    assert 4.8 <= waited <= 5.8, waited
    assert message_of(db, sipp.call_id())["voicemail_box_id"] == night_box["id"]


def test_while_the_menu_waits_for_a_key_the_caller_hears_comfort_noise_not_a_dead_line(
    stack, sip_target, demo, menu_number
):
    make_menu, _, _ = menu_number
    make_menu()
    sipp, audio = media_call(stack, sip_target, demo["number"], ending=hang_up_after(12000))
    greeting = audio.burst(within=15)
    waiting = audio.noise(3)  # inside the menu's 5 s
    result = ended(sipp, audio)

    assert result.returncode == 0, result.explain()
    assert greeting is not None
    noise = [(at, packet) for at, packet in waiting if is_comfort_noise(packet)]
    assert len(noise) >= 140, f"{len(noise)} noise packets in 3 s: the line went quiet"  # 150 at 20 ms
    gaps = [b[0] - a[0] for a, b in zip(waiting, waiting[1:], strict=False)]
    assert max(gaps) < 0.1, max(gaps)
    assert len({RtpEndpoint.ssrc_of(packet) for _, packet in noise}) == 1  # one stream


def test_an_invalid_key_replays_the_menu_and_the_last_try_takes_the_default_route(
    stack, sip_target, db, demo, menu_number
):
    make_menu, _, night_box = menu_number
    make_menu(invalid_key_tries=2)
    sipp, audio = media_call(stack, sip_target, demo["number"])
    greeting = audio.burst(within=15)
    audio.press("7")  # no such key
    again = audio.burst(within=5)  # "not a valid choice", then the menu once more
    audio.press("7")
    leave_message(audio)  # after "not a valid choice" and the default route's greeting
    result = ended(sipp, audio)
    assert result.returncode == 0, result.explain()
    assert greeting is not None and again is not None
    # The same greeting file, encoded the same way: its packets recur whole at the end of the replay.
    menu = greeting.payloads[5:-5]
    replay = b"".join(again.payloads)
    assert b"".join(menu) in replay and again.seconds > greeting.seconds
    assert message_of(db, sipp.call_id())["voicemail_box_id"] == night_box["id"]


def test_key_2_rings_the_sales_department_and_bridges_the_caller_with_rtp_both_ways(
    stack, sip_target, db, api, ng, demo, menu_number, register, no_registrations
):
    make_menu, company_box, night_box = menu_number
    anna = next(e for e in api("GET", "/employees")[1] if e["extension"] == "101")
    status, sales = api("POST", "/departments", {"name": "E2E IVR sales", "members": [anna["id"]]})
    assert status == 201, sales
    try:
        make_menu(
            keys={
                "1": {"kind": "voicemail", "voicemail_box_id": company_box["id"]},
                "2": {"kind": "department", "department_id": sales["id"]},
                "timeout": {"kind": "voicemail", "voicemail_box_id": night_box["id"]},
            }
        )
        with answering_phone(register, "101") as (agent, agent_rtp):
            sipp, audio = media_call(stack, sip_target, demo["number"], ending=hang_up_after(12000))
            try:
                assert audio.started(within=15) is not None, "the menu's greeting never came"
                audio.press("2")
                # Bridged: the caller's RTP reaches Anna's phone through rtpengine...
                from_caller = agent_rtp.receive(25, timeout=10)
                assert len(from_caller) == 25, "nothing of the caller reached the agent"
                assert {RtpEndpoint.ssrc_of(packet) for packet, _ in from_caller} == {audio.ssrc}
                # ...and hers reaches the caller, from the port rtpengine sends from (symmetric RTP).
                agent_rtp.send(from_caller[0][1], 50)
                heard = [p for p in audio.packets(200, within=5) if RtpEndpoint.ssrc_of(p) == agent_rtp.ssrc]
                assert len(heard) >= 40, f"{len(heard)} of the agent's 50 packets reached the caller"
                result = sipp.wait()
                answered = agent.wait()
            finally:
                sipp.stop()
                audio.close()
        assert result.returncode == 0, result.explain()
        assert answered.returncode == 0, answered.explain()  # Anna's phone got the BYE from the media app
        invite = sip_log.first(sip_log.received(answered.messages), "INVITE ")
        assert sip_log.header(invite, "From").startswith('"79161234567"')  # she sees who calls
        call_id = sipp.call_id()
        wait_for(lambda: call_id not in ng.list_calls(), 5, "rtpengine to forget the call")
        wait_for(lambda: media_app_load(stack.ports.media_sip) == (0, 0), 5, "the media app to let go")
        line = history_line(api, call_id)
        assert (line["status"], line["employee_id"], line["voicemail"]) == ("answered", anna["id"], False)
        assert [(leg["target"], leg["answered"]) for leg in line["legs"]][-1] == ("employee 101 Anna Sales", True)
    finally:
        api("DELETE", f"/departments/{sales['id']}")


def test_a_key_to_a_department_nobody_answers_leaves_the_caller_in_the_departments_voicemail(
    stack, sip_target, db, api, demo, menu_number, voicemail_box, register, no_registrations
):
    """Routing alone says where a department key goes once nobody answers (R4):
    the media app reads it from the company's compiled document."""
    make_menu, company_box, night_box = menu_number
    boris = next(e for e in api("GET", "/employees")[1] if e["extension"] == "102")
    sales_box = voicemail_box(name="E2E IVR sales box")
    status, sales = api(
        "POST",
        "/departments",
        {
            "name": "E2E IVR sales, voicemail",
            "distribution": "in_order",
            "ring_time": 5,
            "if_nobody_answers": "voicemail",
            "voicemail_box_id": sales_box["id"],
            "members": [boris["id"]],
        },
    )
    assert status == 201, sales
    phone = silent_phone()
    try:
        make_menu(
            keys={
                "3": {"kind": "department", "department_id": sales["id"]},
                "timeout": {"kind": "voicemail", "voicemail_box_id": night_box["id"]},
            }
        )
        assert register("102", phone.getsockname()[1])[0] == 200
        sipp, audio = media_call(stack, sip_target, demo["number"])
        assert audio.started(within=15) is not None, "the menu's greeting never came"
        audio.press("3")
        # One stream of audio: ringback while Boris rings, then the box's greeting and beep.
        heard = audio.burst(within=10)
        boris_rang = rung(phone)
        audio.speak(1.5)
        audio.press("#")
        result = ended(sipp, audio)
    finally:
        phone.close()
        api("DELETE", f"/departments/{sales['id']}")
    assert result.returncode == 0, result.explain()
    assert boris_rang, "the department's member never rang"
    assert heard is not None and heard.seconds >= 5, "voicemail came before Boris's 5 s were up"
    assert message_of(db, sipp.call_id())["voicemail_box_id"] == sales_box["id"]
    line = history_line(api, sipp.call_id())
    assert (line["status"], line["voicemail"]) == ("missed", True)


def test_a_person_whose_phone_speaks_the_other_law_is_transcoded_both_ways(
    stack, sip_target, api, demo, menu_number, register, no_registrations
):
    make_menu, company_box, night_box = menu_number
    boris = next(e for e in api("GET", "/employees")[1] if e["extension"] == "102")
    make_menu(
        keys={
            "1": {"kind": "voicemail", "voicemail_box_id": company_box["id"]},
            "3": {"kind": "employee", "employee_id": boris["id"]},
            "timeout": {"kind": "voicemail", "voicemail_box_id": night_box["id"]},
        }
    )
    # This phone answers PCMU only; the caller speaks PCMA, and is re-INVITEd to be put through.
    with answering_phone(register, "102", scenario="uas_answer.xml") as (agent, agent_rtp):
        sipp, audio = media_call(
            stack, sip_target, demo["number"], ending=answer_reinvite_then(hang_up_after(10000, TO_THE_MEDIA_APP))
        )
        try:
            assert audio.started(within=15) is not None
            audio.press("3")
            first = agent_rtp.receive(1, timeout=10)
            assert first, "nothing reached Boris's phone"
            audio.speak(1.0, frequency=440)
            received = agent_rtp.receive(100, timeout=2)
            audio.drain()  # the menu's last words, sent before Boris was put through
            agent_rtp.send_tone(first[0][1], 50, frequency=600)
            heard = [p for p in audio.packets(300, within=3) if p[1] & 0x7F == 8]
            result = ended(sipp, audio)
            answered = agent.wait()
        finally:
            sipp.stop()
            audio.close()
    assert result.returncode == 0, result.explain()
    assert answered.returncode == 0, answered.explain()
    kinds = sorted({p[1] & 0x7F for p, _ in received})
    voice = [f for f in (ulaw_to_linear(p[12:]) for p, _ in received if p[1] & 0x7F == 0) if rms(f) > 500]
    assert len(voice) >= 40, f"{len(received)} packets, payload types {kinds}"
    # One packet counts 23 or 24 crossings of a 600 Hz tone: 25 Hz is a count's width, and still no other tone.
    assert abs(pitch_of_packets(voice) - 440) < 25  # PCMA in, PCMU out
    tone = [f for f in (alaw_to_linear(p[12:]) for p in heard) if rms(f) > 500]
    assert len(tone) >= 30 and abs(pitch_of_packets(tone) - 600) < 25  # PCMU in, PCMA out
