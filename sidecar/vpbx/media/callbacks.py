"""Callbacks: a caller promised to be called back, served by whichever media
app takes the request, the same way for both kinds of request.

- A call queue's (R18; seed 000's "leave a message or call back later"): a
  caller who pressed the key hung up, and their request stands in the queue's
  waiting line in their place (media/waiting_line.py). In its turn, when an
  agent is free, the agent is rung first, showing the caller's number.
- A department's (R4's "if nobody answers: call back later", seed 000):
  nobody in the department answered, and the caller heard that they will be
  called back (media/nodes/department_callback.py). Once they hung up, every
  member on duty is rung at once (routing.plan.build_department_callback_plan);
  while nobody is on duty, nobody is rung, and a ring nobody answers is tried
  again every DEPARTMENT_RETRY_S.

Once an employee answers, the caller is called as that employee's own
outgoing call (media/click_to_call.py places both legs). Every media app
looks at the requests every second and serves those whose lease it takes: a
request whose media app died is taken over by another once the lease lapses,
and keeps its place meanwhile. A caller who does not answer is not called
again. History links the caller's line and the callback's line
(calls.callback_call_id; a queue's also in queue_calls).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial

import redis
import redis.asyncio as aioredis

from ..history import events
from ..routing import Call
from ..routing.plan import build_department_callback_plan
from . import click_to_call
from .agent_turns import LOOK_EVERY_S, AgentTurns
from .click_to_call import ClickToCall
from .history_events import HistoryEvents
from .routing_documents import DocumentUnavailable, RoutingDocuments
from .store import Queue, Store
from .waiting_line import ALIVE_S, CALLBACKS, LEASE_S, WaitingLine, keep_fresh

log = logging.getLogger(__name__)

# How often a media app looks for callback requests nobody serves.
SCAN_EVERY_S = 1.0
# How a callback ended (calls.callback_outcome, queue_calls.callback_outcome).
ANSWERED, NO_ANSWER, EXPIRED, FAILED = "answered", "no_answer", "expired", "failed"
# A callback request waits this long at most for someone to take it.
CALLBACK_KEPT_S = 4 * 3600
# A department whose members let its callback ring is rung again after this
# long; one with nobody on duty is looked at again after DEPARTMENT_IDLE_LOOK_S.
DEPARTMENT_RETRY_S = 120
DEPARTMENT_IDLE_LOOK_S = 30
QUEUE, DEPARTMENT = "queue", "department"
_DEPARTMENT_MEMBER = "department-"


def asked_event(call_id: str, at: datetime, number: str, **whose: int) -> dict:
    """History's event for a caller just promised a callback (``whose``:
    queue_id or department_id), sent by the node that promised it."""
    return {"type": events.CALLBACK_ASKED, "call_id": call_id, "at": at.isoformat(), "number": number, **whose}


def _new_callback_call_id(domain: str) -> str:
    return f"callback-{secrets.token_hex(8)}@{domain}"


def _outcome(placed: str) -> str:
    """A placed callback's outcome, from how click-to-call placed it."""
    return {click_to_call.TALKED: ANSWERED, click_to_call.CLIENT_MISSED: NO_ANSWER}.get(placed, FAILED)


async def pending_callbacks(client: aioredis.Redis) -> list[tuple[str, int, str]]:
    """Every callback request, oldest first: (QUEUE or DEPARTMENT, its id, the caller's Call-ID)."""
    pending = []
    for member in await client.zrange(CALLBACKS, 0, -1):
        owner, _, call_id = (member.decode() if isinstance(member, bytes) else member).partition(":")
        kind = DEPARTMENT if owner.startswith(_DEPARTMENT_MEMBER) else QUEUE
        owner_id = owner.removeprefix(_DEPARTMENT_MEMBER)
        if owner_id.isdigit() and call_id:
            pending.append((kind, int(owner_id), call_id))
    return pending


class DepartmentRequests:
    """A department's callback requests in Redis: each a key of its own,
    listed in CALLBACKS beside the queues' and leased like them, with an
    "on the line" key the caller's media app keeps fresh while the caller still
    hears the promise (nobody is rung for them before they hang up)."""

    def __init__(self, client: aioredis.Redis, department_id: int):
        self.redis = client
        self.department_id = department_id

    def _key(self, what: str, call_id: str) -> str:
        return f"vpbx:department:{self.department_id}:{what}:{call_id}"

    def _member(self, call_id: str) -> str:
        return f"{_DEPARTMENT_MEMBER}{self.department_id}:{call_id}"

    async def ask(self, call_id: str, request: dict, keep_s: int) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key("callback", call_id), json.dumps(request), ex=keep_s)
            pipe.set(self._key("on-the-line", call_id), "1", ex=ALIVE_S)
            pipe.zadd(CALLBACKS, {self._member(call_id): time.time()})
            await pipe.execute()

    async def keep_on_the_line(self, call_id: str) -> None:
        await self.redis.set(self._key("on-the-line", call_id), "1", ex=ALIVE_S)

    async def hung_up(self, call_id: str) -> None:
        await self.redis.delete(self._key("on-the-line", call_id))

    async def on_the_line(self, call_id: str) -> bool:
        return bool(await self.redis.exists(self._key("on-the-line", call_id)))

    async def callback_request(self, call_id: str) -> dict | None:
        text = await self.redis.get(self._key("callback", call_id))
        return json.loads(text) if text else None

    async def lease(self, call_id: str, owner: str) -> bool:
        return bool(await self.redis.set(self._key("callback-lease", call_id), owner, nx=True, ex=LEASE_S))

    async def keep_lease(self, call_id: str, owner: str) -> None:
        await self.redis.set(self._key("callback-lease", call_id), owner, ex=LEASE_S)

    async def callback_done(self, call_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(
                self._key("callback", call_id), self._key("callback-lease", call_id), self._key("on-the-line", call_id)
            )
            pipe.zrem(CALLBACKS, self._member(call_id))
            await pipe.execute()


class Callbacks:
    def __init__(
        self,
        client: aioredis.Redis,
        store: Store,
        documents: RoutingDocuments,
        placer: ClickToCall,
        history: HistoryEvents,
        owner: str,
        now: Callable[[], datetime],
    ):
        self.redis = client
        self.store = store
        self.documents = documents
        self.placer = placer
        self.history = history
        self.owner = owner  # this media app, in the leases it holds
        self.now = now
        self.serving: dict[tuple[str, int, str], asyncio.Task] = {}

    async def serve(self) -> None:
        """Until cancelled: take every callback request no media app serves."""
        while True:
            try:
                for key in await pending_callbacks(self.redis):
                    if key in self.serving:
                        continue
                    kind, owner_id, call_id = key
                    requests = (
                        WaitingLine(self.redis, owner_id) if kind == QUEUE else DepartmentRequests(self.redis, owner_id)
                    )
                    if await requests.lease(call_id, self.owner):
                        task = asyncio.ensure_future(self._serve(requests, call_id))
                        self.serving[key] = task
                        task.add_done_callback(partial(self._served, key))
            except redis.RedisError as exc:
                log.warning("callback requests not read: %s", exc)
            await asyncio.sleep(SCAN_EVERY_S)

    def _served(self, key: tuple[str, int, str], _: asyncio.Task) -> None:
        self.serving.pop(key, None)

    async def stop(self) -> None:
        tasks = list(self.serving.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=2)  # their agents released

    async def _serve(self, requests: WaitingLine | DepartmentRequests, call_id: str) -> None:
        leasing = asyncio.ensure_future(keep_fresh(lambda: requests.keep_lease(call_id, self.owner)))
        whose = (
            {"queue_id": requests.queue_id}
            if isinstance(requests, WaitingLine)
            else {"department_id": requests.department_id}
        )
        try:
            request = await requests.callback_request(call_id)
            if request is None:  # expired in Redis
                outcome, callback_call_id = EXPIRED, None
            elif isinstance(requests, WaitingLine):
                queue = await self.store.queue(requests.queue_id, request["company_id"])
                if queue is None:  # the queue was deleted
                    outcome, callback_call_id = EXPIRED, None
                else:
                    outcome, callback_call_id = await self._call_back(queue, requests, call_id, request)
            else:
                outcome, callback_call_id = await self._department_calls_back(requests, call_id, request)
            await self.history.send(
                {
                    "type": events.CALLBACK_SERVED,
                    "call_id": call_id,
                    **whose,
                    "at": self.now().isoformat(),
                    "outcome": outcome,
                    "callback_call_id": callback_call_id,
                }
            )
            await requests.callback_done(call_id)
            log.info("%s: callback %s %s (%s)", call_id, whose, outcome, callback_call_id)
        except asyncio.CancelledError:
            raise  # stopping: the lease lapses and another media app goes on
        except Exception:
            log.exception("%s: callback %s failed", call_id, whose)
        finally:
            leasing.cancel()

    async def _department_calls_back(
        self, requests: DepartmentRequests, call_id: str, request: dict
    ) -> tuple[str, str | None]:
        """Once the caller hung up, ring the department's members on duty, then
        the caller: how it went and the callback's Call-ID."""
        department_id, number, domain = requests.department_id, request["number"], request["domain"]
        while time.time() < request["expires_at"]:
            if await requests.on_the_line(call_id):  # still hearing that they will be called back
                await asyncio.sleep(LOOK_EVERY_S)
                continue
            try:
                directory = await self.documents.directory(domain)
            except DocumentUnavailable as exc:
                log.warning("%s: department %s callback waits: %s", call_id, department_id, exc)
                await asyncio.sleep(DEPARTMENT_IDLE_LOOK_S)
                continue
            callback_call_id = _new_callback_call_id(domain)
            # Routing says who is on duty now (the same plan Kamailio will build for the leg).
            call = Call(callback_call_id, number, number, "media", self.now())
            plan = build_department_callback_plan(directory, department_id, number, call, None) if directory else None
            if plan is None:
                return FAILED, None  # the company or the department is gone
            if not plan.steps:
                await asyncio.sleep(DEPARTMENT_IDLE_LOOK_S)
                continue
            result = await self.placer.place(
                click_to_call.Request(
                    callback_call_id, request["company_id"], domain, None, number, time.time(), department_id
                )
            )
            if result != click_to_call.EMPLOYEE_MISSED:
                return _outcome(result), callback_call_id
            log.info(
                "%s: nobody in department %s took the callback; again in %s s",
                call_id,
                department_id,
                DEPARTMENT_RETRY_S,
            )
            await asyncio.sleep(DEPARTMENT_RETRY_S)
        return EXPIRED, None

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
        callback_call_id = _new_callback_call_id(queue.domain)
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
        return _outcome(result), callback_call_id
