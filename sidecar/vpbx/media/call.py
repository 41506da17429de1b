"""A call the media app answered: its dialog, its media, and what a flow
(IVR, voicemail) may do with it: play, read digits, record, hang up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from . import sdp
from .dialogs import Dialog
from .ng import AsyncNgClient, NgError, NgTimeout
from .rtp import Recording, RtpSocket

log = logging.getLogger(__name__)

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
        task = asyncio.ensure_future(awaitable)
        ended = asyncio.ensure_future(self.ended.wait())
        try:
            done, _ = await asyncio.wait({task, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
        if task in done:
            return task.result()
        task.cancel()
        raise HungUp(self.call_id)

    async def play(self, path, *, interruptible: bool = False) -> str | None:
        """Play a prompt to the caller and wait for its end. With ``interruptible``
        a key stops it and is returned (the caller need not hear a menu out)."""
        if self.ended.is_set():
            raise HungUp(self.call_id)
        try:
            reply = await self.ng.request(
                "play media", call_id=self.call_id, from_tag=self.dialog.remote_tag, file=str(path)
            )
        except (NgError, NgTimeout) as exc:
            # The caller hears nothing of this prompt; the flow goes on rather than dropping the call.
            log.error("%s: cannot play %s: %s", self.call_id, path, exc)
            return None
        seconds = int(reply.get("duration", 0)) / 1000
        if not interruptible:
            await self.until_ended(asyncio.sleep(seconds))
            return None
        key = await self.next_digit(seconds)
        if key is not None:
            await self.stop_playing()
        return key

    async def stop_playing(self) -> None:
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
