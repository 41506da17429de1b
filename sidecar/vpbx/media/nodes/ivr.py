"""IVR menus (R10): the greeting, then a key. A key may interrupt the
greeting; no key within the menu's timeout takes its default route ("timeout");
an invalid key replays the menu, and after the menu's tries the default route
applies. A menu without a default route says goodbye and hangs up.

Where each key leads is routing's, from the company's compiled document
(vpbx.routing.plan.ivr_menu_keys, held_ivr_key): a submenu, a voicemail box,
a fax machine, or people rung through Kamailio and, if nobody answers, what
routing says then.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from ...routing import leg_names
from ...routing.plan import held_ivr_key, ivr_menu_keys
from ..call import MediaCall
from ..store import Menu
from . import department_callback, fax, queue, voicemail
from .context import NodeContext

log = logging.getLogger(__name__)

WHAT = "IVR menu"
DEFAULT_ROUTE = "timeout"
# Submenus may lead back to their parents; a caller cannot wander deeper than this.
MAX_DEPTH = 10


async def find(ctx: NodeContext, menu_id: int, company_id: int) -> Menu | None:
    """The menu, with where its keys lead. LookupError when the company has no
    routing; DocumentUnavailable when neither Redis nor a copy can say."""
    menu = await ctx.store.menu(menu_id, company_id)
    if menu is None:
        return None
    company = await ctx.documents.company(menu.domain)
    if company is None:
        raise LookupError(f"no routing for company {menu.domain}")
    return replace(menu, keys=ivr_menu_keys(company, menu.id))


async def run(call: MediaCall, menu: Menu, ctx: NodeContext, depth: int = 0) -> None:
    key = await choose(call, menu, ctx)
    destination = menu.keys.get(key)
    if destination is None:
        await call.play(await ctx.prompts.standard("goodbye", call.language))
        return
    if destination["kind"] == "ivr" and depth < MAX_DEPTH:
        submenu = await find(ctx, destination["ivr_menu_id"], menu.company_id)
        if submenu is not None:
            await run(call, submenu, ctx, depth + 1)
            return
    if destination["kind"] == "queue":
        waiting_line = await queue.find(ctx, destination["queue_id"], menu.company_id)
        if waiting_line is not None:
            await queue.run(call, waiting_line, ctx)
            return
    if destination["kind"] == "fax":  # R10's fax key: the caller's machine sends once it is pressed
        box = await fax.find(ctx, destination["voicemail_box_id"], menu.company_id)
        if box is not None:
            await fax.run(call, box, ctx)
            return
    held = held_ivr_key(destination)
    if held.rings and await ctx.connect(call, leg_names.ivr_key_user(menu.id, key), menu.domain):
        return
    if await voicemail.by_id(call, held.voicemail_box_id, menu.company_id, ctx):
        return
    if await department_callback.by_id(call, held.callback_department_id, menu.company_id, ctx):
        return
    if held.rings:
        await call.play(await ctx.prompts.standard("nobody_answered", call.language))
        return
    log.warning(
        "%s: menu %s key %s leads to %s, which the media app cannot reach",
        call.call_id,
        menu.id,
        key,
        destination["kind"],
    )
    await call.play(await ctx.prompts.standard("unavailable", call.language))


async def choose(call: MediaCall, menu: Menu, ctx: NodeContext) -> str:
    """The key the caller chose ("1", "*"), or DEFAULT_ROUTE (which a menu may not have)."""
    greeting = await ctx.prompts.greeting(menu.greeting, "ivr_greeting", call.language)
    invalid = 0
    while True:
        call.clear_digits()
        key = await call.play(greeting, interruptible=True)
        if key is None:
            key = await call.next_digit(menu.timeout_s)
        if key is None:
            log.info("%s: menu %s: no key in %s s, default route", call.call_id, menu.id, menu.timeout_s)
            return DEFAULT_ROUTE
        if key in menu.keys:
            log.info("%s: menu %s: key %s", call.call_id, menu.id, key)
            return key
        invalid += 1
        log.info("%s: menu %s: invalid key %s (%d of %d)", call.call_id, menu.id, key, invalid, menu.invalid_key_tries)
        await call.play(await ctx.prompts.standard("invalid_key", call.language))
        if invalid >= menu.invalid_key_tries:
            return DEFAULT_ROUTE
