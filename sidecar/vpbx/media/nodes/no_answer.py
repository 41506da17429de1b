"""A direct call to an employee nobody answered, when their no-answer rule
(R15, seed 003) needs a voice: "drop with a message" plays the company's
message (or the standard one) and hangs up; a forward with a notice tells the
caller "your call will be answered by another specialist", then rings the
colleague or department the rule names through Kamailio
(vpbx.routing.plan.build_direct_forward_plan). History counts the call as
missed by the employee dialled unless the colleague answers (R19)."""

from __future__ import annotations

from ...routing import leg_names
from ..call import MediaCall
from ..store import NoAnswerRule
from .context import NodeContext

WHAT = "no-answer rule of employee"


async def find(ctx: NodeContext, employee_id: int, company_id: int) -> NoAnswerRule | None:
    return await ctx.store.no_answer(employee_id, company_id)


async def run(call: MediaCall, rule: NoAnswerRule, ctx: NodeContext) -> None:
    prompts = ctx.prompts
    if rule.rule == "drop_message":
        await call.play(await prompts.greeting(rule.message, "employee_unavailable", call.language))
        return
    if rule.notice != "none":
        custom = rule.notice_prompt if rule.notice == "custom" else None
        await call.play(await prompts.greeting(custom, "forward_notice", call.language))
    # Routing decides who the forward rings, from the company's document; a
    # rule changed since the call began rings what it says now.
    if await ctx.connect(call, leg_names.direct_forward_user(rule.employee_id), rule.domain):
        return
    await call.play(await prompts.standard("nobody_answered", call.language))
