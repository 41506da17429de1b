"""An employee listens to their voicemail by phone (feature code *97): the
messages of their boxes, new ones first, each followed by a choice.

Keys as Asterisk's VoiceMailMain taught a generation of users: 5 hears the
message again, 7 deletes it, 9 saves it; # ends the session. A message heard
to its end, or saved, is no longer new (voicemail_messages.heard_at); one cut
short by a hang-up stays new.
"""

from __future__ import annotations

import logging

from ..call import MediaCall
from ..store import Employee, Message
from .context import NodeContext

log = logging.getLogger(__name__)

WHAT = "employee"
REPLAY, DELETE, SAVE, END = "5", "7", "9", "#"
# How long the employee has to choose after the choices were read out.
CHOICE_S = 5.0


async def find(ctx: NodeContext, employee_id: int, company_id: int) -> Employee | None:
    return await ctx.store.employee(employee_id, company_id)


async def run(call: MediaCall, employee: Employee, ctx: NodeContext) -> None:
    prompts = ctx.prompts
    messages = await ctx.store.messages_for(employee)
    new = sum(not m.heard for m in messages)
    await call.play(await prompts.standard("messages_count", call.language, new=new, saved=len(messages) - new))
    if messages:
        call.clear_digits()
        # Read out once; a key skips the rest of it.
        await call.play(await prompts.standard("messages_keys", call.language), interruptible=True)
    for message in messages:
        if await _one(call, message, employee, ctx) == END:
            await call.play(await prompts.standard("goodbye", call.language))
            return
    await call.play(await prompts.standard("no_more_messages", call.language))


async def _one(call: MediaCall, message: Message, employee: Employee, ctx: NodeContext) -> str | None:
    """Play a message until the employee chooses what becomes of it; the key that decided."""
    path = ctx.data_dir / message.file_name
    if not path.is_file():
        log.error("%s: message %s has no recording at %s", call.call_id, message.id, path)
        return None
    while True:
        key = await call.play(path, interruptible=True)
        if key is None:
            key = await call.next_digit(CHOICE_S)
        if key == REPLAY:
            continue
        if key == END:
            return key
        if key == DELETE:
            if await ctx.store.delete_message(message):
                path.unlink(missing_ok=True)
                log.info("%s: employee %s deleted message %s", call.call_id, employee.extension, message.id)
            await call.play(await ctx.prompts.standard("message_deleted", call.language))
            return key
        # Saved when asked, and when heard out without a choice.
        await ctx.store.mark_heard(message, ctx.now())
        if key == SAVE:
            await call.play(await ctx.prompts.standard("message_saved", call.language))
        return key
