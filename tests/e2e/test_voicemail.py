"""Voicemail end to end (R11, R13, R19): a real call through Kamailio and
rtpengine to the media app, a WAV on disk, an email at a real SMTP server, a
signed link served by the sidecar."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
import wave
from email.utils import parsedate_to_datetime

import pytest

from vpbx.media.load import media_app_load
from vpbx.notify import links
from vpbx.stack.process import wait_for

from .calls import history_line, parallel
from .media_caller import ended, hang_up_after, heard_as, media_call, message_of, upload_tone
from .wav import alaw_to_linear, dominant_frequency, rms

CALLER = "79161234567"


@pytest.fixture
def voicemail_number(api, demo, voicemail_box, demo_steps):
    """The demo number goes straight to a box whose recipients are Anna and an extra address."""
    box = voicemail_box(name="E2E reception", silence_s=3)
    demo_steps(parallel({"kind": "voicemail", "voicemail_box_id": box["id"]}, timeout=15))
    return demo["number"], box


def _get(url: str) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _ends_with_the_beep(burst) -> bool:
    """Whether the burst's last 100 ms are the beep (1000 Hz): the caller speaks after it."""
    return abs(dominant_frequency(b"".join(alaw_to_linear(p) for p in burst.payloads[-5:])) - 1000) < 50


def test_a_message_is_recorded_as_sent_emailed_to_every_recipient_and_played_by_its_link(
    stack, sip_target, cfg, db, api, voicemail_number, mailbox
):
    number, box = voicemail_number
    sipp, audio = media_call(stack, sip_target, number)
    prompts = audio.burst(within=15)  # the greeting, then the beep
    assert prompts is not None and prompts.seconds > 2, "no greeting was played"
    if not _ends_with_the_beep(prompts):  # a pause between them ended the burst early
        assert audio.burst(within=5) is not None, "no beep after the greeting"
    audio.speak(3.0, frequency=440)
    audio.silence(0.4)
    audio.press("#")
    goodbye = audio.burst(within=5)
    assert goodbye is not None, "no goodbye after #"
    result = ended(sipp, audio)
    assert result.returncode == 0, result.explain()  # the media app hung up: SIPp got its BYE

    message = message_of(db, sipp.call_id())
    assert message["voicemail_box_id"] == box["id"] and message["caller"] == CALLER
    path = cfg.media.data_dir / message["file_name"]
    with wave.open(str(path)) as recording:
        assert (recording.getframerate(), recording.getnchannels(), recording.getsampwidth()) == (8000, 1, 2)
        frames = recording.readframes(recording.getnframes())
        seconds = recording.getnframes() / 8000
    # What the line carried after the beep (the caller's silence until it speaks,
    # well under half a second here), the 3 s of voice, and half a second of the
    # silence before # (the rest is trimmed).
    assert 3.4 <= seconds <= 3.9, seconds
    assert abs(message["duration_ms"] / 1000 - seconds) < 0.01
    voice = frames[1 * 8000 * 2 : 3 * 8000 * 2]  # surely within the voice, whatever the lead
    assert rms(voice) > 2000, "the recording is silent"
    assert abs(dominant_frequency(voice) - 440) < 15

    def for_this_message(mail) -> bool:  # its link names this message (a fax's email has a PDF besides)
        token = mail.get_body(("plain",)).get_content().rsplit("/voicemail/", 1)[-1].strip()
        try:
            return links.verify(token, cfg.media.link_secret) == message["id"]
        except (links.LinkInvalid, links.LinkExpired):
            return False

    email = mailbox.wait_for(for_this_message)
    anna = next(e for e in api("GET", "/employees")[1] if e["extension"] == "101")
    assert sorted(email.recipients) == sorted([anna["email"], "office@example.com"])
    # RFC 5322's Date, close to now, and a Message-ID at the sender's domain.
    sent_at = parsedate_to_datetime(email.message["Date"])
    assert abs(sent_at.timestamp() - time.time()) < 60, email.message["Date"]
    assert re.fullmatch(r"<[^@>\s]+@vpbx\.invalid>", email.message["Message-ID"]), email.message["Message-ID"]
    body = email.message.get_content()
    assert (
        CALLER in email.message["Subject"]
        and CALLER in body
        and number in body
        and f"Duration:  0:{round(seconds):02d}" in body
    )
    link = next(line for line in body.splitlines() if "/voicemail/" in line).strip()
    status, headers, content = _get(link)
    assert status == 200 and headers["Content-Type"] == "audio/wav"
    assert content == path.read_bytes()
    status, headers, _ = _get(link + "?download=1")
    assert status == 200 and headers["Content-Disposition"].startswith("attachment")

    line = history_line(api, sipp.call_id())
    assert (line["status"], line["voicemail"]) == ("missed", True)
    # The history line leads to the message: listened to from there, as from the email.
    assert line["voicemail_message"]["id"] == message["id"]
    status, headers, content = _get(line["voicemail_message"]["url"])
    assert (status, headers["Content-Type"], content) == (200, "audio/wav", path.read_bytes())

    # R13: seven days, then 410 Gone; a link we did not sign is not found at all.
    base = f"{cfg.media.public_url}/voicemail/"
    six_days_ago = links.sign(message["id"], cfg.media.link_secret, clock=lambda: time.time() - 6 * 86400)
    assert _get(base + six_days_ago)[0] == 200
    eight_days_ago = links.sign(message["id"], cfg.media.link_secret, clock=lambda: time.time() - 8 * 86400)
    assert _get(base + eight_days_ago)[0] == 410
    assert _get(base + links.sign(message["id"], "not our secret"))[0] == 404
    assert _get(base + link.rsplit("/", 1)[1][:-2] + "xx")[0] == 404


def test_silence_is_no_message_and_an_ordinary_missed_call(stack, sip_target, db, api, voicemail_number):
    number, box = voicemail_number
    sipp, audio = media_call(stack, sip_target, number)
    assert audio.burst(within=15) is not None
    began = time.monotonic()
    result = ended(sipp, audio)  # the caller says nothing: after the box's 3 s of silence the media app hangs up
    hung_up_after = time.monotonic() - began
    assert result.returncode == 0, result.explain()
    assert hung_up_after < 8
    line = history_line(api, sipp.call_id())
    assert (line["status"], line["voicemail"], line["end_reason"]) == ("missed", False, "no_answer")
    assert line["voicemail_message"] is None
    assert db.execute("SELECT 1 FROM voicemail_messages WHERE call_id = %s", (sipp.call_id(),)).fetchone() is None


def test_hanging_up_during_the_greeting_leaves_no_media_session_and_no_task(
    stack, sip_target, cfg, db, ng, voicemail_number
):
    number, _ = voicemail_number
    sipp, audio = media_call(stack, sip_target, number, ending=hang_up_after(1000))
    assert audio.burst(within=15, gap=0.3) is not None  # cut short by the hang-up
    result = ended(sipp, audio)
    assert result.returncode == 0, result.explain()
    call_id = sipp.call_id()
    wait_for(lambda: call_id not in ng.list_calls(), 5, "rtpengine to forget the call")
    wait_for(lambda: media_app_load(stack.ports.media_sip) == (0, 0), 5, "the media app to hold no call and no task")
    assert db.execute("SELECT 1 FROM voicemail_messages WHERE call_id = %s", (call_id,)).fetchone() is None


def test_an_uploaded_greeting_is_what_the_caller_hears(
    stack, sip_target, api, demo, made_prompt, voicemail_box, demo_steps, tmp_path
):
    prompt = made_prompt("E2E uploaded greeting")
    upload_tone(stack, demo, prompt["id"], 600, 1.5, tmp_path)
    box = voicemail_box(name="E2E uploaded", greeting_prompt_id=prompt["id"], silence_s=2)
    demo_steps(parallel({"kind": "voicemail", "voicemail_box_id": box["id"]}, timeout=15))

    sipp, audio = media_call(stack, sip_target, demo["number"])
    heard = audio.burst(within=15)  # the upload, then the beep
    result = ended(sipp, audio)
    assert result.returncode == 0, result.explain()
    assert heard is not None and 1.8 <= heard.seconds <= 2.2, heard and heard.seconds
    greeting = b"".join(alaw_to_linear(p) for p in heard.payloads[5:70])  # well inside the 1.5 s upload
    assert abs(dominant_frequency(greeting) - 600) < 15


def test_the_standard_greeting_speaks_the_companys_language(stack, sip_target, cfg, api, voicemail_number):
    number, _ = voicemail_number
    status, company = api("PATCH", "/company", {"language": "en"})
    assert (status, company["language"]) == (200, "en"), company
    try:
        sipp, audio = media_call(stack, sip_target, number)
        heard = audio.burst(within=15)  # the greeting, then the beep
        result = ended(sipp, audio)
    finally:
        api("PATCH", "/company", {"language": "ru"})
    assert result.returncode == 0, result.explain()
    assert heard is not None, "no greeting was played"
    english = heard_as(cfg, heard, "voicemail_greeting", "en")
    russian = heard_as(cfg, heard, "voicemail_greeting", "ru")
    assert english > 0.98, (english, russian)
    assert russian < 0.9, (english, russian)
