"""The caller's side of calls the media app answers: SIPp does the signalling
(scenarios/uac_media.xml), and a socket the test owns is the caller's audio. It
hears the prompts as rtpengine plays them and sends speech and RFC 4733 keys."""

from __future__ import annotations

import math
import socket
import struct
import time
import warnings
from dataclasses import dataclass

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

from .sipp import Sipp, free_udp_port

PCMA, EVENTS = 8, 101
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


def hang_up_after(milliseconds: int) -> str:
    """SIPp hangs up itself, this long after the answer."""
    return f"""
  <pause milliseconds="{milliseconds}"/>
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Caller" <sip:79161234567@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
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
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.peer: tuple[str, int] | None = None  # rtpengine's port for the caller, learnt from its first packet
        self.sequence = 0
        self.timestamp = 0
        self.ssrc = 0x5EED0000 | (self.port & 0xFFFF)

    def close(self) -> None:
        self.sock.close()

    def _receive(self, timeout: float) -> tuple[bytes, float] | None:
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data, address = self.sock.recvfrom(2048)
        except socket.timeout:
            return None
        self.peer = self.peer or address
        return data, time.monotonic()

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

    def drain(self) -> None:
        while self._receive(0.001) is not None:
            pass

    def _send(self, payload_type: int, payload: bytes, *, marker: bool = False, advance: bool = True) -> None:
        self.sequence = (self.sequence + 1) & 0xFFFF
        header = struct.pack("!BBHII", 0x80, payload_type | (0x80 if marker else 0), self.sequence,
                             self.timestamp, self.ssrc)
        self.sock.sendto(header + payload, self.peer)
        if advance:
            self.timestamp = (self.timestamp + 160) & 0xFFFFFFFF

    def speak(self, seconds: float, frequency: float = 440.0, level: int = 8000) -> None:
        """A tone as the caller's voice, paced in real time (20 ms per packet)."""
        start = time.monotonic()
        for n in range(int(seconds * 50)):
            samples = b"".join(struct.pack("<h", int(level * math.sin(2 * math.pi * frequency * (n * 160 + i) / 8000)))
                               for i in range(160))
            self._send(PCMA, audioop.lin2alaw(samples, 2))
            delay = start + (n + 1) * 0.02 - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # media pacing, as a phone sends it

    def silence(self, seconds: float) -> None:
        start = time.monotonic()
        for n in range(int(seconds * 50)):
            self._send(PCMA, b"\xd5" * 160)
            delay = start + (n + 1) * 0.02 - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def press(self, key: str) -> None:
        """One key as RFC 4733 events: 5 updates of 20 ms, then the end packet three times."""
        event = "0123456789*#".index(key)
        for n in range(1, 6):
            self._send(EVENTS, struct.pack("!BBH", event, 10, n * 160), marker=n == 1, advance=False)
            time.sleep(0.02)
        for _ in range(3):
            self._send(EVENTS, struct.pack("!BBH", event, 0x80 | 10, 5 * 160), advance=False)
        self.timestamp = (self.timestamp + 6 * 160) & 0xFFFFFFFF


def media_call(stack, sip_target, number: str, ending: str = WAIT_FOR_HANGUP, timeout_s: int = 120):
    """Start a carrier call to ``number``: (SIPp, the caller's audio)."""
    audio = CallerAudio()
    sipp = Sipp("uac_media.xml", port=stack.ports.demo_trunk, remote=sip_target, service=number,
                keys={"rtp_port": audio.port}, values={"ending": ending}, timeout_s=timeout_s,
                recv_timeout_s=timeout_s).start()
    return sipp, audio


__all__ = ["CallerAudio", "media_call", "hang_up_after", "WAIT_FOR_HANGUP", "free_udp_port"]
