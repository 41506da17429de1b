"""The media app's pure parts: SIP syntax, SDP answers, recordings, signed links."""

import asyncio
import struct
import warnings

import pytest

from vpbx.media import sdp, sip
from vpbx.media.call import first_done
from vpbx.media.rtp import Recording
from vpbx.notify import links

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

INVITE = (
    b"INVITE sip:voicemail-3@127.0.0.1:5970 SIP/2.0\r\n"
    b"Record-Route: <sip:127.0.0.1:5960;lr;ftag=abc>\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5960;branch=z9hG4bKk1\r\n"
    b"v: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKs1, SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKs0\r\n"
    b'f: "Caller" <sip:79161234567@127.0.0.1:5999>;tag=abc\r\n'
    b"t: <sip:+74951112233@127.0.0.1:5960>\r\n"
    b"i: call-1\r\nCSeq: 1 INVITE\r\nm: <sip:79161234567@127.0.0.1:5999>\r\n"
    b"Subject: a subject\r\n  folded\r\nc: application/sdp\r\nl: 129\r\n\r\n"
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 31000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
)


def test_a_relayed_invite_parses_with_compact_and_folded_headers():
    message = sip.parse(INVITE)
    assert (message.method, message.call_id, message.from_tag, message.to_tag) == ("INVITE", "call-1", "abc", None)
    assert len(message.all("via")) == 3 and message.branch == "z9hG4bKk1"
    assert sip.user_of(message.uri) == "voicemail-3"
    assert sip.user_of(sip.uri_of(message.get("from"))) == "79161234567"
    assert message.get("subject") == "a subject folded"
    assert message.body.startswith(b"v=0") and len(message.body) == 129


def test_a_reply_copies_the_transaction_headers_and_an_invites_record_route():
    ok = sip.parse(
        sip.response(sip.parse(INVITE), 200, to_tag="xyz", contact="sip:media@127.0.0.1:5970", body=b"v=0\r\n").encode()
    )
    assert (ok.status, ok.to_tag, ok.cseq) == (200, "xyz", (1, "INVITE"))
    assert ok.all("via") == sip.parse(INVITE).all("via")
    assert ok.all("record-route") == ["<sip:127.0.0.1:5960;lr;ftag=abc>"]


@pytest.mark.parametrize(
    "broken", [b"", b"INVITE sip:x SIP/2.0\r\n\r\n", b"garbage\r\n\r\n", b"SIP/2.0 abc OK\r\nVia: x\r\n\r\n"]
)
def test_broken_messages_are_refused_not_crashed_on(broken):
    with pytest.raises(sip.ParseError):
        sip.parse(broken)


def test_the_answer_prefers_pcma_and_keeps_the_callers_event_payload_type():
    offer = sdp.parse_offer(sip.parse(INVITE).body)
    assert (offer.address, offer.port, offer.payload_types) == ("127.0.0.1", 31000, (0, 8, 101))
    answer = sdp.choose(offer)
    assert (answer.codec, answer.telephone_event) == ("PCMA", 101)
    body = sdp.answer_body(answer, "127.0.0.1", 34000).decode()
    assert "m=audio 34000 RTP/AVP 8 101" in body and "a=rtpmap:101 telephone-event/8000" in body


def test_an_offer_without_g711_is_not_acceptable():
    with pytest.raises(sdp.NoCommonCodec):
        sdp.choose(sdp.parse_offer(b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 9\r\n"))


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def _packet(level: int) -> bytes:
    return audioop.lin2alaw(struct.pack("<160h", *([level, -level] * 80)), 2)


def test_a_recording_places_audio_by_timestamp_and_trims_what_follows_the_last_word():
    clock = FakeClock()
    recording = Recording(8, max_seconds=10, clock=clock)
    for n in range(100):  # 2 s of speech, packets 1 and 2, 3 and 4... swapped
        clock.now += 0.02
        index = n if n in (0, 99) else (n + 1 if n % 2 else n - 1)
        recording.add(8, 1000 + index * 160, _packet(6000))
    for n in range(100, 200):  # then 2 s of silence
        clock.now += 0.02
        recording.add(8, 1000 + n * 160, _packet(0))
    recording.add(101, 1000 + 200 * 160, b"\x0b\x8a\x03\x20")  # a key: not audio
    assert recording.speech_seconds == pytest.approx(2.0)
    assert len(recording.samples) == 4 * 8000 * 2
    assert clock.now - recording.last_speech == pytest.approx(2.0)


def test_a_recording_stops_growing_at_its_maximum_length():
    recording = Recording(8, max_seconds=1, clock=FakeClock())
    for n in range(80):
        recording.add(8, n * 160, _packet(6000))
    assert recording.full.is_set() and len(recording.samples) == 8000 * 2


def test_a_link_is_good_for_seven_days_and_gone_after():
    signed_at = 1_800_000_000
    token = links.sign(42, "secret", clock=lambda: signed_at)
    assert links.verify(token, "secret", clock=lambda: signed_at + 7 * 86400 - 1) == 42
    with pytest.raises(links.LinkExpired):
        links.verify(token, "secret", clock=lambda: signed_at + 7 * 86400 + 1)
    with pytest.raises(links.LinkInvalid):
        links.verify(token, "another secret", clock=lambda: signed_at)
    with pytest.raises(links.LinkInvalid):
        links.verify(token[:-1] + ("A" if token[-1] != "A" else "B"), "secret", clock=lambda: signed_at)


def test_a_packet_from_before_the_first_one_is_dropped_not_taken_for_the_far_future():
    recording = Recording(8, max_seconds=10, clock=FakeClock())
    recording.add(8, 5000, _packet(6000))
    recording.add(8, 5000 - 160, _packet(6000))
    assert not recording.full.is_set() and len(recording.samples) == 320


def test_a_leg_the_media_app_opens_offers_both_laws_the_callers_first():
    offer = sdp.parse_offer(sdp.offer_body(sdp.Answer(8, 101), "127.0.0.1", 31002))
    assert (offer.port, offer.payload_types, offer.telephone_event) == (31002, (8, 0, 101), 101)


def test_first_done_names_the_first_to_finish_and_none_at_the_timeout():
    async def both():
        never = asyncio.Event()
        soon = asyncio.sleep(0.01)
        first = await first_done({"never": never.wait(), "soon": soon})
        timed_out = await first_done({"never": asyncio.Event().wait()}, timeout=0.01)
        return first, timed_out

    assert asyncio.run(both()) == ("soon", None)
