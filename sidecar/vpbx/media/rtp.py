"""The media app's own RTP socket for a call: rtpengine forwards the caller's
audio here, and a voicemail records it.

G.711 is decoded with the standard library's audioop (deprecated since 3.11,
gone in 3.13: the audioop-lts package keeps the same API for then).
"""

from __future__ import annotations

import asyncio
import struct
import time
import warnings
import wave
from collections.abc import Callable
from pathlib import Path

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

RATE = 8000
SAMPLE_BYTES = 2
# A frame louder than this (RMS of 16-bit samples) is speech, not line noise.
SPEECH_RMS = 400
_DECODERS = {8: audioop.alaw2lin, 0: audioop.ulaw2lin}


class Recording:
    """The caller's audio from ``start`` on, placed by RTP timestamp: reordered
    packets land where they belong and lost ones leave silence."""

    def __init__(self, payload_type: int, max_seconds: float, clock: Callable[[], float] = time.monotonic):
        self.decode = _DECODERS[payload_type]
        self.payload_type = payload_type
        self.max_samples = int(max_seconds * RATE)
        self.clock = clock
        self.samples = bytearray()
        self.first_timestamp: int | None = None
        self.started = clock()
        self.last_speech = self.started  # when speech was last heard (the clock's time)
        self.speech_end = 0  # sample index just after the last speech frame
        self.packets = 0
        self.full = asyncio.Event()

    def add(self, payload_type: int, timestamp: int, payload: bytes) -> None:
        if payload_type != self.payload_type or self.full.is_set():
            return  # RFC 4733 events and comfort noise are not audio to keep
        if self.first_timestamp is None:
            self.first_timestamp = timestamp
        # Signed distance modulo 2^32: timestamps wrap, and a packet reordered
        # ahead of the first one is late audio from before the start, not 2^32 ahead.
        offset = ((timestamp - self.first_timestamp + 2**31) & 0xFFFFFFFF) - 2**31
        if offset < 0:
            return
        if offset > self.max_samples:
            self.full.set()
            return
        linear = self.decode(payload, SAMPLE_BYTES)
        start = offset * SAMPLE_BYTES
        end = min(start + len(linear), self.max_samples * SAMPLE_BYTES)
        if len(self.samples) < start:
            self.samples.extend(bytes(start - len(self.samples)))
        self.samples[start:end] = linear[: end - start]
        self.packets += 1
        if audioop.rms(linear, SAMPLE_BYTES) >= SPEECH_RMS:
            self.last_speech = self.clock()
            self.speech_end = max(self.speech_end, end // SAMPLE_BYTES)
        if end >= self.max_samples * SAMPLE_BYTES:
            self.full.set()

    async def silence(self, seconds: float) -> None:
        """Return once nothing but silence has come for ``seconds``."""
        while True:
            left = self.last_speech + seconds - self.clock()
            if left <= 0:
                return
            await asyncio.sleep(left)

    @property
    def speech_seconds(self) -> float:
        """Up to the end of the last speech: trailing silence is not the message."""
        return self.speech_end / RATE

    def write_wav(self, path: Path, *, trim_silence: bool) -> float:
        """Write 8 kHz mono 16-bit PCM; returns the duration written, in seconds."""
        samples = self.samples
        if trim_silence:
            # Keep half a second after the last word, as a person would stop the tape.
            samples = samples[: min(len(samples), (self.speech_end + RATE // 2) * SAMPLE_BYTES)]
        path.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(SAMPLE_BYTES)
            out.setframerate(RATE)
            out.writeframes(bytes(samples))
        return len(samples) / SAMPLE_BYTES / RATE


class RtpSocket(asyncio.DatagramProtocol):
    """One call's receiving socket. Audio is dropped unless a recording runs
    or a listener (a fax terminal) takes it."""

    def __init__(self):
        self.transport: asyncio.DatagramTransport | None = None
        self.recording: Recording | None = None
        # (payload type, payload) of each packet in the order it came.
        self.listener: Callable[[int, bytes], None] | None = None
        self.received = 0

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        self.received += 1
        if (self.recording is None and self.listener is None) or len(data) < 12 or data[0] >> 6 != 2:
            return
        first, marker_pt, _sequence, timestamp = struct.unpack("!BBHI", data[:8])
        header = 12 + 4 * (first & 0x0F)
        if first & 0x10 and len(data) >= header + 4:  # header extension
            header += 4 + 4 * struct.unpack("!H", data[header + 2 : header + 4])[0]
        payload = data[header:]
        if first & 0x20 and payload:  # padding
            payload = payload[: -payload[-1]]
        if self.listener is not None:
            self.listener(marker_pt & 0x7F, payload)
        if self.recording is not None:
            self.recording.add(marker_pt & 0x7F, timestamp, payload)

    @property
    def port(self) -> int:
        if self.transport is None:
            raise RuntimeError("the RTP socket is not open")
        return int(self.transport.get_extra_info("sockname")[1])

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class PortRange:
    """Hands out the media app's RTP ports, even ones as RTP convention has it."""

    def __init__(self, first: int, last: int):
        self.ports = list(range(first + first % 2, last, 2))
        self.next = 0

    async def open(self, host: str) -> RtpSocket:
        loop = asyncio.get_running_loop()
        for _ in range(len(self.ports)):
            port = self.ports[self.next]
            self.next = (self.next + 1) % len(self.ports)
            try:
                _, protocol = await loop.create_datagram_endpoint(RtpSocket, local_addr=(host, port))
                return protocol
            except OSError:
                continue  # taken by a call still running (or by someone else)
        raise OSError("no free RTP port in the media app's range")
