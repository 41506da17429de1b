"""Click-to-call in the media app: ring the employee, then the client, and put
them through (routing/click_to_call.py decides what each leg rings).

The API hands a request to whichever media app takes it first from a Redis
stream (a consumer group: one media app per request, any node). The API
waits TAKE_WITHIN_S for a taker and answers 503 without one; a request found
older than that is dropped, so no one is ever rung for a request the API
already refused.

Media: the media app opens one rtpengine call of its own (it is no caller's
call, so Kamailio anchors neither leg). Its first side is the media app
itself, offered to the employee; the employee hears ringback there while the
client rings. The client's leg offers rtpengine's address for the media
app's side, and once the client answers, their SDP re-offers that side: the
client takes the media app's place, and the two talk through rtpengine.
Whatever ends the call, the media app deletes that rtpengine call.

Callbacks place their calls here too (media/callbacks.py): a queue's rings
its agent as the employee; a department's rings its members on duty, and the
one who answers (Kamailio says who) is the employee whose call the client's
leg is.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

import redis
import redis.asyncio as aioredis

from ..routing import click_to_call, leg_names
from ..routing.targets import ANSWERED_BY_HEADER
from . import sdp, sip
from .call import HungUp, first_done
from .connect import NG_FLAGS, RING_LIMIT_S, Connector, Leg, ring
from .ng import AsyncNgClient, NgError, NgTimeout
from .prompts import PromptLibrary
from .rtp import PortRange

log = logging.getLogger(__name__)

STREAM = "vpbx:click-to-call"
GROUP = "media-apps"
STREAM_MAX_LEN = 1000
# The API waits this long for a media app to take a request, then answers 503
# (under the API's Redis socket timeout of 2 s, which the wait must not hit).
TAKE_WITHIN_S = 1.5
# Where the media app that took a request says so (a list the API pops, blocking).
TAKEN_PREFIX = "vpbx:click-to-call:taken:"
TAKEN_TTL_S = 10
# How a placed call went.
TALKED, EMPLOYEE_MISSED, CLIENT_MISSED, FAILED = "talked", "employee_missed", "client_missed", "failed"


@dataclass(frozen=True)
class Request:
    call_id: str  # the client leg's Call-ID: the history line's
    company_id: int
    domain: str
    employee_id: int | None  # None: a department's callback, taken by whichever member answers
    client: str  # E.164
    requested_at: float  # epoch seconds
    department_id: int | None = None  # a department's callback: its members on duty ring first

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> Request:
        return cls(**json.loads(text))

    @property
    def employee_call_id(self) -> str:
        return click_to_call.employee_leg_call_id(self.call_id)


def request_call(client: redis.Redis, request: Request) -> bool:
    """Hand ``request`` to the media apps (the API's side); whether one took it in time."""
    client.xadd(STREAM, {"request": request.to_json()}, maxlen=STREAM_MAX_LEN, approximate=True)
    taken = client.blpop([TAKEN_PREFIX + request.call_id], timeout=TAKE_WITHIN_S)
    return taken is not None


class ClickToCall:
    """Takes click-to-call requests from the stream and places them."""

    def __init__(
        self,
        redis_client: aioredis.Redis,
        consumer: str,
        connector: Connector,
        ng: AsyncNgClient,
        prompts: PromptLibrary,
        ports: PortRange,
        host: str,
        background,
        language: Callable[[int], Awaitable[str]],
    ):
        self.redis = redis_client
        self.consumer = consumer
        self.connector = connector
        self.ng = ng
        self.prompts = prompts
        self.ports = ports
        self.host = host
        self.background = background
        self.language = language  # of a company's standard prompts
        self.stopping = asyncio.Event()

    async def take_requests(self) -> None:
        """Until stopped: every request the group gives this media app, placed in a task of its own."""
        group_made = False
        while not self.stopping.is_set():
            try:
                if not group_made:  # once, and again after an error (Redis may have restarted empty)
                    await self._ensure_group()
                    group_made = True
                entries = await self.redis.xreadgroup(GROUP, self.consumer, {STREAM: ">"}, count=10, block=1000)
                for _, messages in entries or ():
                    for entry_id, fields in messages:
                        await self._take(entry_id, fields)
            except redis.RedisError as exc:
                # A request not taken now is refused by the API, which waits TAKE_WITHIN_S.
                log.warning("click-to-call requests not read: %s", exc)
                group_made = False
                await asyncio.sleep(1)

    async def _ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(STREAM, GROUP, id="$", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _take(self, entry_id, fields) -> None:
        await self.redis.xack(STREAM, GROUP, entry_id)
        try:
            request = Request.from_json(fields[b"request"])
        except (KeyError, TypeError, ValueError) as exc:
            log.error("click-to-call request %s unreadable: %s", entry_id, exc)
            return
        if time.time() - request.requested_at > TAKE_WITHIN_S:
            log.error("click-to-call %s taken too late (the API answered 503): not placed", request.call_id)
            return
        taken = TAKEN_PREFIX + request.call_id
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.rpush(taken, "1")
            pipe.expire(taken, TAKEN_TTL_S)
            await pipe.execute()
        self.background(self.place(request))

    async def place(self, request: Request, employee_answered: Callable[[], Awaitable[None]] | None = None) -> str:
        """Place the call: TALKED, EMPLOYEE_MISSED, CLIENT_MISSED or FAILED.
        ``employee_answered`` is awaited once the employee answered."""
        who = request.call_id
        rtp = await self.ports.open(self.host)
        media_tag = sip.new_tag()
        offer = sdp.offer_body(sdp.Answer(8, 101), self.host, rtp.port)
        try:
            toward_employee = await self.ng.request(
                "offer", call_id=request.employee_call_id, from_tag=media_tag, sdp=offer.decode(), **NG_FLAGS
            )
            answered = await self._employee_answers(request, media_tag, toward_employee["sdp"].encode())
            if answered is None:
                return EMPLOYEE_MISSED
            employee, employee_id, toward_media_app, employee_sdp = answered
            try:
                if employee_answered is not None:
                    await employee_answered()
                if employee_id is None:
                    log.error("%s: Kamailio did not say which member answered the callback", who)
                    return FAILED
                if not await self._client_answers(
                    request, employee_id, employee, media_tag, toward_media_app, employee_sdp
                ):
                    language = await self.language(request.company_id)
                    await self._play(
                        request, employee.dialog.remote_tag, await self.prompts.standard("nobody_answered", language)
                    )
                    return CLIENT_MISSED
                return TALKED
            finally:
                if not employee.dialog.ended.is_set():
                    await self.connector.dialogs.bye(employee.dialog)
                self.connector.legs.pop(employee.dialog.call_id, None)
        except (NgError, NgTimeout, sdp.NoCommonCodec, KeyError) as exc:
            log.error("%s: click-to-call failed: %s", who, exc)
            return FAILED
        except HungUp:
            log.info("%s: the employee hung up before the client answered", who)
            return CLIENT_MISSED
        finally:
            rtp.close()
            try:
                await self.ng.request("delete", call_id=request.employee_call_id)
            except (NgError, NgTimeout) as exc:
                log.info("%s: delete: %s", who, exc)

    async def _employee_answers(
        self, request: Request, media_tag: str, body: bytes
    ) -> tuple[Leg, int | None, bytes, bytes] | None:
        """Ring the employee's phones (a department's callback: its members'),
        which show the client's number. Once answered: their leg, who answered
        (Kamailio says which member), rtpengine's SDP for the media app's
        side, and the employee's own SDP answer (to complete the re-offer that
        later puts the client through)."""
        if request.department_id is not None:
            user = leg_names.department_callback_user(request.department_id, request.client)
        elif request.employee_id is not None:
            user = leg_names.click_to_call_user(request.employee_id, request.client, client_leg=False)
        else:
            raise KeyError("a click-to-call names an employee or a department")
        from_ = f'"{request.client}" <sip:{request.client}@{request.domain}>;tag={media_tag}'
        invite = self.connector.invite(user, request.domain, call_id=request.employee_call_id, from_=from_, body=body)
        answered = await ring(self.connector, invite, asyncio.Event(), request.call_id)
        if answered is None:
            log.info("%s: the employee did not answer the click-to-call", request.call_id)
            return None
        dialog, response, ack = answered
        leg = self.connector.legs[dialog.call_id] = Leg(dialog, body, ack)
        employee_id = request.employee_id
        if request.department_id is not None:
            by = response.get(ANSWERED_BY_HEADER.lower(), "").strip()
            employee_id = int(by) if by.isdigit() else None
        reply = await self.ng.request(
            "answer",
            call_id=request.employee_call_id,
            from_tag=media_tag,
            to_tag=dialog.remote_tag,
            sdp=response.body.decode(),
            **NG_FLAGS,
        )
        return leg, employee_id, reply["sdp"].encode(), response.body

    async def _client_answers(
        self,
        request: Request,
        employee_id: int,
        employee: Leg,
        media_tag: str,
        toward_media_app: bytes,
        employee_sdp: bytes,
    ) -> bool:
        """Ring the client while the employee hears ringback; once the client
        answers, put the two through until either hangs up: True. False when
        the client did not answer. HungUp when the employee hung up first."""
        await self._play(request, employee.dialog.remote_tag, await self.prompts.ringback(), repeat=True)
        user = leg_names.click_to_call_user(employee_id, request.client, client_leg=True)
        invite = self.connector.invite(
            user,
            request.domain,
            call_id=request.call_id,
            from_=f"<sip:click-to-call@{request.domain}>;tag={sip.new_tag()}",
            body=toward_media_app,
        )
        try:
            answered = await ring(self.connector, invite, employee.dialog.ended, request.call_id)
        finally:
            await self._stop_playing(request, employee.dialog.remote_tag)
        if answered is None:
            log.info("%s: the client did not answer the click-to-call", request.call_id)
            return False
        dialog, response, ack = answered
        self.connector.legs[dialog.call_id] = Leg(dialog, toward_media_app, ack)
        try:
            # The client's SDP re-offers the media app's side of the rtpengine call: the
            # client takes the media app's place. Port latching keeps rtpengine's ports
            # toward the employee, so their phone is told nothing.
            await self.ng.request(
                "offer",
                call_id=request.employee_call_id,
                from_tag=media_tag,
                to_tag=employee.dialog.remote_tag,
                sdp=response.body.decode(),
                **NG_FLAGS,
            )
            await self.ng.request(
                "answer",
                call_id=request.employee_call_id,
                from_tag=media_tag,
                to_tag=employee.dialog.remote_tag,
                sdp=employee_sdp.decode(),
                **NG_FLAGS,
            )
            log.info("%s: employee %s and %s put through", request.call_id, employee_id, request.client)
            # Whoever hangs up first: the client's BYE follows below, the employee's in place().
            await first_done({0: employee.dialog.ended.wait(), 1: dialog.ended.wait()})
        finally:
            if not dialog.ended.is_set():
                await self.connector.dialogs.bye(dialog)
            self.connector.legs.pop(dialog.call_id, None)
        return True

    async def _play(self, request: Request, to_tag: str, path, *, repeat: bool = False) -> None:
        """Play ``path`` to the party of ``to_tag`` in the click-to-call's rtpengine call."""
        extra = {"repeat_times": int(RING_LIMIT_S) + 1} if repeat else {}
        try:
            reply = await self.ng.request(
                "play media", call_id=request.employee_call_id, from_tag=to_tag, file=str(path), **extra
            )
        except (NgError, NgTimeout) as exc:
            log.warning("%s: %s not played: %s", request.call_id, path, exc)
            return
        if not repeat:
            await asyncio.sleep(int(reply.get("duration", 0)) / 1000)

    async def _stop_playing(self, request: Request, to_tag: str) -> None:
        try:
            await self.ng.request("stop media", call_id=request.employee_call_id, from_tag=to_tag)
        except (NgError, NgTimeout) as exc:
            log.info("%s: stop media: %s", request.call_id, exc)
