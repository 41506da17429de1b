"""The media app: a SIP user agent on loopback that answers the calls vpbx
handles itself (IVR menus, voicemail) and drives their media in rtpengine.

Kamailio relays a call here like any other branch (R-URI user "voicemail-3",
"ivr-2") after anchoring it in rtpengine, so the caller's rtpengine call is the
one the media app plays prompts into. Digits come from rtpengine's DTMF log
(one JSON datagram per RFC 4733 digit); the caller's audio comes to the call's
own RTP socket here, where voicemail records it.

Only our Kamailio may send requests here (anything else gets 403), except
OPTIONS: a probe that also reports the calls and tasks in hand.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import redis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from ..history import events
from ..history.spool import Spool
from ..notify import links, voicemail_email
from ..routing import leg_names
from ..routing.plan import held_ivr_key, held_scheme_steps, ivr_menu_keys
from ..routing.targets import COMPANY_HEADER
from ..settings import Settings
from . import connect, ivr, sdp, sip, voicemail
from .call import DIGITS, Dialog, HungUp, MediaCall
from .ng import AsyncNgClient, NgError, NgTimeout
from .prompts import STANDARD, PromptError, PromptLibrary
from .routing_documents import RoutingDocuments
from .rtp import PortRange
from .store import Announced, Box, Menu, Prompt, Store

log = logging.getLogger(__name__)

# RFC 3261 timers: T1 the round-trip estimate, T2 the retransmission ceiling;
# a transaction gives up after 64*T1.
T1, T2 = 0.5, 4.0
TRANSACTION_TIMEOUT = 64 * T1
# How often voicemail events kept while Redis was down are offered to it again.
SPOOL_RETRY_SECONDS = 1.0


class SipProtocol(asyncio.DatagramProtocol):
    def __init__(self, app: MediaApp):
        self.app = app

    def datagram_received(self, data: bytes, addr) -> None:
        self.app.on_sip(data, addr)


class DtmfProtocol(asyncio.DatagramProtocol):
    def __init__(self, app: MediaApp):
        self.app = app

    def datagram_received(self, data: bytes, addr) -> None:
        try:
            event = json.loads(data)
        except ValueError:
            log.warning("DTMF log: not JSON: %r", data[:200])
            return
        call = self.app.calls.get(event.get("callid", ""))
        # Only the caller's keys: the media app never sends digits itself.
        if call is not None and event.get("source_tag") in (None, call.dialog.remote_tag):
            call.digit(int(event.get("event", -1)))


# The nodes this app answers (routing's media-app kinds, and the announcement
# of an announced scheme): kind -> the Store method that finds one in a
# company, and what it is called in errors.
NODES = {
    "voicemail": ("box", "voicemail box"),
    "ivr": ("menu", "IVR menu"),
    "announce": ("scheme", "scheme"),
}


class MediaApp:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time):
        self.settings = settings
        self.media = settings.media
        self.clock = clock
        self.kamailio = (settings.sip.host, settings.sip.port)
        self.calls: dict[str, MediaCall] = {}
        # Call-ID -> (INVITE branch, last reply): a retransmitted INVITE gets the reply again.
        self.invites: dict[str, tuple[str, sip.Message | None]] = {}
        self.unacknowledged: dict[str, asyncio.Task] = {}
        # Our requests' transactions, by Via branch: where their responses go.
        self.responses: dict[str, asyncio.Queue] = {}
        # Legs the media app opened for callers (IVR keys that ring people), by Call-ID.
        self.legs: dict[str, connect.Leg] = {}
        self.tasks: set[asyncio.Task] = set()
        self.data_dir = self.media.data_dir
        self.prompts = PromptLibrary(self.data_dir / "prompts", engine=self.media.tts_engine)
        self.ports = PortRange(self.media.rtp_min, self.media.rtp_max)
        self.store = Store(settings.database_url)
        self.ng = AsyncNgClient(settings.rtpengine_ng.host, settings.rtpengine_ng.port)
        # A connection kept through a Redis restart is dead: retried on a fresh one.
        self.redis = aioredis.Redis.from_url(
            settings.redis_url,
            socket_timeout=2,
            socket_connect_timeout=2,
            retry=Retry(ExponentialBackoff(cap=1.0), 3),
            retry_on_error=[redis.ConnectionError, redis.TimeoutError],
        )
        self.documents = RoutingDocuments(self.redis)
        # Voicemail events Redis did not take, until it does (vpbx.history.spool).
        self.history_spool = Spool(self.data_dir / "history-spool.jsonl")
        self.spool_replay: asyncio.Future | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self.dtmf_transport: asyncio.DatagramTransport | None = None

    # ---- lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await self.store.open()
        await self.ng.connect()
        self.transport, _ = await loop.create_datagram_endpoint(
            lambda: SipProtocol(self), local_addr=(self.media.sip.host, self.media.sip.port)
        )
        self.dtmf_transport, _ = await loop.create_datagram_endpoint(
            lambda: DtmfProtocol(self), local_addr=("127.0.0.1", self.media.dtmf_port)
        )
        # Not one of self.tasks: those are calls' work, which a load probe counts.
        self.spool_replay = asyncio.ensure_future(self.replay_history_spool())
        # Rendered before the first call needs them (each takes tens of milliseconds).
        await self.prompts.beep()
        await self.prompts.ringback()
        for name in STANDARD:
            await self.prompts.standard(name)
        log.info(
            "media app on udp:%s, DTMF log on udp:127.0.0.1:%s, RTP %s-%s",
            self.media.sip,
            self.media.dtmf_port,
            self.media.rtp_min,
            self.media.rtp_max,
        )

    async def stop(self) -> None:
        for leg in list(self.legs.values()):
            await self.bye(leg.dialog)
        for call in list(self.calls.values()):
            await self.hang_up(call)
        for task in list(self.tasks):
            task.cancel()
        if self.spool_replay is not None:
            self.spool_replay.cancel()
        if self.transport:
            self.transport.close()
        if self.dtmf_transport:
            self.dtmf_transport.close()
        self.ng.close()
        await self.store.close()
        await self.redis.aclose()

    def background(self, coroutine) -> asyncio.Task:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("media app task failed", exc_info=task.exception())

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    # ---- SIP transport ----------------------------------------------------------

    def send(self, message: sip.Message, address: tuple[str, int]) -> None:
        if self.transport is None:
            raise RuntimeError("the media app's SIP socket is not open")
        self.transport.sendto(message.encode(), address)

    def on_sip(self, data: bytes, addr) -> None:
        if data.strip() == b"":
            return  # keepalive
        try:
            message = sip.parse(data)
        except sip.ParseError as exc:
            log.warning("unparsable SIP from %s:%s: %s", addr[0], addr[1], exc)
            return
        if message.method is None:
            queue = self.responses.get(message.branch)
            if queue is not None:
                queue.put_nowait(message)
            elif message.call_id in self.legs:
                self.legs[message.call_id].retransmitted(message)
            return
        if tuple(addr[:2]) != self.kamailio and message.method != "OPTIONS":
            if message.method != "ACK":
                self.send(sip.response(message, 403, extra={"Reason": 'SIP;cause=403;text="only vpbx\'s proxy"'}), addr)
            return
        handler = getattr(self, f"on_{message.method.lower()}", None)
        if handler is None:
            self.send(sip.response(message, 405, extra={"Allow": "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO"}), addr)
            return
        handler(message, addr)

    def contact(self) -> str:
        return f"sip:media@{self.media.sip.host}:{self.media.sip.port}"

    # ---- requests -------------------------------------------------------------

    def on_invite(self, request: sip.Message, addr) -> None:
        call = self.calls.get(request.call_id)
        leg = self.legs.get(request.call_id)
        if leg is not None and request.to_tag == leg.dialog.local_tag:
            # The person's re-INVITE (a session refresh, hold): the media path is
            # rtpengine's, which stays where it is.
            self.send(sip.response(request, 200, contact=self.contact(), body=leg.offer), addr)
            return
        if request.to_tag is not None:
            self._reinvite(call, request, addr)
            return
        seen = self.invites.get(request.call_id)
        if seen is not None:
            if seen[0] == request.branch and seen[1] is not None:
                self.send(seen[1], addr)  # a retransmission: the same reply again
            return
        self.invites[request.call_id] = (request.branch, None)
        self.background(self._answer(request, addr))

    def _reply(self, request: sip.Message, addr, reply: sip.Message) -> None:
        if request.method == "INVITE" and request.to_tag is None:
            self.invites[request.call_id] = (request.branch, reply)
            if (reply.status or 0) >= 300:
                # Kept a little for retransmissions, then forgotten.
                asyncio.get_running_loop().call_later(TRANSACTION_TIMEOUT, self.invites.pop, request.call_id, None)
        self.send(reply, addr)

    async def _answer(self, request: sip.Message, addr) -> None:
        """Answer a new INVITE, or refuse it so Kamailio moves on to the plan's next step."""
        try:
            await self._answer_or_refuse(request, addr)
        except Exception as exc:
            log.exception("%s: cannot answer", request.call_id)
            if self.invites.get(request.call_id, (None, None))[1] is None:
                self._reply(
                    request,
                    addr,
                    sip.response(
                        request,
                        503,
                        to_tag=sip.new_tag(),
                        extra={"Reason": f'Q.850;cause=41;text="media app: {type(exc).__name__}"'},
                    ),
                )

    async def _answer_or_refuse(self, request: sip.Message, addr) -> None:
        try:
            node = await self._node(request)
        except LookupError as exc:
            log.warning("%s: refused: %s", request.call_id, exc)
            self._reply(
                request,
                addr,
                sip.response(request, 404, to_tag=sip.new_tag(), extra={"Reason": f'Q.850;cause=1;text="{exc}"'}),
            )
            return
        try:
            answer = sdp.choose(sdp.parse_offer(request.body))
        except sdp.NoCommonCodec as exc:
            self._reply(
                request,
                addr,
                sip.response(request, 488, to_tag=sip.new_tag(), extra={"Reason": f'Q.850;cause=88;text="{exc}"'}),
            )
            return
        try:
            rtp = await self.ports.open(self.media.sip.host)
        except OSError as exc:
            log.error("%s: %s", request.call_id, exc)
            self._reply(
                request,
                addr,
                sip.response(
                    request, 503, to_tag=sip.new_tag(), extra={"Reason": 'Q.850;cause=34;text="no media port free"'}
                ),
            )
            return
        local_tag = sip.new_tag()
        dialog = Dialog(
            call_id=request.call_id,
            local=f"{request.get('to')};tag={local_tag}",
            remote=request.get("from", ""),
            invite=request,
            remote_target=sip.uri_of(request.get("contact", "")) or request.uri or "",
            route_set=request.all("record-route"),
            peer=tuple(addr[:2]),
        )
        call = MediaCall(
            dialog,
            rtp,
            answer,
            self.ng,
            caller=sip.user_of(sip.uri_of(request.get("from", ""))),
            called=sip.user_of(sip.uri_of(request.get("to", ""))),
            hangup_request=self.hang_up,
            subject=node,
        )
        self.calls[request.call_id] = call
        body = call.answer_body = sdp.answer_body(answer, self.media.sip.host, rtp.port)
        ok = sip.response(request, 200, to_tag=local_tag, contact=self.contact(), body=body)
        self._reply(request, addr, ok)
        self.unacknowledged[request.call_id] = self.background(self._until_ack(call, ok, addr))

    async def _node(self, request: sip.Message) -> Box | Menu | Announced:
        """What the R-URI names ("voicemail-3", "ivr-2", "announce-7") in the
        company of the call; LookupError if nothing.

        The company comes from X-Vpbx-Company, which Kamailio removes from what
        callers send and adds only to the branches routing sent here: a URI
        that names another company's box (a customer's own SIP URI pointed at
        us) finds nothing.
        """
        user = sip.user_of(request.uri or "")
        name = leg_names.parse_node_user(user)
        answered = NODES.get(name.kind) if name else None
        if name is None or answered is None:
            raise LookupError(f"nothing here answers {user}")
        company = request.get(COMPANY_HEADER.lower(), "").strip()
        if not company.isdigit():
            raise LookupError(f"{user} was not routed here by a company's plan")
        store_method, what = answered
        node = await getattr(self.store, store_method)(name.id, int(company))
        if node is None:
            raise LookupError(f"no {what} {name.id}")
        return await self._routed(node)

    async def _routed(self, node: Box | Menu | Announced) -> Box | Menu | Announced:
        """The node with where its caller goes next, as the company's compiled
        documents say (LookupError: the company is gone; DocumentUnavailable:
        neither Redis nor a copy can say, and the call is refused with a 503)."""
        if isinstance(node, Menu):
            return await self._with_keys(node)
        if isinstance(node, Announced):
            directory = await self.documents.directory(node.domain)
            steps = held_scheme_steps(directory, node.id) if directory is not None else None
            if steps is None:
                raise LookupError(f"no routing for scheme {node.id}")
            return replace(node, steps=steps)
        return node

    async def _with_keys(self, menu: Menu) -> Menu:
        company = await self.documents.company(menu.domain)
        if company is None:
            raise LookupError(f"no routing for company {menu.domain}")
        return replace(menu, keys=ivr_menu_keys(company, menu.id))

    async def _until_ack(self, call: MediaCall, ok: sip.Message, addr) -> None:
        """Resend the 200 OK until the ACK (RFC 3261 section 13.3.1.4); without
        one in 64*T1 the call is hung up."""
        interval = T1
        deadline = asyncio.get_running_loop().time() + TRANSACTION_TIMEOUT
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(interval)
            if call.ended.is_set():
                return
            self.send(ok, addr)
            interval = min(interval * 2, T2)
        log.warning("%s: no ACK for the 200 OK, hanging up", call.call_id)
        self.unacknowledged.pop(call.call_id, None)
        await self.hang_up(call)
        self.finish(call)

    def on_ack(self, request: sip.Message, addr) -> None:
        call = self.calls.get(request.call_id)
        waiting = self.unacknowledged.pop(request.call_id, None)
        if call is None or waiting is None:
            return  # the ACK of a re-INVITE, of an error reply, or a retransmission
        waiting.cancel()
        # Now the caller has the answer and Kamailio has given it to rtpengine: prompts can play.
        self.background(self._run(call))

    def on_bye(self, request: sip.Message, addr) -> None:
        leg = self.legs.get(request.call_id)
        if leg is not None and request.to_tag == leg.dialog.local_tag:
            self.send(sip.response(request, 200), addr)
            leg.dialog.ended.set()
            return
        call = self.calls.get(request.call_id)
        if call is None or request.to_tag != call.dialog.local_tag:
            self.send(sip.response(request, 481), addr)
            return
        self.send(sip.response(request, 200), addr)
        call.ended.set()
        waiting = self.unacknowledged.pop(request.call_id, None)
        if waiting is not None:  # hung up before the ACK: no flow ever started
            waiting.cancel()
            self.finish(call)

    def on_cancel(self, request: sip.Message, addr) -> None:
        # The media app answers at once, so a CANCEL always comes after the 200
        # OK and changes nothing (RFC 3261 section 9.2); the BYE follows.
        self.send(sip.response(request, 200), addr)

    def on_options(self, request: sip.Message, addr) -> None:
        """Keepalive and health probe, from anyone on the host: the calls and
        tasks in hand tell an operator (and the tests) that nothing is left over."""
        self.send(
            sip.response(
                request,
                200,
                extra={
                    "Allow": "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO",
                    "X-Vpbx-Calls": str(len(self.calls)),
                    "X-Vpbx-Tasks": str(len(self.tasks)),
                },
            ),
            addr,
        )

    def on_info(self, request: sip.Message, addr) -> None:
        """SIP INFO digits (application/dtmf-relay), for callers that send no RFC 4733."""
        call = self.calls.get(request.call_id)
        self.send(sip.response(request, 200 if call else 481), addr)
        if call is None:
            return
        for line in request.body.decode(errors="replace").splitlines():
            name, _, value = line.partition("=")
            if name.strip().lower() == "signal" and len(value.strip()) == 1 and value.strip() in DIGITS:
                call.digit(DIGITS.index(value.strip()))

    def _reinvite(self, call: MediaCall | None, request: sip.Message, addr) -> None:
        if call is None or call.ended.is_set():
            self.send(sip.response(request, 481), addr)
            return
        # A session refresh or a changed address on the caller's side: rtpengine
        # absorbs it, and what we receive on stays the same.
        self.send(sip.response(request, 200, contact=self.contact(), body=call.answer_body), addr)

    # ---- hanging up -------------------------------------------------------------

    async def hang_up(self, call: MediaCall) -> None:
        """Hang up on the caller. Without an answer to our BYE the rtpengine
        session is deleted here, so nothing is left behind."""
        if call.ended.is_set():
            return
        if await self.bye(call.dialog) is None:
            log.warning("%s: BYE unanswered; deleting the media session", call.call_id)
            try:
                await self.ng.request("delete", call_id=call.call_id)
            except (NgError, NgTimeout) as exc:
                log.warning("%s: delete: %s", call.call_id, exc)

    async def bye(self, dialog: Dialog) -> sip.Message | None:
        """End a dialog: BYE, and its final answer (None: none came)."""
        dialog.ended.set()
        dialog.local_cseq += 1
        reply = await self.transaction(self.in_dialog(dialog, "BYE"), dialog.peer)
        if reply is not None:
            log.info("%s: BYE answered %s", dialog.call_id, reply.status)
        return reply

    async def reinvite(self, dialog: Dialog, body: bytes) -> sip.Message | None:
        """Offer ``body`` in ``dialog`` (an INVITE client transaction: resent until
        a reply, then its final answer, which gets our ACK); None without one."""
        dialog.local_cseq += 1
        invite = self.in_dialog(dialog, "INVITE")
        invite.headers["contact"] = [f"<{self.contact()}>"]
        invite.headers["content-type"] = ["application/sdp"]
        invite.body = body
        queue = self.responses[invite.branch] = asyncio.Queue()
        interval, waited, replied = T1, 0.0, False
        try:
            while waited < TRANSACTION_TIMEOUT:
                if not replied:
                    self.send(invite, dialog.peer)
                try:
                    reply = await asyncio.wait_for(queue.get(), interval if not replied else TRANSACTION_TIMEOUT)
                except TimeoutError:
                    waited += interval
                    interval = min(interval * 2, T2)
                    continue
                replied = True
                if reply.status < 200:
                    continue
                # A 2xx's ACK is a request of the dialog (the re-INVITE's CSeq); a failure's, of the transaction.
                ack = self.in_dialog(dialog, "ACK") if reply.status < 300 else sip.ack_for_failure(invite, reply)
                self.send(ack, dialog.peer)
                return reply
            return None
        finally:
            self.responses.pop(invite.branch, None)

    def in_dialog(self, dialog: Dialog, method: str) -> sip.Message:
        headers = {
            "via": [f"SIP/2.0/UDP {self.media.sip.host}:{self.media.sip.port};branch={sip.new_branch()};rport"],
            "max-forwards": ["70"],
        }
        if dialog.route_set:
            headers["route"] = list(dialog.route_set)
        headers["from"] = [dialog.local]
        headers["to"] = [dialog.remote]
        headers["call-id"] = [dialog.call_id]
        headers["cseq"] = [f"{dialog.local_cseq} {method}"]
        return sip.Message(method=method, uri=dialog.remote_target, headers=headers)

    async def transaction(self, request: sip.Message, peer: tuple[str, int]) -> sip.Message | None:
        """A non-INVITE client transaction over UDP (RFC 3261 section 17.1.2):
        resent at T1, doubling up to T2, until a final answer or 64*T1."""
        queue = self.responses[request.branch] = asyncio.Queue()
        interval, waited = T1, 0.0
        try:
            while waited < TRANSACTION_TIMEOUT:
                self.send(request, peer)
                try:
                    while True:
                        reply = await asyncio.wait_for(queue.get(), interval)
                        if reply.status >= 200:
                            return reply
                except TimeoutError:
                    waited += interval
                    interval = min(interval * 2, T2)
            return None
        finally:
            self.responses.pop(request.branch, None)

    def finish(self, call: MediaCall) -> None:
        call.rtp.close()
        self.calls.pop(call.call_id, None)
        asyncio.get_running_loop().call_later(TRANSACTION_TIMEOUT, self.invites.pop, call.call_id, None)

    # ---- flows ------------------------------------------------------------------

    async def _run(self, call: MediaCall) -> None:
        try:
            if isinstance(call.subject, Box):
                await voicemail.take_message(call, call.subject, self)
            elif isinstance(call.subject, Announced):
                await self.announce(call, call.subject)
            elif isinstance(call.subject, Menu):
                await self.menu(call, call.subject, depth=0)
        except HungUp:
            log.info("%s: the caller hung up", call.call_id)
        except Exception:
            log.exception("%s: flow failed", call.call_id)
        finally:
            if not call.ended.is_set():
                await self.hang_up(call)
            self.finish(call)

    async def menu(self, call: MediaCall, menu: Menu, depth: int) -> None:
        key = await ivr.choose(call, menu, self)
        destination = menu.keys.get(key)
        if destination is None:
            await call.play(await self.prompts.standard("goodbye"))
            return
        if destination["kind"] == "ivr" and depth < ivr.MAX_DEPTH:
            submenu = await self.store.menu(destination["ivr_menu_id"], menu.company_id)
            if submenu is not None:
                await self.menu(call, await self._with_keys(submenu), depth + 1)
                return
        # Routing says what the key does: ring people through Kamailio, then
        # (or at once) a voicemail box: the key's own, or a department's (R4).
        held = held_ivr_key(destination)
        if held.rings and await connect.connect(self, call, leg_names.ivr_key_user(menu.id, key), menu.domain):
            return
        box = await self.store.box(held.voicemail_box_id, menu.company_id) if held.voicemail_box_id else None
        if box is not None:
            await voicemail.take_message(call, box, self)
            return
        if held.rings:
            await call.play(await self.prompts.standard("nobody_answered"))
            return
        log.warning(
            "%s: menu %s key %s leads to %s, which the media app cannot reach",
            call.call_id,
            menu.id,
            key,
            destination["kind"],
        )
        await call.play(await self.prompts.standard("unavailable"))

    async def announce(self, call: MediaCall, scheme: Announced) -> None:
        """R14: greet the caller, then ring the scheme's steps one leg at a time,
        with music instead of ringback, a whisper to whoever answers, and the
        forward notice before each step that follows one nobody answered. A step
        naming voicemail (or a department whose rule is voicemail) takes the
        caller there once its people, if any, did not answer."""
        if scheme.greeting is not None:
            await call.play(await self.greeting(scheme.greeting, "forward_greeting"))
        # The standard music is the ringback tone itself.
        music = (
            await self.greeting(scheme.music, "forward_greeting")
            if scheme.music and scheme.music.kind != "default"
            else None
        )
        whisper = await self.greeting(scheme.whisper, "whisper") if scheme.whisper else None
        notice = (
            await self.greeting(scheme.notice if scheme.forward_notice == "custom" else None, "forward_notice")
            if scheme.forward_notice != "none"
            else None
        )
        unanswered = False
        for number, step in enumerate(scheme.steps, start=1):
            if step.rings:
                if unanswered and notice is not None:
                    await call.play(notice)
                if await connect.connect(
                    self,
                    call,
                    leg_names.scheme_step_user(scheme.id, number),
                    scheme.domain,
                    music=music,
                    whisper=whisper,
                ):
                    return
                unanswered = True
            box = await self.store.box(step.voicemail_box_id, scheme.company_id) if step.voicemail_box_id else None
            if box is not None:
                await voicemail.take_message(call, box, self)
                return
        await call.play(await self.prompts.standard("nobody_answered"))

    async def greeting(self, prompt: Prompt | None, standard: str) -> Path:
        """The prompt's recording; the standard one when it has none or cannot
        be rendered (reported in the log: a caller never hears silence)."""
        language = prompt.language if prompt else "ru"
        if prompt is not None and prompt.kind == "upload" and prompt.file_name:
            path = self.prompts.cache_dir / prompt.file_name
            if path.is_file():
                return path
            log.error("the uploaded %s %s is missing, playing the standard one", standard, path)
        if prompt is not None and prompt.kind == "tts" and prompt.text:
            try:
                return await self.prompts.speech(prompt.text, language)
            except PromptError as exc:
                log.error("text-to-speech failed, playing the standard %s: %s", standard, exc)
        return await self.prompts.standard(standard, language)

    # ---- what a voicemail leaves behind ----------------------------------------

    async def report_voicemail(self, call: MediaCall, box: Box, message_id: int | None) -> None:
        """History's voicemail event: the call's line is marked when a message was left (R13, R19)."""
        event = {
            "type": events.VOICEMAIL,
            "call_id": call.call_id,
            "at": self.now().isoformat(),
            "box_id": box.id,
            "message_id": message_id,
        }
        batch = [json.dumps(event)]
        if self.history_spool.pending():  # older events wait there: this one queues behind them
            self.history_spool.add(batch)
            return
        try:
            await self.redis.xadd(events.STREAM, events.entry(batch), maxlen=events.STREAM_MAX_LEN, approximate=True)
        except Exception as exc:  # history is worth less than the message itself
            log.error("%s: Redis refuses the voicemail event (%s): kept until it takes it", call.call_id, exc)
            self.history_spool.add(batch)

    async def replay_history_spool(self) -> None:
        """Every second: what the spool kept goes to the stream once Redis takes it."""
        while True:
            await asyncio.sleep(SPOOL_RETRY_SECONDS)
            if not self.history_spool.pending():
                continue
            try:
                sent = await self.history_spool.drain_async(self._send_history)
            except redis.RedisError:
                continue  # still down: the next round tries again
            log.warning("Redis takes events again: %d voicemail events kept meanwhile sent", sent)

    async def _send_history(self, batches: list[list[str]]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for batch in batches:
            pipe.xadd(events.STREAM, events.entry(batch), maxlen=events.STREAM_MAX_LEN, approximate=True)
        await pipe.execute()

    async def email_recipients(
        self, box: Box, message_id: int, call: MediaCall, received_at: datetime, duration_s: float
    ) -> None:
        recipients = await self.store.recipients(box)
        if not recipients:
            await self.store.record_emails(message_id, [], "the box has no recipient with an email")
            return
        token = links.sign(message_id, self.media.link_secret, self.clock)
        email = voicemail_email.compose(
            voicemail_email.NewMessage(
                box_name=box.name,
                caller=call.caller,
                called=call.called,
                received_at=received_at,
                timezone=box.timezone,
                duration_s=duration_s,
                link=links.url(self.media.public_url, token),
                link_days=links.LINK_LIFETIME_S // 86400,
            ),
            self.media.smtp.sender,
            recipients,
        )
        try:
            await asyncio.to_thread(voicemail_email.send, self.media.smtp, email, recipients)
        except Exception as exc:  # smtplib raises OSError and its own SMTPException kinds
            log.error("voicemail %s: email to %s failed: %s", message_id, ", ".join(recipients), exc)
            await self.store.record_emails(message_id, [], f"{type(exc).__name__}: {exc}")
            return
        await self.store.record_emails(message_id, recipients, None)


async def serve(settings: Settings) -> None:
    app = MediaApp(settings)
    await app.start()
    try:
        await asyncio.Event().wait()
    finally:
        await app.stop()
