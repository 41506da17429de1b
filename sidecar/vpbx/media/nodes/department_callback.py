"""A department nobody answered whose rule is "call back later" (R4, seed
000): the caller hears that the department will call them back, at which
number, and hangs up; media/callbacks.py rings the department once they did,
then the caller. A caller with no phone number to call (an internal call, a
hidden number) hears that nobody can answer instead. History counts the
call as missed and names the callback (its number, then its own line)."""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress

from ...routing.numbers import callback_number
from ..call import HungUp, MediaCall
from ..callbacks import CALLBACK_KEPT_S, DepartmentRequests, asked_event
from ..store import Department
from ..waiting_line import keep_fresh
from .context import NodeContext
from .feature import spoken

log = logging.getLogger(__name__)

WHAT = "department"


async def find(ctx: NodeContext, department_id: int, company_id: int) -> Department | None:
    return await ctx.store.department(department_id, company_id)


async def by_id(call: MediaCall, department_id: int | None, company_id: int, ctx: NodeContext) -> bool:
    """Promise the callback of the department routing named, if it (still) exists: whether it did."""
    department = await find(ctx, department_id, company_id) if department_id else None
    if department is None:
        return False
    await run(call, department, ctx)
    return True


async def run(call: MediaCall, department: Department, ctx: NodeContext) -> None:
    number = callback_number(call.caller, department.region)
    if number is None:
        await call.play(await ctx.prompts.standard("nobody_answered", call.language))
        return
    requests = DepartmentRequests(ctx.redis, department.id)
    request = {
        "company_id": department.company_id,
        "domain": department.domain,
        "number": number,
        "expires_at": time.time() + CALLBACK_KEPT_S,
    }
    await requests.ask(call.call_id, request, CALLBACK_KEPT_S + 60)
    log.info("%s: department %s calls %s back", call.call_id, department.id, number)
    # Nobody is rung for the caller while they still hear the promise.
    keeping = asyncio.ensure_future(keep_fresh(lambda: requests.keep_on_the_line(call.call_id)))
    try:
        with suppress(HungUp):
            prompt = await ctx.prompts.standard("department_callback_asked", call.language, number=spoken(number))
            await call.play(prompt)
    finally:
        keeping.cancel()
        await requests.hung_up(call.call_id)
        # Sent once the promise was heard: the caller's line (Kamailio's event at
        # the answer) is surely written by then.
        await ctx.history.send(asked_event(call.call_id, ctx.now(), number, department_id=department.id))
