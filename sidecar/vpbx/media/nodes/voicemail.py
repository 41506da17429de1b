"""Voicemail (R11, R13): greeting, beep, record until the caller is done, keep
what was said, tell the box's recipients.

A message ends when the caller hangs up or presses #, after the box's silence
limit, or at its maximum length. Less speech than MIN_MESSAGE_S is no message
at all (R19: the call stays an ordinary missed call).
"""

from __future__ import annotations

import logging
import uuid

from ..call import HungUp, MediaCall, first_done
from ..store import Box
from .context import NodeContext

log = logging.getLogger(__name__)

WHAT = "voicemail box"
MIN_MESSAGE_S = 1.0


async def find(ctx: NodeContext, box_id: int, company_id: int) -> Box | None:
    return await ctx.store.box(box_id, company_id)


async def run(call: MediaCall, box: Box, ctx: NodeContext) -> None:
    await take_message(call, box, ctx)


async def take_message(call: MediaCall, box: Box, ctx: NodeContext) -> int | None:
    """Record a message into ``box``; its id, or None when nothing was left."""
    try:
        await call.play(await ctx.prompts.greeting(box.greeting, "voicemail_greeting", call.language))
        await call.play(await ctx.prompts.beep())
    except HungUp:
        await ctx.notices.history(call, box, None)
        return None
    call.clear_digits()
    recording = call.start_recording(box.max_length_s)
    received_at = ctx.now()
    ended_by = await first_done(
        {
            "hang-up": call.ended.wait(),
            "#": _pound(call),
            "silence": recording.silence(box.silence_s),
            "max length": recording.full.wait(),
        }
    )
    call.rtp.recording = None
    log.info(
        "%s: recording into box %s ended by %s: %.1f s of speech, %d packets",
        call.call_id,
        box.id,
        ended_by,
        recording.speech_seconds,
        recording.packets,
    )
    message_id = None
    if recording.speech_seconds >= MIN_MESSAGE_S:
        file_name = f"voicemail/{box.company_id}/{uuid.uuid4().hex}.wav"
        # Trailing silence is dropped unless the message was cut at its maximum length.
        duration = recording.write_wav(ctx.data_dir / file_name, trim_silence=ended_by != "max length")
        message_id = await ctx.store.save_message(
            box,
            call_id=call.call_id,
            caller=call.caller,
            called=call.called,
            received_at=received_at,
            duration_ms=max(1, round(duration * 1000)),
            file_name=file_name,
        )
    await ctx.notices.history(call, box, message_id)
    if not call.ended.is_set():
        try:
            await call.play(await ctx.prompts.standard("goodbye", call.language))
        except HungUp:
            pass
    if message_id is not None:
        # After the goodbye: the caller never waits for the mail server.
        ctx.background(ctx.notices.email(box, message_id, call, received_at, duration))
    return message_id


async def by_id(call: MediaCall, box_id: int | None, company_id: int, ctx: NodeContext) -> bool:
    """Take a message into the box routing named, if it (still) exists: whether it did."""
    box = await ctx.store.box(box_id, company_id) if box_id else None
    if box is None:
        return False
    await take_message(call, box, ctx)
    return True


async def _pound(call: MediaCall) -> None:
    while await call.digits.get() != "#":
        pass
