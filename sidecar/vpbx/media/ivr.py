"""IVR menus (R10): the greeting, then a key. A key may interrupt the
greeting; no key within the menu's timeout takes its default route ("timeout");
an invalid key replays the menu, and after the menu's tries the default route
applies. A menu without a default route says goodbye and hangs up.
"""

from __future__ import annotations

import logging

from .call import MediaCall
from .store import Menu

log = logging.getLogger(__name__)

DEFAULT_ROUTE = "timeout"
# Submenus may lead back to their parents; a caller cannot wander deeper than this.
MAX_DEPTH = 10


async def choose(call: MediaCall, menu: Menu, services) -> str:
    """The key the caller chose ("1", "*"), or DEFAULT_ROUTE (which a menu may not have)."""
    greeting = await services.greeting(menu.greeting, "ivr_greeting")
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
        await call.play(await services.prompts.standard("invalid_key"))
        if invalid >= menu.invalid_key_tries:
            return DEFAULT_ROUTE
