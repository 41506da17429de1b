"""The post-call category menu (seed 002): once the caller hangs up, whoever
answered stays on the line, hears the menu's prompt and presses the key of
the call's category, which the caller's history line keeps.

The media app holds both legs of such a call (the scheme is "announced":
vpbx.media.connect bridges them), so when the caller's BYE comes it still
has the person's dialog. The caller's rtpengine session went with the
caller's BYE, and Kamailio does not anchor the media app's legs, so the
menu gets an rtpengine session of its own under the leg's Call-ID: the
media app offers its own RTP port, re-INVITEs the person with rtpengine's
SDP, and then plays the prompt with rtpengine and reads the person's keys
from rtpengine's DTMF log, as it does for callers. The person's BYE, or
the end of the menu, ends the leg and that session.

The category goes to the history keeper as an event, and to the company's
CRM (its ``events_url``) as a signed POST, off the call's path: a CRM that
is slow or down delays no BYE, and what it never took is logged as an error
and counted (vpbx_lookups_total{lookup="crm_events"}).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from ..addresses import IPNetwork
from ..history import events
from ..lookups.http import OK, LookupFailed, request_json, result_of
from . import sdp
from .call import DIGITS, ENDED, MediaCall, unless_ended
from .dialogs import Dialog, Dialogs
from .history_events import HistoryEvents
from .ng import AsyncNgClient, NgError, NgTimeout
from .prompts import PromptLibrary
from .rtp import PortRange
from .store import CategoryMenu, Store

log = logging.getLogger(__name__)

# Kamailio's flags for an offer and an answer (vpbx_kemi.RTPENGINE_FLAGS).
NG_FLAGS = {"replace": ["origin", "session-connection"], "ICE": "remove"}
# A key the menu lacks plays the prompt again, this many times in all at most.
PLAYS = 3
# The CRM has this long for each try to take a call's category; a try that
# failed is followed by the next after these pauses (then it is given up).
CRM_TRY_S = 5.0
CRM_PAUSES_S = (1.0, 4.0)
CRM_EVENTS = "crm_events"  # the metrics' name of these requests


def categorized_event(call_id: str, at: datetime, key: str, category: str, employee_id: int | None) -> dict:
    """History's event for a category pressed; ``call_id``: the caller's call."""
    return {
        "type": events.CATEGORIZED,
        "call_id": call_id,
        "at": at.isoformat(),
        "key": key,
        "category": category,
        "employee_id": employee_id,
    }


class CategoryMenus:
    """Runs the menu on the legs whose caller hung up, and takes the keys
    rtpengine (or a SIP INFO) reports for them."""

    def __init__(
        self,
        dialogs: Dialogs,
        ng: AsyncNgClient,
        prompts: PromptLibrary,
        ports: PortRange,
        host: str,
        history: HistoryEvents,
        now: Callable[[], datetime],
        store: Store,
        background: Callable[[Coroutine[Any, Any, Any]], asyncio.Task],
        allowed: tuple[IPNetwork, ...] = (),
    ):
        self.dialogs = dialogs
        self.ng = ng
        self.prompts = prompts
        self.ports = ports
        self.host = host
        self.history = history
        self.now = now
        self.store = store
        self.background = background
        self.allowed = allowed  # internal networks customers' URLs may reach
        # Leg Call-ID -> (the person's tag, their keys), while a menu runs on it.
        self.listening: dict[str, tuple[str, asyncio.Queue[str]]] = {}

    def digit(self, call_id: str, source_tag: str | None, event: int) -> bool:
        """A key pressed on a leg in a menu (False: no menu runs on ``call_id``).
        Only the person's: rtpengine also logs what it plays, under our tag."""
        found = self.listening.get(call_id)
        if found is None:
            return False
        tag, keys = found
        if source_tag in (None, tag) and 0 <= event < len(DIGITS):
            keys.put_nowait(DIGITS[event])
        return True

    async def run(self, call: MediaCall, menu: CategoryMenu, leg: Dialog, employee_id: int | None) -> None:
        """The menu on ``leg`` (the person who answered ``call``, whose caller
        hung up). Returns once a category was pressed, nothing was in time, or
        the person hung up, with the leg ended and its media session deleted."""
        try:
            rtp = await self.ports.open(self.host)
        except OSError as exc:
            log.error("%s: no media port for the category menu: %s", call.call_id, exc)
            return
        keys: asyncio.Queue[str] = asyncio.Queue()
        self.listening[leg.call_id] = (leg.remote_tag, keys)
        try:
            if not await self._take_over(call, leg, rtp.port):
                return
            key = await self._ask(call, leg, menu, keys)
            if key is None:
                log.info("%s: no category pressed", call.call_id)
                return
            category = menu.categories[key]
            log.info("%s: category %r (key %s)", call.call_id, category, key)
            event = categorized_event(call.call_id, self.now(), key, category, employee_id)
            await self.history.send(event)
            self.background(self._tell_crm(call, menu.company_id, event))
            await self._play(leg, await self.prompts.standard("category_saved", call.language))
        finally:
            self.listening.pop(leg.call_id, None)
            if not leg.ended.is_set():
                await self.dialogs.bye(leg)
            try:
                await self.ng.request("delete", call_id=leg.call_id)
            except (NgError, NgTimeout) as exc:
                log.info("%s: delete of the menu's media: %s", leg.call_id, exc)
            rtp.close()

    async def _tell_crm(self, call: MediaCall, company_id: int, event: dict) -> None:
        """POST the category to the company's CRM, when it takes call events."""
        try:
            found = await self.store.crm_events(company_id)
        except Exception as exc:  # noqa: BLE001 - a database outage must not lose the reason
            log.error("%s: category not sent to the CRM: its settings unreadable: %s", call.call_id, exc)
            await self.history.send(events.lookup(call.call_id, company_id, CRM_EVENTS, "error", 0.0))
            return
        if found is None:
            return
        url, secret = found
        payload = {
            "event": "call_categorized",
            "call_id": call.call_id,
            "caller": call.caller,
            "called": call.called,
            **{name: event[name] for name in ("employee_id", "key", "category", "at")},
        }
        started = time.monotonic()
        for attempt, pause in enumerate((*CRM_PAUSES_S, None), start=1):
            outcome = OK
            try:
                await asyncio.to_thread(
                    request_json,
                    "POST",
                    url,
                    payload,
                    secret,
                    time.monotonic() + CRM_TRY_S,
                    allowed=self.allowed,
                    wants_answer=False,
                    first_attempt=attempt,
                )
                break
            except LookupFailed as exc:
                outcome = result_of(exc.kind)
                status = exc.exchange.status if exc.exchange is not None else None
                # A URL we may not reach, or a CRM that says no (4xx): another try would say the same.
                if pause is None or exc.kind == "refused" or (status is not None and status < 500):
                    log.error("%s: the CRM did not take the call's category: %s", call.call_id, exc)
                    break
                log.warning(
                    "%s: the CRM did not take the call's category (%s): again in %s s", call.call_id, exc, pause
                )
                await asyncio.sleep(pause)
        await self.history.send(
            events.lookup(call.call_id, company_id, CRM_EVENTS, outcome, time.monotonic() - started)
        )

    async def _take_over(self, call: MediaCall, leg: Dialog, port: int) -> bool:
        """Point the person's media at an rtpengine session of the leg's own."""
        try:
            offer = await self.ng.request(
                "offer",
                call_id=leg.call_id,
                from_tag=leg.local_tag,
                sdp=sdp.offer_body(call.answer, self.host, port).decode(),
                **NG_FLAGS,
            )
        except (NgError, NgTimeout) as exc:
            log.error("%s: no media for the category menu: %s", call.call_id, exc)
            return False
        reply = await until(leg, self.dialogs.reinvite(leg, str(offer["sdp"]).encode()))
        if reply is None or not 200 <= (reply.status or 0) < 300:
            log.warning(
                "%s: the category menu's re-INVITE was answered %s",
                call.call_id,
                reply.status if reply is not None else "nothing",
            )
            return False
        try:
            await self.ng.request(
                "answer",
                call_id=leg.call_id,
                from_tag=leg.local_tag,
                to_tag=leg.remote_tag,
                sdp=reply.body.decode(),
                **NG_FLAGS,
            )
        except (NgError, NgTimeout) as exc:
            log.error("%s: the category menu's media: %s", call.call_id, exc)
            return False
        return True

    async def _ask(self, call: MediaCall, leg: Dialog, menu: CategoryMenu, keys: asyncio.Queue[str]) -> str | None:
        """The prompt, then ``menu.wait_s`` for a key; again after a key the
        menu lacks. A key pressed during the prompt counts."""
        prompt = await self.prompts.greeting(menu.prompt, "category_menu", call.language)
        for _ in range(PLAYS):
            seconds = await self._play(leg, prompt, keys)
            key = await until(leg, _next_key(keys, seconds + menu.wait_s))
            if key is None:
                return None
            await self._stop(leg)
            if key in menu.categories:
                return key
            log.info("%s: key %s is no category of menu %s", call.call_id, key, menu.id)
        return None

    async def _play(self, leg: Dialog, path, keys: asyncio.Queue[str] | None = None) -> float:
        """Play ``path`` to the person; its length in seconds (0 when it could
        not be played). Without ``keys`` it is waited out."""
        try:
            reply = await self.ng.request("play media", call_id=leg.call_id, from_tag=leg.remote_tag, file=str(path))
        except (NgError, NgTimeout) as exc:
            log.error("%s: cannot play %s: %s", leg.call_id, path, exc)
            return 0.0
        seconds = int(reply.get("duration", 0)) / 1000
        if keys is None:
            await until(leg, asyncio.sleep(seconds))
        return seconds

    async def _stop(self, leg: Dialog) -> None:
        try:
            await self.ng.request("stop media", call_id=leg.call_id, from_tag=leg.remote_tag)
        except (NgError, NgTimeout) as exc:
            log.info("%s: stop media: %s", leg.call_id, exc)


async def _next_key(keys: asyncio.Queue[str], timeout: float) -> str | None:
    try:
        return await asyncio.wait_for(keys.get(), timeout)
    except TimeoutError:
        return None


async def until(leg: Dialog, awaitable):
    """``awaitable``'s result, or None as soon as the person hangs up."""
    result = await unless_ended(leg.ended, awaitable)
    return None if result is ENDED else result
