"""A call's decisions, one line each, found by its Call-ID in Kamailio's log
and the media app's (vpbx/call_log.py)."""

from __future__ import annotations

import re

from vpbx.stack.process import wait_for

from .calls import parallel
from .media_caller import ended, hang_up_after, media_call


def _lines(stack, component: str, call_id: str) -> list[str]:
    text = (stack.log_dir / f"{component}.log").read_text(errors="replace")
    return [line for line in text.splitlines() if f"callid={call_id} " in line + " "]


def _events(lines: list[str]) -> list[str]:
    return [re.search(r" event=(\S+)", line).group(1) for line in lines if " event=" in line]


def test_a_calls_decisions_are_found_by_its_call_id_in_kamailio_and_the_media_app(
    stack, sip_target, demo, voicemail_box, demo_steps
):
    box = voicemail_box(name="Logged box")
    demo_steps(parallel({"kind": "voicemail", "voicemail_box_id": box["id"]}, timeout=15))

    sipp, audio = media_call(stack, sip_target, demo["number"], ending=hang_up_after(1000))
    assert ended(sipp, audio).returncode == 0
    call_id = sipp.call_id()

    kamailio = wait_for(
        lambda: (lines := _lines(stack, "kamailio", call_id)) and "answered" in _events(lines) and lines,
        10,
        "Kamailio's lines of the call",
    )
    media = wait_for(
        lambda: (lines := _lines(stack, "media-app", call_id)) and "ended" in _events(lines) and lines,
        10,
        "the media app's lines of the call",
    )
    assert _events(kamailio)[:2] == ["routed", "answered"], kamailio
    routed = kamailio[0]
    assert f"called={demo['number']}" in routed and "source=trunk" in routed and "steps=1" in routed
    assert _events(media) == ["answered", "ended"], media
    assert f"node=voicemail-{box['id']}" in media[0]
