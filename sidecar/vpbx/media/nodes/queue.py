"""A call queue (R18): the caller waits with music in the queue's waiting
line, shared by every media app (media/waiting_line.py), and is put through
to a free agent in their turn.

While a caller waits, every second: their place is read again; a caller
whose place is within the number of free agents claims the next one
(media/agent_turns.py: penalty, strategy, agents who just did not answer)
and rings them (one leg through Kamailio: routing.plan.build_agents_plan
skips an agent away, on do-not-disturb or forwarding); "ring all" rings
every free agent at once, and only the one who answered rests after the call
(Kamailio says who, routing.targets.ANSWERED_BY_HEADER). The caller leaves
the line the moment an agent answers; the agent rests for the queue's
wrap-up time after the call. At the longest wait, or when the line is full
(or no agent is there and the queue takes no one then), the caller goes to
the queue's voicemail box, else hears a goodbye.

Only agents logged in and not paused are rung (feature codes *45/*46 and
*47/*48, or the API), read again every few seconds while a caller waits.

With ``whisper`` the agent who answers first hears the queue's name and the
wait; with ``announce_wait`` each position announcement adds the estimated
wait (the queue's running average, WaitingLine.estimated_wait).

Each caller's time in the queue (wait, outcome, agent, talk time) goes to
history as an event (Visit); statistics and /metrics read it from there.

While waiting a caller may press VOICEMAIL_KEY to leave a message (a queue
with a voicemail box) or CALLBACK_KEY to be called back in their turn (a
queue that offers it, a caller with a phone number): the request keeps their
place, media/callbacks.py serves it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ...history import events
from ...routing import leg_names
from ...routing.numbers import callback_number
from ..agent_turns import LOOK_EVERY_S, AgentTurns
from ..call import HungUp, MediaCall, first_done
from ..callbacks import CALLBACK_KEPT_S, asked_event
from ..connect import play_while_ringing
from ..store import Queue
from ..waiting_line import WaitingLine, keep_fresh
from . import voicemail
from .context import NodeContext
from .feature import spoken

log = logging.getLogger(__name__)

WHAT = "call queue"
# What a waiting caller may press.
VOICEMAIL_KEY, CALLBACK_KEY = "1", "2"
# How a caller's time in the queue ended (queue_calls.outcome).
ANSWERED, TIMEOUT, VOICEMAIL, CALLBACK = "answered", "timeout", "voicemail", "callback"


async def find(ctx: NodeContext, queue_id: int, company_id: int) -> Queue | None:
    return await ctx.store.queue(queue_id, company_id)


async def run(call: MediaCall, queue: Queue, ctx: NodeContext) -> None:
    visit = Visit(queue, call.call_id, ctx.now(), time.monotonic())
    try:
        await _queue(call, queue, ctx, visit)
    finally:
        # A caller gone before any outcome hung up while waiting.
        await visit.report(ctx, "abandoned")


async def _queue(call: MediaCall, queue: Queue, ctx: NodeContext, visit: Visit) -> None:
    line = WaitingLine(ctx.redis, queue.id)
    if not queue.join_empty and not await line.free(list(queue.agents)):
        log.info("%s: queue %s has no free agent and takes no one then", call.call_id, queue.id)
        await visit.left(ctx, "no_agents")
        await _fall_back(call, queue, ctx)
        return
    place = await line.join(call.call_id, queue.max_callers, call.priority)
    if place is None:
        log.info("%s: queue %s is full (%s callers)", call.call_id, queue.id, queue.max_callers)
        await visit.left(ctx, "full")
        await _fall_back(call, queue, ctx)
        return
    log.info("%s: joined queue %s at place %s (priority %s)", call.call_id, queue.id, place + 1, call.priority)
    keeping = asyncio.ensure_future(keep_fresh(lambda: line.keep_alive(call.call_id)))
    outcome = TIMEOUT
    try:
        outcome = await _wait_for_an_agent(call, queue, line, ctx, visit)
    finally:
        keeping.cancel()
        if outcome != CALLBACK:  # a callback request keeps the caller's place
            await line.leave(call.call_id)
    if outcome == ANSWERED:
        return
    if outcome == CALLBACK:
        await _callback_asked(call, queue, line, ctx, visit)
        return
    await visit.left(ctx, outcome)
    await _fall_back(call, queue, ctx)


async def _callback_asked(call: MediaCall, queue: Queue, line: WaitingLine, ctx: NodeContext, visit: Visit) -> None:
    """The caller pressed CALLBACK_KEY: their place is kept for them and they
    hear which number will be called (media/callbacks.py calls it)."""
    number = callback_number(call.caller, queue.region)
    if number is None:  # offered only to callers with a number: never so
        await visit.left(ctx, TIMEOUT)
        await _fall_back(call, queue, ctx)
        return
    now = time.time()
    await line.ask_callback(
        call.call_id,
        {
            "company_id": queue.company_id,
            "domain": queue.domain,
            "number": number,
            "joined_at": visit.joined_at.isoformat(),
            "expires_at": now + CALLBACK_KEPT_S,
        },
        CALLBACK_KEPT_S + 60,
    )
    visit.callback_number = number
    await visit.left(ctx, CALLBACK)
    await ctx.history.send(asked_event(call.call_id, ctx.now(), number, queue_id=queue.id))
    log.info("%s: queue %s calls %s back in their turn", call.call_id, queue.id, number)
    try:
        with suppress(HungUp):
            await call.stop_playing()
            await call.play(await ctx.prompts.standard("queue_callback_asked", call.language, number=spoken(number)))
    finally:
        await line.hung_up(call.call_id)  # not called back while still on the line


@dataclass
class Visit:
    """A caller's time in the queue, for history and statistics (the
    history keeper writes queue_calls from these events)."""

    queue: Queue
    call_id: str
    joined_at: datetime
    joined: float  # monotonic
    outcome: str | None = None
    left_at: datetime | None = None
    employee_id: int | None = None
    answered: float | None = None  # monotonic
    callback_number: str | None = None

    async def left(self, ctx: NodeContext, outcome: str, employee_id: int | None = None) -> None:
        self.outcome, self.left_at, self.employee_id = outcome, ctx.now(), employee_id
        if outcome == ANSWERED:
            self.answered = time.monotonic()
        await ctx.history.send(self._event())

    async def report(self, ctx: NodeContext, otherwise: str) -> None:
        """At the end of the caller's time here: the outcome if none was sent
        yet, or how long an answered caller talked."""
        if self.outcome is None:
            await self.left(ctx, otherwise)
        elif self.answered is not None:
            await ctx.history.send(self._event(talk_s=round(time.monotonic() - self.answered, 3)))

    def _event(self, talk_s: float | None = None) -> dict:
        left_at = self.left_at or self.joined_at
        return {
            "type": events.QUEUE,
            "call_id": self.call_id,
            "queue_id": self.queue.id,
            "company_id": self.queue.company_id,
            "joined_at": self.joined_at.isoformat(),
            "left_at": left_at.isoformat(),
            "outcome": self.outcome,
            "wait_s": round((left_at - self.joined_at).total_seconds(), 3),
            "employee_id": self.employee_id,
            "talk_s": talk_s,
            "callback_number": self.callback_number,
        }


async def _wait_for_an_agent(call: MediaCall, queue: Queue, line: WaitingLine, ctx: NodeContext, visit: Visit) -> str:
    """Until an agent took the call (ANSWERED), the longest wait is over
    (TIMEOUT) or the caller pressed a key (VOICEMAIL, CALLBACK)."""
    music = await _music(queue, call.language, ctx)
    keys = _keys(call, queue)
    deadline = time.monotonic() + queue.max_wait_s
    next_announcement = time.monotonic() + queue.announce_position_s if queue.announce_position_s else None
    turns = AgentTurns(queue, ctx.store, line)
    if keys:
        await _say_keys(call, keys, ctx)
    await _play_music(call, music, ctx)
    while time.monotonic() < deadline:
        place = await line.place(call.call_id)
        if place is None:  # dropped from the line (taken for dead during a Redis outage): back in, at the end
            place = await line.join(call.call_id, queue.max_callers + 1, call.priority)
            if place is None:
                return TIMEOUT
        if next_announcement is not None and time.monotonic() >= next_announcement:
            await _announce(call, queue, line, place, ctx)
            if keys:
                await _say_keys(call, keys, ctx)
            await _play_music(call, music, ctx)
            next_announcement = time.monotonic() + queue.announce_position_s
        agents = await turns.claim(call.call_id, place, every=queue.strategy == "ring_all")
        if agents:
            if await _ring_agents(call, queue, line, agents, music, ctx, visit):
                return ANSWERED
            turns.not_answered(agents)
            call.clear_digits()  # keys pressed while agents rang were heard by no one
            await _play_music(call, music, ctx)
            continue
        key = await call.next_digit(LOOK_EVERY_S)
        if key is not None and key in keys:
            return keys[key]
    return TIMEOUT


async def _announce(call: MediaCall, queue: Queue, line: WaitingLine, place: int, ctx: NodeContext) -> None:
    """Every announce_position_s: the caller's place, the estimated wait, the company's own prompt."""
    if queue.announce_position:
        await call.play(await ctx.prompts.standard("queue_position", call.language, position=place + 1))
    estimate = await line.estimated_wait() if queue.announce_wait else None
    if estimate is not None:
        await call.play(
            await ctx.prompts.standard("queue_wait", call.language, minutes=max(1, math.ceil(estimate / 60)))
        )
    if queue.announcement is not None:
        await call.play(await ctx.prompts.greeting(queue.announcement, "forward_greeting", call.language))


def _keys(call: MediaCall, queue: Queue) -> dict[str, str]:
    """What a waiting caller may press: a message (when the queue has a box)
    and a callback (when the queue offers it and the caller has a number)."""
    keys = {}
    if queue.fallback_voicemail_box_id is not None:
        keys[VOICEMAIL_KEY] = VOICEMAIL
    if queue.offer_callback and callback_number(call.caller, queue.region) is not None:
        keys[CALLBACK_KEY] = CALLBACK
    return keys


async def _say_keys(call: MediaCall, keys: dict[str, str], ctx: NodeContext) -> None:
    for key, outcome in keys.items():
        if await call.play(
            await ctx.prompts.standard(f"queue_press_{outcome}", call.language, key=key), interruptible=True
        ):
            call.digits.put_nowait(key)  # pressed during the prompt: the loop acts on it
            return


async def _ring_agents(
    call: MediaCall,
    queue: Queue,
    line: WaitingLine,
    agents: list[int],
    music: Path | None,
    ctx: NodeContext,
    visit: Visit,
) -> bool:
    """Ring the claimed agents; True once one answered and the call is over."""
    user = leg_names.agents_user(queue.id, queue.agent_ring_s, agents)
    refreshing = asyncio.ensure_future(keep_fresh(lambda: line.keep_claims(agents, call.call_id)))
    took = False
    answered_by: int | None = None

    async def answered(employee_id: int | None) -> None:
        nonlocal took, answered_by
        took, answered_by = True, employee_id
        await line.leave(call.call_id)  # the next caller moves up now, not when this call ends
        await visit.left(ctx, ANSWERED, employee_id if employee_id is not None else _only(agents))
        await line.answered_after(time.monotonic() - visit.joined)

    whisper = await _whisper(queue, visit, call.language, ctx) if queue.whisper else None
    connecting = asyncio.ensure_future(
        ctx.connect(call, user, queue.domain, music=music, whisper=whisper, answered=answered)
    )
    try:
        first = await first_done({"connect": asyncio.shield(connecting), "hang-up": call.ended.wait()})
        if first == "hang-up" and not connecting.done():
            # The caller is gone while agents ring: the line and the agents are
            # freed now. The leg's INVITE ends in its own time (CANCEL, then the
            # final answer, which a phone that never replied sends only at the
            # ring timeout): connect finishes that in the background.
            connecting.add_done_callback(_swallow_hang_up)
            await line.leave(call.call_id)
            raise HungUp(call.call_id)
        if await connecting:
            return True
        return took
    finally:
        refreshing.cancel()
        for agent in agents:
            # The agent who answered rests; the others rung with them are free at once
            # (when Kamailio did not say who answered, every one rung rests).
            took_it = took and answered_by in (agent, None)
            await line.release(agent, queue.wrap_up_s if took_it else 0)
            if took_it:
                await line.took_call(agent)
                await line.answered(agent)
            elif not took and not call.ended.is_set():
                await _count_miss(queue, line, agent, ctx)


async def _count_miss(queue: Queue, line: WaitingLine, agent: int, ctx: NodeContext) -> None:
    """An agent who leaves ``pause_after_misses`` queue calls in a row unanswered is paused."""
    if not queue.pause_after_misses:
        return
    if await line.missed(agent) >= queue.pause_after_misses:
        misses = queue.pause_after_misses
        await ctx.store.pause_agent(queue.id, agent, f"missed {misses} call{'s' if misses > 1 else ''} in a row")
        await line.answered(agent)  # counted afresh once unpaused
        log.info("queue %s: agent %s paused after %s missed calls", queue.id, agent, queue.pause_after_misses)


async def _whisper(queue: Queue, visit: Visit, language: str, ctx: NodeContext) -> Path:
    """What the agent who answers hears first: the queue's name and, past a
    minute, how long the caller waited (as the agents are rung)."""
    minutes = int((time.monotonic() - visit.joined) // 60)
    if minutes < 1:
        return await ctx.prompts.standard("queue_whisper_short", language, queue=queue.name)
    return await ctx.prompts.standard("queue_whisper", language, queue=queue.name, minutes=minutes)


def _only(agents: list[int]) -> int | None:
    return agents[0] if len(agents) == 1 else None


def _swallow_hang_up(task: asyncio.Future) -> None:
    if not task.cancelled() and not isinstance(task.exception(), (HungUp, type(None))):
        log.error("a queue's leg to its agents failed after the caller hung up: %r", task.exception())


async def _music(queue: Queue, language: str, ctx: NodeContext) -> Path | None:
    """The queue's music; None: the standard ringback."""
    if queue.music is None or queue.music.kind == "default":
        return None
    return await ctx.prompts.greeting(queue.music, "forward_greeting", language)


async def _play_music(call: MediaCall, music: Path | None, ctx: NodeContext) -> None:
    await play_while_ringing(call, music or await ctx.prompts.ringback())


async def _fall_back(call: MediaCall, queue: Queue, ctx: NodeContext) -> None:
    with suppress(HungUp):
        await call.stop_playing()
        if await voicemail.by_id(call, queue.fallback_voicemail_box_id, queue.company_id, ctx):
            return
        await call.play(await ctx.prompts.standard("nobody_answered", call.language))
