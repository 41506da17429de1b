"""Queue callbacks (R18; seed 000's "leave a message or call back later"): a
caller who pressed the key hung up, and their callback request stands in the
queue's waiting line in their place (media/waiting_line.py). In its turn,
when an agent is free, the agent is rung first, showing the caller's number;
once they answer, the caller is called, as the agent's own outgoing call
(media/click_to_call.py places both legs).

Every media app looks at the requests every second and serves those whose
lease it takes: a request whose media app died is taken over by another once
the lease lapses, and keeps its place meanwhile. An agent who does not answer
is released and the next free one is rung; a caller who does not answer is
not called again. History links the caller's line and the callback's line
(queue_calls.callback_call_id).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial

import redis
import redis.asyncio as aioredis

from ..history import events
from . import click_to_call
from .agent_turns import LOOK_EVERY_S, AgentTurns
from .click_to_call import ClickToCall
from .history_events import HistoryEvents
from .store import Queue, Store
from .waiting_line import WaitingLine, keep_fresh, pending_callbacks

log = logging.getLogger(__name__)

# How often a media app looks for callback requests nobody serves.
SCAN_EVERY_S = 1.0
# How a callback ended (queue_calls.callback_outcome).
ANSWERED, NO_ANSWER, EXPIRED, FAILED = "answered", "no_answer", "expired", "failed"


class QueueCallbacks:
    def __init__(
        self,
        client: aioredis.Redis,
        store: Store,
        placer: ClickToCall,
        history: HistoryEvents,
        owner: str,
        now: Callable[[], datetime],
    ):
        self.redis = client
        self.store = store
        self.placer = placer
        self.history = history
        self.owner = owner  # this media app, in the leases it holds
        self.now = now
        self.serving: dict[tuple[int, str], asyncio.Task] = {}

    async def serve(self) -> None:
        """Until cancelled: take every callback request no media app serves."""
        while True:
            try:
                for queue_id, call_id in await pending_callbacks(self.redis):
                    if (queue_id, call_id) in self.serving:
                        continue
                    line = WaitingLine(self.redis, queue_id)
                    if await line.lease(call_id, self.owner):
                        task = asyncio.ensure_future(self._serve(line, call_id))
                        self.serving[(queue_id, call_id)] = task
                        task.add_done_callback(partial(self._served, (queue_id, call_id)))
            except redis.RedisError as exc:
                log.warning("queue callbacks not read: %s", exc)
            await asyncio.sleep(SCAN_EVERY_S)

    def _served(self, key: tuple[int, str], _: asyncio.Task) -> None:
        self.serving.pop(key, None)

    async def stop(self) -> None:
        tasks = list(self.serving.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2)  # their agents released

    async def _serve(self, line: WaitingLine, call_id: str) -> None:
        leasing = asyncio.ensure_future(keep_fresh(lambda: line.keep_lease(call_id, self.owner)))
        try:
            request = await line.callback_request(call_id)
            queue = await self.store.queue(line.queue_id, request["company_id"]) if request else None
            if request is None or queue is None:  # expired in Redis, or the queue was deleted
                outcome, callback_call_id = EXPIRED, None
            else:
                outcome, callback_call_id = await self._call_back(queue, line, call_id, request)
            await self.history.send(
                {
                    "type": events.QUEUE_CALLBACK,
                    "call_id": call_id,
                    "queue_id": line.queue_id,
                    "at": self.now().isoformat(),
                    "outcome": outcome,
                    "callback_call_id": callback_call_id,
                }
            )
            await line.callback_done(call_id)
            log.info("%s: queue %s callback %s (%s)", call_id, line.queue_id, outcome, callback_call_id)
        except asyncio.CancelledError:
            raise  # stopping: the lease lapses and another media app goes on
        except Exception:
            log.exception("%s: queue %s callback failed", call_id, line.queue_id)
        finally:
            leasing.cancel()

    async def _call_back(self, queue: Queue, line: WaitingLine, call_id: str, request: dict) -> tuple[str, str | None]:
        """In the request's turn, ring a free agent, then the caller: how it
        went and the callback's Call-ID."""
        turns = AgentTurns(queue, self.store, line, read_at=0.0)
        while time.time() < request["expires_at"]:
            place = await line.place(call_id)
            if place is None:
                return FAILED, None  # taken out of the line by hand: nothing to serve
            if await line.on_the_line(call_id):  # still hearing that they will be called back
                await asyncio.sleep(LOOK_EVERY_S)
                continue
            agents = await turns.claim(call_id, place, every=False)
            if agents:
                placed = await self._place(queue, line, call_id, request, agents[0])
                if placed is not None:
                    return placed
                turns.not_answered(agents)
                continue
            await asyncio.sleep(LOOK_EVERY_S)
        return EXPIRED, None

    async def _place(
        self, queue: Queue, line: WaitingLine, call_id: str, request: dict, agent: int
    ) -> tuple[str, str] | None:
        """Ring the claimed agent, then the caller; None when the agent did not answer."""
        callback_call_id = f"callback-{secrets.token_hex(8)}@{queue.domain}"
        refreshing = asyncio.ensure_future(keep_fresh(lambda: line.keep_claims([agent], call_id)))
        result = click_to_call.FAILED
        try:
            result = await self.placer.place(
                click_to_call.Request(
                    callback_call_id, queue.company_id, queue.domain, agent, request["number"], time.time()
                ),
                employee_answered=lambda: line.leave(call_id),  # the next caller moves up now
            )
        finally:
            refreshing.cancel()
            took = result in (click_to_call.TALKED, click_to_call.CLIENT_MISSED)
            await line.release(agent, queue.wrap_up_s if took else 0)
            if took:
                await line.took_call(agent)
        if result == click_to_call.EMPLOYEE_MISSED:
            log.info("%s: agent %s did not answer the callback", call_id, agent)
            return None
        outcome = {click_to_call.TALKED: ANSWERED, click_to_call.CLIENT_MISSED: NO_ANSWER}.get(result, FAILED)
        return outcome, callback_call_id
