"""The media app: a SIP user agent on loopback that answers the calls vpbx
handles itself (IVR menus, voicemail, announcements) and drives their media
in rtpengine.

Kamailio relays a call here like any other branch (R-URI user "voicemail-3",
"ivr-2") after anchoring it in rtpengine, so the caller's rtpengine call is the
one the media app plays prompts into. Digits come from rtpengine's DTMF log
(one JSON datagram per RFC 4733 digit); the caller's audio comes to the call's
own RTP socket here, where voicemail records it.

Only our Kamailio may send requests here (anything else gets 403), except
OPTIONS: a probe that also reports the calls and tasks in hand.

This module is the wiring: the SIP requests a caller's dialog brings, and the
parts that do the work. The transaction layer (media.transactions), dialogs
(media.dialogs), legs to people (media.connect), one module per node
(media.nodes) and what a voicemail leaves behind (media.voicemail_notices).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import psycopg
import redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from .. import call_log, db, redis_client
from ..config.publish import forget_kept_versions, publish_company
from ..history.spool import Spool
from ..kamailio_rpc import KamailioRpc
from ..routing import leg_names
from ..routing.targets import COMPANY_HEADER, PRIORITY_HEADER
from ..settings import Settings
from . import heartbeat, sdp, sip, voicemail_retention
from .call import DIGITS, ComfortNoise, HungUp, MediaCall
from .callbacks import Callbacks
from .category_menu import CategoryMenus
from .click_to_call import ClickToCall
from .connect import Connector
from .dialogs import Dialog, Dialogs
from .history_events import HistoryEvents
from .ng import AsyncNgClient, NgError, NgTimeout
from .nodes import NODES, NodeContext
from .prompts import STANDARD, PromptLibrary
from .routing_documents import RoutingDocuments
from .rtp import PortRange
from .store import Store
from .transactions import Transactions
from .voicemail_notices import VoicemailNotices

log = logging.getLogger(__name__)

ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO"


def queue_priority(header: str) -> int:
    """The caller's priority in call queues Kamailio wrote (0-9; anything else: 0)."""
    text = header.strip()
    return int(text) if text.isdigit() and len(text) == 1 else 0


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
        call_id, source_tag, key = event.get("callid", ""), event.get("source_tag"), int(event.get("event", -1))
        call = self.app.calls.get(call_id)
        # Only the caller's keys: the media app never sends digits itself.
        if call is not None and source_tag in (None, call.dialog.remote_tag):
            call.digit(key)
        elif call is None:
            self.app.category_menus.digit(call_id, source_tag, key)


class MediaApp:
    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time):
        self.settings = settings
        self.media = settings.media
        self.clock = clock
        self.kamailio = (settings.sip.host, settings.sip.port)
        # Who may send us requests: our Kamailio, and in a cluster every node
        # (a call is served by the media app beside the rtpengine holding it).
        self.proxies = {self.kamailio}
        if settings.cluster is not None:
            self.proxies |= {(node.host, node.port) for node in settings.cluster.kamailio}
        self.calls: dict[str, MediaCall] = {}
        self.unacknowledged: dict[str, asyncio.Task] = {}
        self.tasks: set[asyncio.Task] = set()
        # Set when the app begins to stop: from then on it answers no new call.
        self.stopping = False
        self.data_dir = self.media.data_dir
        self.transactions = Transactions(self.media.sip.host, self.media.sip.port)
        self.dialogs = Dialogs(self.transactions)
        self.prompts = PromptLibrary(self.data_dir / "prompts", engine=self.media.tts_engine)
        self.ports = PortRange(self.media.rtp_min, self.media.rtp_max)
        self.store = Store(settings.database_url)
        self.ng = AsyncNgClient(settings.rtpengine_ng.host, settings.rtpengine_ng.port)
        # A connection kept through a Redis restart is dead: retried on a fresh one.
        self.redis = redis_client.connect_async(
            settings,
            socket_timeout=2,
            socket_connect_timeout=2,
            retry=Retry(ExponentialBackoff(cap=1.0), 3),
            retry_on_error=[redis.ConnectionError, redis.TimeoutError],
        )
        # Legs the media app opens for callers (IVR keys and scheme steps that ring people).
        self.connector = Connector(self.transactions, self.dialogs, self.ng, self.prompts, self.kamailio)
        # History events Redis did not take wait in the spool (vpbx.history.spool).
        self.history = HistoryEvents(self.redis, Spool(self.data_dir / "history-spool.jsonl"))
        self.notices = VoicemailNotices(
            self.history,
            self.store,
            self.media,
            self.now,
            self.clock,
        )
        documents = RoutingDocuments(self.redis)
        # The post-call category menu on the legs of callers who hung up (seed 002).
        self.category_menus = CategoryMenus(
            self.dialogs,
            self.ng,
            self.prompts,
            self.ports,
            self.media.sip.host,
            self.history,
            self.now,
            self.store,
            self.background,
            settings.http_allowed_networks,
        )
        self.context = NodeContext(
            store=self.store,
            documents=documents,
            prompts=self.prompts,
            notices=self.notices,
            history=self.history,
            connect=self.connector.connect,
            category_menu=self.category_menus.run,
            data_dir=self.data_dir,
            smtp=self.media.smtp,
            now=self.now,
            background=self.background,
            redis=self.redis,
            republish=self.republish,
        )
        # Click-to-call requests from the API, taken by one media app each (media.click_to_call).
        self.click_to_call = ClickToCall(
            self.redis,
            str(self.media.sip),
            self.connector,
            self.ng,
            self.prompts,
            self.ports,
            self.media.sip.host,
            self.background,
            self.store.company_language,
        )
        # Callers promised a callback, by a queue or a department (media.callbacks).
        self.callbacks = Callbacks(
            self.redis, self.store, documents, self.click_to_call, self.history, str(self.media.sip), self.now
        )
        self.click_to_call_requests: asyncio.Future | None = None
        self.heartbeats: asyncio.Future | None = None
        self.callbacks_served: asyncio.Future | None = None
        self.spool_replay: asyncio.Future | None = None
        self.retention: asyncio.Future | None = None
        self.noise_ticker: asyncio.Future | None = None
        self.dtmf_transport: asyncio.DatagramTransport | None = None

    # ---- lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await self.store.open()
        await self.ng.connect()
        self.transactions.transport, _ = await loop.create_datagram_endpoint(
            lambda: SipProtocol(self), local_addr=(self.media.sip.host, self.media.sip.port)
        )
        self.dtmf_transport, _ = await loop.create_datagram_endpoint(
            lambda: DtmfProtocol(self), local_addr=(self.media.sip.host, self.media.dtmf_port)
        )
        # Not one of self.tasks: those are calls' work, which a load probe counts.
        self.spool_replay = asyncio.ensure_future(self.history.replay_spool())
        self.click_to_call_requests = asyncio.ensure_future(self.click_to_call.take_requests())
        self.callbacks_served = asyncio.ensure_future(self.callbacks.serve())
        self.noise_ticker = asyncio.ensure_future(self._comfort_noise())
        self.retention = asyncio.ensure_future(
            voicemail_retention.keep(self.store, self.data_dir, self.media.message_retention_days, self.now)
        )
        # Rendered before the first call needs them (each takes tens of milliseconds).
        await self.prompts.beep()
        await self.prompts.ringback()
        for name, texts in STANDARD.items():
            if "{" not in texts["ru"]:  # those with placeholders are rendered per value
                for language in texts:
                    await self.prompts.standard(name, language)
        # Told only once it can serve calls: Kamailio anchors them here from then on.
        if self.settings.cluster is not None:
            self.heartbeats = asyncio.ensure_future(heartbeat.beat(self.transactions, self.settings.cluster.kamailio))
        log.info(
            "media app on udp:%s, DTMF log on udp:%s:%s, RTP %s-%s",
            self.media.sip,
            self.media.sip.host,
            self.media.dtmf_port,
            self.media.rtp_min,
            self.media.rtp_max,
        )

    async def stop(self) -> None:
        # New calls first: hanging up those in progress waits on their BYEs,
        # and a call answered meanwhile would only be hung up in turn.
        self.stopping = True
        if self.heartbeats is not None:
            self.heartbeats.cancel()
        if self.click_to_call_requests is not None:
            self.click_to_call_requests.cancel()
        if self.callbacks_served is not None:
            # Requests being served stay in their place: another media app (or
            # this one, restarted) takes them once their leases lapse.
            self.callbacks_served.cancel()
            await self.callbacks.stop()
        await self.connector.hang_up_all()
        await asyncio.gather(*(self.hang_up(call) for call in list(self.calls.values())))
        if self.tasks:
            # Flows whose calls were just hung up clean up after themselves
            # (a click-to-call deletes its rtpengine call): briefly, they may.
            await asyncio.wait(list(self.tasks), timeout=2)
        for task in list(self.tasks):
            task.cancel()
        if self.spool_replay is not None:
            self.spool_replay.cancel()
        if self.retention is not None:
            self.retention.cancel()
        if self.noise_ticker is not None:
            self.noise_ticker.cancel()
        if self.transactions.transport:
            self.transactions.transport.close()
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

    async def _comfort_noise(self) -> None:
        """Every 20 ms, each call's next comfort noise packet (media/call.py):
        one task for every call, not one timer each."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            for call in list(self.calls.values()):
                try:
                    call.comfort_noise()
                except OSError as exc:
                    log.warning("%s: comfort noise not sent: %s", call.call_id, exc)
            next_at += 0.02
            late = loop.time() - next_at
            if late > 0.2:  # the loop was busy: carry on from now rather than catch up in a burst
                next_at = loop.time()
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    # ---- SIP in -----------------------------------------------------------------

    def send(self, message: sip.Message, address: tuple[str, int]) -> None:
        self.transactions.send(message, address)

    def on_sip(self, data: bytes, addr) -> None:
        if data.strip() == b"":
            return  # keepalive
        try:
            message = sip.parse(data)
        except sip.ParseError as exc:
            log.warning("unparsable SIP from %s:%s: %s", addr[0], addr[1], exc)
            return
        if message.method is None:
            if not self.transactions.deliver(message):
                self.connector.retransmitted(message)
            return
        if tuple(addr[:2]) not in self.proxies and message.method != "OPTIONS":
            if message.method != "ACK":
                self.send(sip.response(message, 403, extra={"Reason": 'SIP;cause=403;text="only vpbx\'s proxy"'}), addr)
            return
        handler = getattr(self, f"on_{message.method.lower()}", None)
        if handler is None:
            self.send(sip.response(message, 405, extra={"Allow": ALLOW}), addr)
            return
        handler(message, addr)

    def on_invite(self, request: sip.Message, addr) -> None:
        call = self.calls.get(request.call_id)
        leg = self.connector.legs.get(request.call_id)
        if leg is not None and request.to_tag == leg.dialog.local_tag:
            # The person's re-INVITE (a session refresh, hold): the media path is
            # rtpengine's, which stays where it is.
            self.send(sip.response(request, 200, contact=self.dialogs.contact(), body=leg.offer), addr)
            return
        if request.to_tag is not None:
            self._reinvite(call, request, addr)
            return
        if self.stopping:
            # As if already gone: Kamailio moves the caller on after its
            # 2 s timer for the media app, as when the app is down.
            return
        if self.transactions.new_invite(request, addr):
            self.background(self._answer(request, addr))

    def on_ack(self, request: sip.Message, addr) -> None:
        call = self.calls.get(request.call_id)
        waiting = self.unacknowledged.pop(request.call_id, None)
        if call is None or waiting is None:
            return  # the ACK of a re-INVITE, of an error reply, or a retransmission
        waiting.cancel()
        # Now the caller has the answer and Kamailio has given it to rtpengine: prompts can play.
        offer = sdp.parse_offer(call.dialog.invite.body) if call.dialog.invite is not None else None
        if offer is not None and offer.port:
            call.noise = ComfortNoise((offer.address, offer.port), call.answer.payload_type)
        self.background(self._run(call))

    def on_bye(self, request: sip.Message, addr) -> None:
        leg = self.connector.legs.get(request.call_id)
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
        by_kind = Counter(call.node[0].__name__.rsplit(".", 1)[-1] for call in self.calls.values() if call.node)
        extra = {
            "Allow": ALLOW,
            "X-Vpbx-Calls": str(len(self.calls)),
            "X-Vpbx-Tasks": str(len(self.tasks)),
            "X-Vpbx-Calls-By-Kind": ";".join(f"{kind}={n}" for kind, n in sorted(by_kind.items())),
        }
        self.send(sip.response(request, 200, extra=extra), addr)

    def on_info(self, request: sip.Message, addr) -> None:
        """SIP INFO digits (application/dtmf-relay), for callers that send no RFC 4733."""
        call = self.calls.get(request.call_id)
        in_menu = call is None and request.call_id in self.category_menus.listening
        self.send(sip.response(request, 200 if call or in_menu else 481), addr)
        for line in request.body.decode(errors="replace").splitlines():
            name, _, value = line.partition("=")
            if name.strip().lower() == "signal" and len(value.strip()) == 1 and value.strip() in DIGITS:
                if call is not None:
                    call.digit(DIGITS.index(value.strip()))
                elif in_menu:
                    self.category_menus.digit(request.call_id, None, DIGITS.index(value.strip()))

    def _reinvite(self, call: MediaCall | None, request: sip.Message, addr) -> None:
        if call is None or call.ended.is_set():
            self.send(sip.response(request, 481), addr)
            return
        if request.body:
            try:
                sdp.choose(sdp.parse_offer(request.body))
            except ValueError as exc:  # no audio (T.38, video), no G.711, or a garbled port
                # Refused, the session stays as it was: G.711 audio (RFC 3261 section 14.2).
                log.info("%s: re-INVITE refused: %s", call.call_id, exc)
                reason = f'Q.850;cause=88;text="{exc}"'
                self.send(sip.response(request, 488, extra={"Reason": reason}), addr)
                return
        # A session refresh or a changed address on the caller's side: rtpengine
        # absorbs it, and what we receive on stays the same.
        self.send(sip.response(request, 200, contact=self.dialogs.contact(), body=call.answer_body), addr)

    # ---- answering --------------------------------------------------------------

    def _refuse(self, request: sip.Message, addr, status: int, reason: str) -> None:
        reply = sip.response(request, status, to_tag=sip.new_tag(), extra={"Reason": reason})
        self.transactions.reply(request, addr, reply)
        call_log.decided(log, "refused", request.call_id, code=status, reason=reason)

    async def _answer(self, request: sip.Message, addr) -> None:
        """Answer a new INVITE, or refuse it so Kamailio moves on to the plan's next step."""
        try:
            await self._answer_or_refuse(request, addr)
        except Exception as exc:
            log.exception("%s: cannot answer", request.call_id)
            if not self.transactions.answered(request.call_id):
                self._refuse(request, addr, 503, f'Q.850;cause=41;text="media app: {type(exc).__name__}"')

    async def _answer_or_refuse(self, request: sip.Message, addr) -> None:
        try:
            flow, node = await self._node(request)
        except LookupError as exc:
            log.warning("%s: refused: %s", request.call_id, exc)
            self._refuse(request, addr, 404, f'Q.850;cause=1;text="{exc}"')
            return
        language = await self.context.store.company_language(int(request.get(COMPANY_HEADER.lower(), "")))
        try:
            answer = sdp.choose(sdp.parse_offer(request.body))
        except sdp.NoCommonCodec as exc:
            self._refuse(request, addr, 488, f'Q.850;cause=88;text="{exc}"')
            return
        try:
            rtp = await self.ports.open(self.media.sip.host)
        except OSError as exc:
            log.error("%s: %s", request.call_id, exc)
            self._refuse(request, addr, 503, 'Q.850;cause=34;text="no media port free"')
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
            node=(flow, node),
            priority=queue_priority(request.get(PRIORITY_HEADER.lower(), "")),
            language=language,
        )
        self.calls[request.call_id] = call
        call_log.decided(
            log,
            "answered",
            request.call_id,
            node=sip.user_of(request.uri or ""),
            company_id=request.get(COMPANY_HEADER.lower(), "").strip(),
        )
        body = call.answer_body = sdp.answer_body(answer, self.media.sip.host, rtp.port)
        ok = sip.response(request, 200, to_tag=local_tag, contact=self.dialogs.contact(), body=body)
        self.transactions.reply(request, addr, ok)
        self.unacknowledged[request.call_id] = self.background(self._until_ack(call, ok, addr))

    async def _node(self, request: sip.Message) -> tuple[ModuleType, Any]:
        """The node module and the node the R-URI names ("voicemail-3", "ivr-2",
        "announce-7") in the company of the call; LookupError if nothing.

        The company comes from X-Vpbx-Company, which Kamailio removes from what
        callers send and adds only to the branches routing sent here: a URI
        that names another company's box (a customer's own SIP URI pointed at
        us) finds nothing.
        """
        user = sip.user_of(request.uri or "")
        name = leg_names.parse_node_user(user)
        flow = NODES.get(name.kind) if name else None
        if name is None or flow is None:
            raise LookupError(f"nothing here answers {user}")
        company = request.get(COMPANY_HEADER.lower(), "").strip()
        if not company.isdigit():
            raise LookupError(f"{user} was not routed here by a company's plan")
        node = await flow.find(self.context, name.id, int(company))
        if node is None:
            raise LookupError(f"no {flow.WHAT} {name.id}")
        return flow, node

    async def _until_ack(self, call: MediaCall, ok: sip.Message, addr) -> None:
        """Our 200 OK until the ACK; without one in 64*T1 the call is hung up."""
        await self.transactions.resend_2xx(ok, addr, call.ended)
        if call.ended.is_set():
            return
        log.warning("%s: no ACK for the 200 OK, hanging up", call.call_id)
        self.unacknowledged.pop(call.call_id, None)
        await self.hang_up(call)
        self.finish(call)

    async def _run(self, call: MediaCall) -> None:
        try:
            if call.node is not None:
                flow, node = call.node
                await flow.run(call, node, self.context)
        except HungUp:
            log.info("%s: the caller hung up", call.call_id)
        except Exception:
            log.exception("%s: flow failed", call.call_id)
        finally:
            if not call.ended.is_set():
                await self.hang_up(call)
            self.finish(call)

    # ---- changes a node made ----------------------------------------------------

    async def republish(self, company_id: int) -> bool:
        """Make a change a node committed (a feature code) reach the company's
        next calls; False when the routing cache did not take it (its keeper's
        next rebuild will). Compiling is synchronous: it runs in a thread."""
        return await asyncio.to_thread(self._republish, company_id)

    def _republish(self, company_id: int) -> bool:
        try:
            with db.connect(self.settings.database_url) as conn:
                cache = redis_client.connect(self.settings, socket_timeout=2, socket_connect_timeout=2)
                try:
                    publish_company(conn, cache, company_id)
                finally:
                    cache.close()
        except (redis.RedisError, psycopg.Error) as exc:
            log.error("company %s: routing documents not republished: %s", company_id, exc)
            return False
        forget_kept_versions(KamailioRpc(self.settings.kamailio_rpc, timeout=0.5))
        return True

    # ---- hanging up -------------------------------------------------------------

    async def hang_up(self, call: MediaCall) -> None:
        """Hang up on the caller. Without an answer to our BYE the rtpengine
        session is deleted here, so nothing is left behind."""
        if call.ended.is_set():
            return
        if await self.dialogs.bye(call.dialog) is None:
            log.warning("%s: BYE unanswered; deleting the media session", call.call_id)
            try:
                await self.ng.request("delete", call_id=call.call_id)
            except (NgError, NgTimeout) as exc:
                log.warning("%s: delete: %s", call.call_id, exc)

    def finish(self, call: MediaCall) -> None:
        if self.calls.get(call.call_id) is call:
            call_log.decided(log, "ended", call.call_id)
        call.rtp.close()
        self.calls.pop(call.call_id, None)
        self.transactions.forget_invite(call.call_id)


async def serve(settings: Settings) -> None:
    app = MediaApp(settings)
    await app.start()
    try:
        await asyncio.Event().wait()
    finally:
        await app.stop()
