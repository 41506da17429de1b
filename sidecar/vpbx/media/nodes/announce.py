"""A scheme with announcements (R14): greet the caller, then ring the scheme's
steps one leg at a time, with music instead of ringback, a whisper to whoever
answers, and the forward notice before each step that follows one nobody
answered. Which steps ring and which voicemail follows is routing's, from the
company's directory document (vpbx.routing.plan.held_scheme_steps)."""

from __future__ import annotations

import functools
from dataclasses import replace

from ...routing import leg_names
from ...routing.plan import held_scheme_steps
from ..call import MediaCall
from ..store import Announced
from . import department_callback, voicemail
from .context import NodeContext

WHAT = "scheme"


async def find(ctx: NodeContext, scheme_id: int, company_id: int) -> Announced | None:
    scheme = await ctx.store.scheme(scheme_id, company_id)
    if scheme is None:
        return None
    directory = await ctx.documents.directory(scheme.domain)
    steps = held_scheme_steps(directory, scheme.id) if directory is not None else None
    if steps is None:
        raise LookupError(f"no routing for scheme {scheme.id}")
    return replace(scheme, steps=steps)


async def run(call: MediaCall, scheme: Announced, ctx: NodeContext) -> None:
    prompts = ctx.prompts
    if scheme.greeting is not None:
        await call.play(await prompts.greeting(scheme.greeting, "forward_greeting", call.language))
    # The standard music is the ringback tone itself.
    music = (
        await prompts.greeting(scheme.music, "forward_greeting", call.language)
        if scheme.music and scheme.music.kind != "default"
        else None
    )
    whisper = await prompts.greeting(scheme.whisper, "whisper", call.language) if scheme.whisper else None
    notice = (
        await prompts.greeting(
            scheme.notice if scheme.forward_notice == "custom" else None, "forward_notice", call.language
        )
        if scheme.forward_notice != "none"
        else None
    )
    after_call = (
        functools.partial(ctx.category_menu, call, scheme.category_menu) if scheme.category_menu is not None else None
    )
    unanswered = False
    for number, step in enumerate(scheme.steps, start=1):
        if step.rings:
            if unanswered and notice is not None:
                await call.play(notice)
            user = leg_names.scheme_step_user(scheme.id, number)
            if await ctx.connect(call, user, scheme.domain, music=music, whisper=whisper, after_call=after_call):
                return
            unanswered = True
        if await voicemail.by_id(call, step.voicemail_box_id, scheme.company_id, ctx):
            return
        if await department_callback.by_id(call, step.callback_department_id, scheme.company_id, ctx):
            return
    await call.play(await prompts.standard("nobody_answered", call.language))
