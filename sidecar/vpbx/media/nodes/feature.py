"""Feature codes that change how an employee's calls are handled: do not
disturb, forward all calls (routing/feature_codes.py decided the code is
allowed). The change is saved, republished to routing, and said back to the
employee, who then knows it took effect before hanging up."""

from __future__ import annotations

import logging

from ...routing import feature_codes
from ..call import MediaCall
from ..store import Employee
from .context import NodeContext

log = logging.getLogger(__name__)

WHAT = "employee"


async def find(ctx: NodeContext, employee_id: int, company_id: int) -> Employee | None:
    return await ctx.store.employee(employee_id, company_id)


def spoken(number: str) -> str:
    """A number as TTS should read it: digit by digit, not as one large number."""
    return " ".join(number.lstrip("+"))


async def run(call: MediaCall, employee: Employee, ctx: NodeContext) -> None:
    # Routing read the same To when it sent the call here (a leg's name carries only the employee).
    feature = feature_codes.parse(call.called)
    if feature is not None and feature.name in AGENT_STATES:
        await _agent(call, employee, feature.name, ctx)
        return
    if feature is None or feature.name not in (
        feature_codes.DND_ON,
        feature_codes.DND_OFF,
        feature_codes.FORWARD_ON,
        feature_codes.FORWARD_OFF,
    ):
        log.error("%s: %r is no feature code this node carries out", call.call_id, call.called)
        await call.play(await ctx.prompts.standard("unavailable", call.language))
        return
    document = await ctx.documents.company(employee.domain)
    number = None
    if feature.name == feature_codes.FORWARD_ON:
        number, why = feature_codes.forward_number(document or {}, feature.argument)
        if number is None:
            log.error("%s: forward number refused here after routing took it: %s", call.call_id, why)
            await call.play(await ctx.prompts.standard("unavailable", call.language))
            return
    if feature.name in (feature_codes.DND_ON, feature_codes.DND_OFF):
        await ctx.store.set_dnd(employee, feature.name == feature_codes.DND_ON)
    else:
        await ctx.store.set_forward_all(employee, number)
    log.info(
        "%s: employee %s (%s) set %s %s", call.call_id, employee.extension, employee.id, feature.name, number or ""
    )
    if not await ctx.republish(employee.company_id):
        # Saved, but calls do not follow it until the routing cache does.
        await call.play(await ctx.prompts.standard("not_saved", call.language))
        return
    if number is not None:
        await call.play(await ctx.prompts.standard(feature.name, call.language, number=spoken(number)))
    else:
        await call.play(await ctx.prompts.standard(feature.name, call.language))


# What each agent code sets in every queue of the employee's (media/store.py: set_agent_state).
AGENT_STATES: dict[str, dict] = {
    feature_codes.AGENT_LOGIN: {"logged_in": True},
    feature_codes.AGENT_LOGOUT: {"logged_in": False},
    feature_codes.AGENT_PAUSE: {"pause": "paused by phone"},
    feature_codes.AGENT_UNPAUSE: {"unpause": True},
}


async def _agent(call: MediaCall, employee: Employee, code: str, ctx: NodeContext) -> None:
    """Queue agents' own codes: the queues read agents from the database while
    callers wait (media/nodes/queue.py), so nothing is republished."""
    queues = await ctx.store.set_agent_state(employee, **AGENT_STATES[code])
    log.info("%s: employee %s %s in %d queue(s)", call.call_id, employee.extension, code, queues)
    await call.play(await ctx.prompts.standard(code if queues else "not_an_agent", call.language))
