"""The caller's side of calls the media app answers: SIPp does the signalling
(scenarios/uac_media.xml), and a socket the test owns is the caller's audio. It
hears the prompts as rtpengine plays them and sends speech and RFC 4733 keys."""

from __future__ import annotations

import asyncio
import math
import queue
import socket
import struct
import subprocess
import threading
import time
import urllib.request
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

from vpbx.media.call import NOISE
from vpbx.media.prompts import PromptLibrary
from vpbx.stack.process import wait_for

from .rtp import RtpEndpoint
from .sipp import Sipp, free_udp_port
from .wav import alaw_to_linear, best_match, envelope, spoken_envelope

PCMA, EVENTS = 8, 101
SILENCE = b"\xd5" * 160  # 20 ms of A-law silence
# SIPp waits for the media app to hang up (after #, silence or a full box).
WAIT_FOR_HANGUP = """
  <recv request="BYE" timeout="120000"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
"""


def hang_up_after(milliseconds: int, to: str = "[last_To:]") -> str:
    """SIPp hangs up itself, this long after the answer (``to``: the BYE's To header)."""
    return f"""
  <pause milliseconds="{milliseconds}"/>
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Caller" <sip:79161234567@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      {to}
      Call-ID: [call_id]
      CSeq: 2 BYE
      [routes]
      Contact: <sip:79161234567@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
"""


# After a request received, [last_To:] is that request's: a BYE names the media app's tag itself.
TO_THE_MEDIA_APP = "To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]"


def answer_reinvite_then(ending: str) -> str:
    """The caller first answers a re-INVITE (its law, PCMA, at its own socket), then
    ``ending`` (a BYE in it must name the media app with TO_THE_MEDIA_APP)."""
    return (
        """
  <recv request="INVITE" timeout="30000"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:79161234567@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 1 2 IN IP4 [local_ip]
      s=-
      c=IN IP4 [local_ip]
      t=0 0
      m=audio [rtp_port] RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=sendrecv
    ]]>
  </send>
  <recv request="ACK"/>
"""
        + ending
    )


def is_comfort_noise(packet: bytes) -> bool:
    """One of the media app's comfort noise frames (media/call.py): the same
    few frames, repeated, which no prompt, tone or person sends."""
    return packet[12:] in _NOISE_FRAMES.get(packet[1] & 0x7F, ())


_NOISE_FRAMES = {payload_type: frozenset(frames) for payload_type, frames in NOISE.items()}


@dataclass
class Burst:
    """RTP that came without a gap: one prompt, or prompts played back to back."""

    started: float
    ended: float
    payloads: list[bytes]

    @property
    def seconds(self) -> float:
        return len(self.payloads) * 0.02


class CallerAudio:
    """The caller's RTP. Like a phone it streams without a break from its first
    packet on: silence unless it is speaking or sending a key."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.peer: tuple[str, int] | None = None  # rtpengine's port for the caller, learnt from its first packet
        self.sequence = 0
        self.timestamp = 0
        self.ssrc = 0x5EED0000 | (self.port & 0xFFFF)
        self.frames: queue.Queue = queue.Queue()
        self.closing = threading.Event()
        self.sender: threading.Thread | None = None
        self.noise_packets = 0

    def close(self) -> None:
        self.closing.set()
        if self.sender is not None:
            self.sender.join(2)
        self.sock.close()

    def _raw(self, timeout: float) -> tuple[bytes, float] | None:
        """The next packet, comfort noise included."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data, address = self.sock.recvfrom(2048)
        except (TimeoutError, OSError):
            return None
        if self.peer is None:
            self.peer = address
            self.sender = threading.Thread(target=self._stream, daemon=True)
            self.sender.start()
        return data, time.monotonic()

    def _receive(self, timeout: float) -> tuple[bytes, float] | None:
        """The next packet of what rtpengine plays (a prompt, music, a person):
        the media app's comfort noise between them is counted, not returned."""
        deadline = time.monotonic() + timeout
        while (packet := self._raw(deadline - time.monotonic())) is not None:
            if not is_comfort_noise(packet[0]):
                return packet
            self.noise_packets += 1
        return None

    def noise(self, seconds: float) -> list[tuple[float, bytes]]:
        """Every packet of the next ``seconds``, as (when, packet): what the line
        carries while nothing plays."""
        deadline = time.monotonic() + seconds
        packets = []
        while (packet := self._raw(deadline - time.monotonic())) is not None:
            packets.append((packet[1], packet[0]))
        return packets

    def burst(self, *, within: float = 15.0, gap: float = 0.3) -> Burst | None:
        """The next burst of prompt audio: waits up to ``within`` s for its first
        packet, and takes it as over after ``gap`` s with none."""
        first = self._receive(within)
        if first is None:
            return None
        payloads, started, last = [first[0][12:]], first[1], first[1]
        while (packet := self._receive(gap)) is not None:
            payloads.append(packet[0][12:])
            last = packet[1]
        return Burst(started, last, payloads)

    def packets(self, count: int, within: float) -> list[bytes]:
        """Up to ``count`` RTP packets (headers included) within ``within`` s."""
        deadline = time.monotonic() + within
        packets = []
        while len(packets) < count and (left := deadline - time.monotonic()) > 0:
            packet = self._receive(left)
            if packet is not None:
                packets.append(packet[0])
        return packets

    def drain(self) -> int:
        """Drop what has arrived and not been read; how many packets."""
        dropped = 0
        while self._receive(0.001) is not None:
            dropped += 1
        return dropped

    def started(self, within: float = 15.0) -> float | None:
        """When the next prompt's first packet came (None: none within ``within`` s)."""
        first = self._receive(within)
        return first[1] if first else None

    # ---- sending: one packet every 20 ms, from a thread of its own -------------

    def _stream(self) -> None:
        event_timestamp = 0
        next_at = time.monotonic()
        while not self.closing.is_set():
            try:
                payload_type, payload, marker, done = self.frames.get_nowait()
            except queue.Empty:
                payload_type, payload, marker, done = PCMA, SILENCE, False, None
            if payload_type == EVENTS and marker:
                event_timestamp = self.timestamp
            self.sequence = (self.sequence + 1) & 0xFFFF
            # RFC 4733: every packet of one key carries the timestamp of its start.
            timestamp = event_timestamp if payload_type == EVENTS else self.timestamp
            header = struct.pack(
                "!BBHII", 0x80, payload_type | (0x80 if marker else 0), self.sequence, timestamp, self.ssrc
            )
            try:
                self.sock.sendto(header + payload, self.peer)
            except OSError:
                return
            self.timestamp = (self.timestamp + 160) & 0xFFFFFFFF
            if done is not None:
                done.set()
            next_at += 0.02
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # media pacing, as a phone sends it

    def _send_all(self, frames: list[tuple[int, bytes, bool]]) -> None:
        assert self.peer is not None, "nothing heard from rtpengine yet: no address to send to"
        done = threading.Event()
        for n, (payload_type, payload, marker) in enumerate(frames):
            self.frames.put((payload_type, payload, marker, done if n == len(frames) - 1 else None))
        assert done.wait(len(frames) * 0.02 + 5), "the caller's RTP stream stalled"

    def speak(self, seconds: float, frequency: float = 440.0, level: int = 8000) -> None:
        """A tone as the caller's voice, for ``seconds``."""
        frames = []
        for n in range(int(seconds * 50)):
            samples = b"".join(
                struct.pack("<h", int(level * math.sin(2 * math.pi * frequency * (n * 160 + i) / 8000)))
                for i in range(160)
            )
            frames.append((PCMA, audioop.lin2alaw(samples, 2), False))
        self._send_all(frames)

    def silence(self, seconds: float) -> None:
        self._send_all([(PCMA, SILENCE, False)] * int(seconds * 50))

    def press(self, key: str) -> None:
        """One key as RFC 4733 events: 100 ms of updates, then the end packet three times."""
        event = "0123456789*#".index(key)
        updates = [(EVENTS, struct.pack("!BBH", event, 10, n * 160), n == 1) for n in range(1, 6)]
        ends = [(EVENTS, struct.pack("!BBH", event, 0x80 | 10, 5 * 160), False)] * 3
        self._send_all(updates + ends)


def tone_heard(audio: CallerAudio, frequency: float, run: int, within: float) -> bool:
    """Whether ``run`` packets in a row (20 ms each) of a ``frequency`` tone
    reach the caller within ``within`` s; returns as soon as they have (what
    follows stays unread)."""
    from .wav import alaw_to_linear, dominant_frequency, rms

    deadline = time.monotonic() + within
    streak = 0
    while (left := deadline - time.monotonic()) > 0:
        [packet] = audio.packets(1, left) or [None]
        if packet is None:
            return False
        samples = alaw_to_linear(packet[12:])
        tone = rms(samples) > 1000 and abs(dominant_frequency(samples) - frequency) < 60
        streak = streak + 1 if tone else 0
        if streak >= run:
            return True
    return False


def media_call(stack, sip_target, number: str, ending: str = WAIT_FOR_HANGUP, timeout_s: int = 120):
    """Start a carrier call to ``number``: (SIPp, the caller's audio)."""
    audio = CallerAudio()
    sipp = Sipp(
        "uac_media.xml",
        port=stack.ports.demo_trunk,
        remote=sip_target,
        service=number,
        keys={"rtp_port": audio.port},
        values={"ending": ending},
        timeout_s=timeout_s,
        recv_timeout_s=timeout_s,
    ).start()
    return sipp, audio


def heard_as(cfg, burst: Burst, name: str, language: str = "ru", **values: str) -> float:
    """How well a burst (PCMA) matches the standard prompt ``name`` in
    ``language`` (with ``values`` in its text, a number say) as the media app
    renders it (the same text, the same file): the best correlation of their
    loudness envelopes."""
    library = PromptLibrary(cfg.media.data_dir / "prompts", engine=cfg.media.tts_engine)
    received = envelope(b"".join(alaw_to_linear(p) for p in burst.payloads))
    return best_match(received, spoken_envelope(asyncio.run(library.standard(name, language, **values))))[0]


def leave_message(audio: CallerAudio, seconds: float = 1.5) -> None:
    """After the box's greeting and beep: speak, then #."""
    assert audio.burst(within=20) is not None, "the voicemail greeting never came"
    audio.speak(seconds)
    audio.press("#")


def ended(sipp: Sipp, audio: CallerAudio):
    """SIPp's result once the call is over; the caller's socket is closed either way."""
    try:
        return sipp.wait()
    finally:
        sipp.stop()
        audio.close()


def message_of(db, call_id: str) -> dict:
    """The voicemail message a call left, once the media app has stored it."""
    return wait_for(
        lambda: db.execute("SELECT * FROM voicemail_messages WHERE call_id = %s", (call_id,)).fetchone(),
        10,
        f"the voicemail message of {call_id}",
    )


def upload_tone(stack, demo, prompt_id: int, frequency: int, seconds: float, workdir) -> None:
    """Upload a pure tone as a prompt's recording, as an administrator would upload a file."""
    source = workdir / f"tone-{frequency}.wav"
    subprocess.run(
        ["sox", "-n", "-r", "44100", "-c", "2", str(source), "synth", str(seconds), "sine", str(frequency)], check=True
    )
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.ports.sidecar}/api/v1/prompts/{prompt_id}/recording",
        method="PUT",
        data=source.read_bytes(),
        headers={"Authorization": f"Bearer {demo['admin_api_token']}", "Content-Type": "audio/wav"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


@contextmanager
def answering_phone(
    register,
    login: str,
    *,
    scenario: str = "uas_answer_pcma.xml",
    ring_ms: int = 0,
    timeout_s: int = 60,
    recv_timeout_s: int = 30,
    keys: dict[str, int] | None = None,
):
    """A company phone, registered as ``login``, that rings ``ring_ms`` then answers
    (SIPp), its RTP on a socket the test owns: (SIPp, the socket). Both are
    stopped and closed on the way out. ``keys``: more of the scenario's [keys]."""
    rtp = RtpEndpoint()
    phone = None
    try:
        port = free_udp_port()
        assert register(login, port)[0] == 200
        phone = Sipp(
            scenario,
            port=port,
            keys={"rtp_port": rtp.port, **(keys or {})},
            values={"ring_ms": ring_ms},
            timeout_s=timeout_s,
            recv_timeout_s=recv_timeout_s,
        ).start()
        yield phone, rtp
    finally:
        if phone is not None:
            phone.stop()
        rtp.close()


def phone_media_call(
    sip_target,
    demo,
    login: str,
    dialled: str,
    ending: str = WAIT_FOR_HANGUP,
    timeout_s: int = 120,
    *,
    password: str | None = None,
):
    """A demo company phone dials ``dialled`` and reaches the media app: (SIPp,
    the caller's audio). A phone of an employee a test created gives its ``password``."""
    account = next((a for a in demo["accounts"] if a["login"] == login), {"domain": demo["accounts"][0]["domain"]})
    audio = CallerAudio()
    sipp = Sipp(
        "phone_media.xml",
        port=free_udp_port(),
        remote=sip_target,
        service=dialled,
        auth=(login, password if password is not None else account["password"]),
        keys={"caller": login, "domain": account["domain"], "rtp_port": audio.port},
        values={"ending": ending},
        timeout_s=timeout_s,
        recv_timeout_s=timeout_s,
    ).start()
    return sipp, audio


__all__ = ["phone_media_call", "CallerAudio", "media_call", "hang_up_after", "WAIT_FOR_HANGUP", "free_udp_port"]
