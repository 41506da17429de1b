"""A call the media app answered: its dialog, its media, and what a flow
(IVR, voicemail) may do with it: play, read digits, record, hang up."""

from __future__ import annotations

import asyncio
import logging
import random
import struct
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from . import sdp
from .dialogs import Dialog
from .ng import AsyncNgClient, NgError, NgTimeout
from .rtp import Recording, RtpSocket

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # as media/rtp.py says

log = logging.getLogger(__name__)

# Comfort noise: what the caller hears while no prompt plays (an IVR's wait,
# a message being recorded). A line with no RTP at all is taken for a dead one
# by some phones and carriers, which drop the call; digital silence is taken
# for one by others (and for a muted line by people). White noise this low
# (about -62 dBov) is neither, and is heard as a quiet open line.
NOISE_LEVEL = 40  # the loudest sample, 16-bit linear
NOISE_FRAMES = 25  # half a second of different frames, repeated
FRAME_SAMPLES = 160  # 20 ms at 8 kHz


def _noise_frames(payload_type: int) -> tuple[bytes, ...]:
    # Seeded: noise needs no secrecy, and the same frames serve every call.
    rng = random.Random(payload_type)  # noqa: S311
    encode = audioop.lin2alaw if payload_type == 8 else audioop.lin2ulaw
    return tuple(
        encode(struct.pack(f"<{FRAME_SAMPLES}h", *(rng.randint(-NOISE_LEVEL, NOISE_LEVEL) for _ in range(160))), 2)
        for _ in range(NOISE_FRAMES)
    )


NOISE = {payload_type: _noise_frames(payload_type) for payload_type in (0, 8)}


@dataclass
class ComfortNoise:
    """The media app's own RTP stream toward the caller (through rtpengine,
    which sends them on as it does everything the media app sends), paused
    while rtpengine plays a prompt to them."""

    peer: tuple[str, int]  # rtpengine's port for the media app's side of the call
    payload_type: int
    ssrc: int = field(default_factory=lambda: random.getrandbits(32))
    sequence: int = field(default_factory=lambda: random.getrandbits(16))
    timestamp: int = field(default_factory=lambda: random.getrandbits(32))
    frame: int = 0
    talkspurt: bool = True  # the next packet starts one: RTP's marker bit

    def next_packet(self, send: bool, payload: bytes | None = None) -> bytes | None:
        """The packet for the next 20 ms (``payload``: what it carries instead
        of noise), or None while paused (time runs on)."""
        self.timestamp = (self.timestamp + FRAME_SAMPLES) & 0xFFFFFFFF
        if not send:
            self.talkspurt = True
            return None
        self.sequence = (self.sequence + 1) & 0xFFFF
        marker = 0x80 if self.talkspurt else 0
        self.talkspurt = False
        if payload is None:
            frames = NOISE[self.payload_type]
            self.frame = (self.frame + 1) % len(frames)
            payload = frames[self.frame]
        header = struct.pack("!BBHII", 0x80, marker | self.payload_type, self.sequence, self.timestamp, self.ssrc)
        return header + payload


# RFC 4733 event codes of the keypad.
DIGITS = "0123456789*#"


async def first_done(waits: dict, timeout: float | None = None):
    """The key of the first of ``waits`` (key -> awaitable) to finish, the
    earlier in the dict if several have (None when ``timeout`` passes first).
    The others are cancelled."""
    tasks = {asyncio.ensure_future(awaitable): key for key, awaitable in waits.items()}
    try:
        done, _ = await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
    return next((key for task, key in tasks.items() if task in done), None)


ENDED = object()  # what unless_ended gives when the event came first


async def unless_ended(ended: asyncio.Event, awaitable):
    """``awaitable``'s result, or ENDED as soon as ``ended`` is set (the
    awaitable is then cancelled): a call's or a leg's dialog ending."""
    task = asyncio.ensure_future(awaitable)
    waiting = asyncio.ensure_future(ended.wait())
    try:
        done, _ = await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()
    if task in done:
        return task.result()
    task.cancel()
    return ENDED


class HungUp(Exception):
    """The caller hung up (or the dialog died) while a flow waited on the call."""


@dataclass
class MediaCall:
    dialog: Dialog
    rtp: RtpSocket
    answer: sdp.Answer
    ng: AsyncNgClient
    caller: str
    called: str
    hangup_request: Callable[[MediaCall], Awaitable[None]] | None = None  # set by the app: sends our BYE
    # The node module (vpbx.media.nodes) and its box, menu or scheme the call reached.
    node: tuple[ModuleType, Any] | None = None
    answer_body: bytes = b""  # our SDP, the same in every answer of the dialog
    digits: asyncio.Queue = field(default_factory=asyncio.Queue)
    priority: int = 0  # in call queues (X-Vpbx-Priority, from routing)
    language: str = "ru"  # of the standard prompts: the company's (companies.language)
    # rtpengine plays something to the caller (a prompt, ringback, music): no comfort noise meanwhile.
    playing: bool = False
    noise: ComfortNoise | None = None  # from the ACK on, until the caller is put through
    # What the media app sends instead of noise, 20 ms a call (a fax terminal's audio).
    transmit: Callable[[], bytes] | None = None

    @property
    def call_id(self) -> str:
        return self.dialog.call_id

    @property
    def ended(self) -> asyncio.Event:
        return self.dialog.ended

    def digit(self, event: int) -> None:
        if 0 <= event < len(DIGITS):
            self.digits.put_nowait(DIGITS[event])

    def clear_digits(self) -> None:
        while not self.digits.empty():
            self.digits.get_nowait()

    async def pause(self, seconds: float) -> None:
        """Wait ``seconds``; HungUp as soon as the caller hangs up."""
        await self.until_ended(asyncio.sleep(seconds))

    async def until_ended(self, awaitable):
        """``awaitable``'s result, or HungUp as soon as the call ends."""
        result = await unless_ended(self.ended, awaitable)
        if result is ENDED:
            raise HungUp(self.call_id)
        return result

    async def play(self, path, *, interruptible: bool = False) -> str | None:
        """Play a prompt to the caller and wait for its end. With ``interruptible``
        a key stops it and is returned (the caller need not hear a menu out)."""
        if self.ended.is_set():
            raise HungUp(self.call_id)
        self.playing = True
        try:
            reply = await self.ng.request(
                "play media", call_id=self.call_id, from_tag=self.dialog.remote_tag, file=str(path)
            )
        except (NgError, NgTimeout) as exc:
            # The caller hears nothing of this prompt; the flow goes on rather than dropping the call.
            log.error("%s: cannot play %s: %s", self.call_id, path, exc)
            self.playing = False
            return None
        seconds = int(reply.get("duration", 0)) / 1000
        try:
            if not interruptible:
                await self.until_ended(asyncio.sleep(seconds))
                return None
            key = await self.next_digit(seconds)
            if key is not None:
                await self.stop_playing()
            return key
        finally:
            self.playing = False

    def comfort_noise(self) -> None:
        """Send the next 20 ms of comfort noise, unless something plays (the media app's ticker calls this)."""
        transport = self.rtp.transport
        if self.noise is None or self.ended.is_set() or transport is None or transport.is_closing():
            return
        payload = self.transmit() if self.transmit is not None else None
        packet = self.noise.next_packet(send=not self.playing, payload=payload)
        if packet is not None:
            transport.sendto(packet, self.noise.peer)

    async def stop_playing(self) -> None:
        self.playing = False
        try:
            await self.ng.request("stop media", call_id=self.call_id, from_tag=self.dialog.remote_tag)
        except (NgError, NgTimeout) as exc:
            log.info("%s: stop media: %s", self.call_id, exc)

    async def next_digit(self, timeout: float) -> str | None:
        """The next key the caller presses within ``timeout`` seconds, else None."""
        try:
            return await self.until_ended(asyncio.wait_for(self.digits.get(), timeout))
        except TimeoutError:
            return None

    def start_recording(self, max_seconds: float) -> Recording:
        self.rtp.recording = Recording(self.answer.payload_type, max_seconds)
        return self.rtp.recording

    async def hang_up(self) -> None:
        if not self.ended.is_set() and self.hangup_request is not None:
            await self.hangup_request(self)
