"""R14 on a real call: a greeting before anyone rings, music instead of
ringback while the phone rings, a whisper only the operator hears before the
caller is put through, and the notice before a no-answer forward. Each prompt is an uploaded tone of its own pitch, so
what each side heard is told apart by frequency, packet by packet."""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest

from vpbx.media.load import media_app_load
from vpbx.stack.process import wait_for

from . import sip_log
from .calls import history_line, rung, silent_phone
from .media_caller import answering_phone, ended, hang_up_after, media_call, upload_tone
from .rtp import RtpEndpoint
from .wav import alaw_to_linear, dominant_frequency, rms

NUMBER = "+74951110077"
GREETING_HZ, MUSIC_HZ, WHISPER_HZ = 600, 800, 1000


def _pitches(payloads: list[bytes], per: int = 10) -> list[int]:
    """The pitch of each run of ``per`` packets (0 for silence), to the nearest 100 Hz."""
    pitches = []
    for start in range(0, len(payloads) - per + 1, per):
        pcm = b"".join(alaw_to_linear(p) for p in payloads[start : start + per])
        pitches.append(round(dominant_frequency(pcm), -2) if rms(pcm) > 500 else 0)
    return pitches


@contextmanager
def _number_with(api, scheme: dict):
    """NUMBER routed by a new scheme, for the test; both deleted afterwards."""
    status, made = api("POST", "/schemes", scheme)
    assert status == 201, made
    status, number = api("POST", "/numbers", {"number": NUMBER, "scheme_id": made["id"]})
    assert status == 201, number
    try:
        yield
    finally:
        api("DELETE", f"/numbers/{NUMBER}")
        api("DELETE", f"/schemes/{made['id']}")


@pytest.fixture
def announced_number(stack, api, demo, made_prompt, tmp_path):
    prompts = {}
    for name, frequency, seconds in (
        ("greeting", GREETING_HZ, 1.0),
        ("music", MUSIC_HZ, 1.0),
        ("whisper", WHISPER_HZ, 1.0),
    ):
        prompts[name] = made_prompt(f"E2E {name}")
        upload_tone(stack, demo, prompts[name]["id"], frequency, seconds, tmp_path)
    anna = next(e for e in api("GET", "/employees")[1] if e["extension"] == "101")
    with _number_with(
        api,
        {
            "name": "E2E announced",
            "greeting_prompt_id": prompts["greeting"]["id"],
            "music_prompt_id": prompts["music"]["id"],
            "whisper_prompt_id": prompts["whisper"]["id"],
            "steps": [
                {"mode": "parallel", "timeout": 30, "destinations": [{"kind": "employee", "employee_id": anna["id"]}]}
            ],
        },
    ):
        yield anna


def test_greeting_then_music_while_it_rings_then_a_whisper_only_the_operator_hears(
    stack, sip_target, api, ng, announced_number, register, no_registrations
):
    anna = announced_number
    with answering_phone(register, "101", ring_ms=2000) as (agent, agent_rtp):
        sipp, audio = media_call(stack, sip_target, NUMBER, ending=hang_up_after(10000))
        try:
            # The caller: greeting, then music through the ringing and the whisper.
            caller_heard = [p for p in audio.packets(200, within=10)]
            # Anna: the whisper first, with nothing of the caller's until it ends.
            agent_heard = agent_rtp.receive(75, timeout=10)
            agent_rtp.send(agent_heard[0][1], 50)
            from_agent = [p for p in audio.packets(400, within=5) if RtpEndpoint.ssrc_of(p) == agent_rtp.ssrc]
            result = ended(sipp, audio)
            answered = agent.wait()
        finally:
            sipp.stop()
            audio.close()
    assert result.returncode == 0, result.explain()
    assert answered.returncode == 0, answered.explain()

    caller_pitches = _pitches([p[12:] for p in caller_heard])
    assert caller_pitches[:3] == [GREETING_HZ] * 3, caller_pitches
    assert caller_pitches.count(MUSIC_HZ) >= 10, caller_pitches  # 2 s of ringing, 1 s of whisper
    assert WHISPER_HZ not in caller_pitches, caller_pitches
    assert caller_pitches.index(MUSIC_HZ) > caller_pitches.index(GREETING_HZ)

    whisper = [packet for packet, _ in agent_heard[:45]]
    assert audio.ssrc not in {RtpEndpoint.ssrc_of(p) for p in whisper}, "the caller was heard during the whisper"
    assert set(_pitches([p[12:] for p in whisper])) == {WHISPER_HZ}
    assert audio.ssrc in {RtpEndpoint.ssrc_of(p) for p, _ in agent_heard[55:]}, "the caller never got through"
    assert len(from_agent) >= 40, "Anna was not heard by the caller"

    invite = sip_log.first(sip_log.received(answered.messages), "INVITE ")
    assert sip_log.header(invite, "From").startswith('"79161234567"')
    wait_for(lambda: sipp.call_id() not in ng.list_calls(), 5, "rtpengine to forget the call")
    wait_for(lambda: media_app_load(stack.ports.media_sip) == (0, 0), 5, "the media app to let go")
    line = history_line(api, sipp.call_id())
    assert (line["status"], line["employee_id"]) == ("answered", anna["id"])


NOTICE_HZ = 900
RINGBACK_HZ = 400  # 425 Hz, to the nearest 100


@pytest.fixture
def forwarding_number(stack, api, demo, made_prompt, tmp_path):
    notice = made_prompt("E2E another specialist")
    upload_tone(stack, demo, notice["id"], NOTICE_HZ, 0.8, tmp_path)
    people = {e["extension"]: e for e in api("GET", "/employees")[1]}
    with _number_with(
        api,
        {
            "name": "E2E forwarded",
            "forward_notice": "custom",
            "forward_notice_prompt_id": notice["id"],
            "steps": [
                {
                    "mode": "parallel",
                    "timeout": 15,
                    "destinations": [{"kind": "employee", "employee_id": people["101"]["id"]}],
                },
                {
                    "mode": "parallel",
                    "timeout": 30,
                    "destinations": [{"kind": "employee", "employee_id": people["102"]["id"]}],
                },
            ],
        },
    ):
        yield people


def test_the_notice_plays_between_a_step_nobody_answered_and_the_next(
    stack, sip_target, api, forwarding_number, register, no_registrations
):
    people = forwarding_number
    anna = silent_phone()
    assert register("101", anna.getsockname()[1])[0] == 200
    try:
        with answering_phone(register, "102", timeout_s=90, recv_timeout_s=60) as (boris, boris_rtp):
            sipp, audio = media_call(stack, sip_target, NUMBER, ending=hang_up_after(25000))
            try:
                heard: list[bytes] = []
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:  # until the notice and a second of what follows it
                    heard += audio.packets(50, within=1)
                    pitches = _pitches([p[12:] for p in heard])
                    if NOTICE_HZ in pitches and len(pitches) - pitches.index(NOTICE_HZ) > 10:
                        break
                from_caller = boris_rtp.receive(25, timeout=10)
                anna_rang = rung(anna)
                result = ended(sipp, audio)
                answered = boris.wait()
            finally:
                sipp.stop()
                audio.close()
    finally:
        anna.close()
    assert result.returncode == 0, result.explain()
    assert answered.returncode == 0, answered.explain()
    assert anna_rang, "step 1 never rang Anna"
    # Ringback through Anna's 15 s, then the notice, then Boris.
    first_notice = pitches.index(NOTICE_HZ)
    assert pitches[:first_notice].count(RINGBACK_HZ) >= 10 and first_notice * 0.2 >= 14, pitches
    assert {RtpEndpoint.ssrc_of(p) for p, _ in from_caller} == {audio.ssrc}, "the caller never reached Boris"
    line = history_line(api, sipp.call_id())
    assert (line["status"], line["employee_id"]) == ("answered", people["102"]["id"])
    assert [leg["target"] for leg in line["legs"]][-2:] == ["employee 101 Anna Sales", "employee 102 Boris Support"]
