"""Connecting a caller the media app answered to people: an IVR key that rings
an employee, a department, a number (R10), or a scheme's steps after its
greeting, with music instead of ringback and a whisper to whoever answers (R14).

The media app acts as a B2BUA. It opens a new leg through Kamailio
(``sip:ivr-<menu>-<key>@<company domain>`` or ``sip:scheme-<id>@<domain>``),
so forking, step timers and history stay in Kamailio, which routes the leg and
does not anchor it in rtpengine. The leg offers the address rtpengine already
gave the media app in the caller's call. When someone answers, the media app
gives rtpengine their SDP as the new answer of its own side of that call: audio
then flows caller <-> rtpengine <-> the person who answered, in the one
rtpengine call the caller has had from the start, and the media app keeps
only the signalling of both legs.

The leg offers both G.711 laws, the caller's first (and RFC 4733 events). A
person whose phone takes the caller's law is put through by that ng answer.
One whose phone takes the other law is put through by a re-INVITE of the
caller carrying the person's SDP: Kamailio hands it to rtpengine as an offer
with transcoding to either law and port latching, so the caller keeps
speaking its law and rtpengine transcodes between the two.

A whisper (R14) plays to the person who answered while the caller's media is
blocked and the caller still hears the waiting music: only then are they put
through.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..routing.targets import ANSWERED_BY_HEADER
from . import sdp, sip
from .call import HungUp, MediaCall, first_done
from .dialogs import Dialog, Dialogs
from .ng import AsyncNgClient, NgError, NgTimeout
from .transactions import Transactions

if TYPE_CHECKING:
    from .prompts import PromptLibrary

log = logging.getLogger(__name__)

# RFC 3261 Timer B bounds waiting for any reply to the INVITE; then the
# plan's own timers in Kamailio decide how long it rings. This bounds the rest.
NO_REPLY_S = 32.0
RING_LIMIT_S = 660.0  # above the plan's 600 s ring cap: Kamailio ends the ringing first
# Kamailio's flags for every offer and answer (vpbx_kemi.RTPENGINE_FLAGS), and
# "port latching": the person was offered the port rtpengine gave the media app,
# so rtpengine must keep its ports while the far end of that side changes.
NG_FLAGS = {"replace": ["origin", "session-connection"], "ICE": "remove", "flags": ["port latching"]}


# What runs on the person's leg once the caller hung up: (the leg, the employee who answered).
AfterCall = Callable[[Dialog, int | None], Awaitable[None]]


@dataclass
class Leg:
    """A leg the media app opened for a caller, once answered."""

    dialog: Dialog
    offer: bytes  # what we offered: our answer to the person's re-INVITEs
    ack: sip.Message


class Connector:
    """Opens legs through Kamailio for the callers the media app holds, and
    keeps the answered ones (``legs``, by Call-ID) for the requests and
    retransmissions that come in them."""

    def __init__(
        self,
        transactions: Transactions,
        dialogs: Dialogs,
        ng: AsyncNgClient,
        prompts: PromptLibrary,
        kamailio: tuple[str, int],
    ):
        self.transactions = transactions
        self.dialogs = dialogs
        self.ng = ng
        self.prompts = prompts
        self.kamailio = kamailio
        self.legs: dict[str, Leg] = {}

    def retransmitted(self, response: sip.Message) -> None:
        """A response of an answered leg's INVITE resent: a 2xx again means our
        ACK was lost (RFC 3261 section 13.2.2.4)."""
        leg = self.legs.get(response.call_id)
        status = response.status or 0
        if leg is not None and 200 <= status < 300 and response.cseq[1] == "INVITE":
            number = response.cseq[0]
            # Our re-INVITE's 2xx (the category menu's) gets the ACK of its own CSeq.
            ack = leg.ack if number == 1 else self.dialogs.request(leg.dialog, "ACK")
            if number in (1, leg.dialog.local_cseq):
                self.transactions.send(ack, leg.dialog.peer)

    def invite(
        self, user: str, domain: str, *, call_id: str, from_: str, body: bytes, parent: str | None = None
    ) -> sip.Message:
        """The INVITE of a leg the media app opens through Kamailio to ``user``
        at ``domain``, offering ``body``; ``parent``: the caller's Call-ID,
        whose history line the leg joins."""
        headers = {
            "via": [self.transactions.via()],
            "max-forwards": ["70"],
            "from": [from_],
            "to": [f"<sip:{user}@{domain}>"],
            "call-id": [call_id],
            "cseq": ["1 INVITE"],
            "contact": [f"<{self.dialogs.contact()}>"],
            "content-type": ["application/sdp"],
        }
        if parent is not None:
            headers["x-vpbx-parent"] = [parent]
        return sip.Message(method="INVITE", uri=f"sip:{user}@{domain}", headers=headers, body=body)

    async def hang_up_all(self) -> None:
        for leg in list(self.legs.values()):
            await self.dialogs.bye(leg.dialog)

    async def connect(
        self,
        call: MediaCall,
        user: str,
        domain: str,
        *,
        music: Path | None = None,
        whisper: Path | None = None,
        answered: Callable[[int | None], Awaitable[None]] | None = None,
        after_call: AfterCall | None = None,
    ) -> bool:
        return await connect(
            self, call, user, domain, music=music, whisper=whisper, answered=answered, after_call=after_call
        )


async def connect(
    connector: Connector,
    call: MediaCall,
    user: str,
    domain: str,
    *,
    music: Path | None = None,
    whisper: Path | None = None,
    answered: Callable[[int | None], Awaitable[None]] | None = None,
    after_call: AfterCall | None = None,
) -> bool:
    """Ring what ``user`` names ("ivr-<menu>-<key>", "scheme-<id>") and bridge the
    caller to whoever answers, until either side hangs up: True. False when
    nobody answered; the caller is then still the media app's. HungUp when the
    caller hung up while it rang. ``music`` plays instead of ringback; ``whisper``
    to whoever answers, before the caller is put through; ``answered`` is
    awaited once someone answered, with the employee who did when Kamailio
    says (a queue lets the next caller move up, and rests that agent);
    ``after_call`` is awaited with the person's leg and that employee when
    the caller hangs up first (the post-call category menu): the leg ends
    after it."""
    if call.dialog.invite is None:
        raise ValueError(f"{call.call_id}: a call without its INVITE cannot be put through")
    offer = sdp.parse_offer(call.dialog.invite.body)
    body = sdp.offer_body(call.answer, offer.address, offer.port)
    invite = connector.invite(
        user,
        domain,
        call_id=f"{secrets.token_hex(12)}@vpbx-media",
        # The caller's number, so the person who answers sees who calls.
        from_=f'"{call.caller}" <sip:{call.caller}@{domain}>;tag={sip.new_tag()}',
        body=body,
        parent=call.call_id,  # history adds this leg to the caller's call
    )
    await play_while_ringing(call, music or await connector.prompts.ringback())
    try:
        ringing = await _ring(connector, call, invite)
    except HungUp:
        await call.stop_playing()
        raise
    if ringing is None:
        await call.stop_playing()
        return False
    dialog, response, ack = ringing
    # The person's BYE and a resent 2xx are handled as this leg's from the answer on.
    connector.legs[dialog.call_id] = Leg(dialog, body, ack)
    by = response.get(ANSWERED_BY_HEADER.lower(), "").strip()
    employee_id = int(by) if by.isdigit() else None
    if answered is not None:
        await answered(employee_id)
    try:
        if whisper is not None:
            # Before the person is given the caller's media: not a word of it may reach them before the whisper.
            await _block_caller(call, True)
        try:
            await _point_caller_at(connector, call, response.body)
        except HungUp:
            # Gone while their side was being re-INVITEd: the person must not stay on a dead line.
            await connector.dialogs.bye(dialog)
            raise
        except (NgError, NgTimeout, BridgeRefused) as exc:
            log.error("%s: cannot bridge to %s: %s", call.call_id, user, exc)
            await call.stop_playing()
            await connector.dialogs.bye(dialog)
            if whisper is not None:
                await _block_caller(call, False)
            return False
        call.rtp.close()  # rtpengine sends the caller's audio to the person now
        if whisper is not None:
            await _whisper(call, dialog, whisper)
        await call.stop_playing()  # the music: the caller hears the person from now on
        log.info("%s: bridged to %s (leg %s)", call.call_id, sip.uri_of(dialog.remote), dialog.call_id)
        if await _first_to_end(call.dialog, dialog) is call.dialog:
            if after_call is not None:
                await after_call(dialog, employee_id)
            if not dialog.ended.is_set():
                await connector.dialogs.bye(dialog)
        else:
            await call.hang_up()
    finally:
        connector.legs.pop(dialog.call_id, None)
    return True


async def _first_to_end(*dialogs: Dialog, timeout: float | None = None) -> Dialog | None:
    """The first of ``dialogs`` to end, the earlier in the list if both have
    (None when ``timeout`` passes first)."""
    first = await first_done({index: dialog.ended.wait() for index, dialog in enumerate(dialogs)}, timeout)
    return None if first is None else dialogs[first]


class BridgeRefused(Exception):
    """The caller's side refused the re-INVITE that would put them through."""


async def _point_caller_at(connector: Connector, call: MediaCall, person_sdp: bytes) -> None:
    """Make the person who answered the far end of the media app's side of the
    caller's rtpengine call."""
    chosen = sdp.parse_offer(person_sdp).payload_types
    if call.answer.payload_type in chosen[:1]:
        # Same law: their SDP becomes the answer of our side of the caller's call.
        await connector.ng.request(
            "answer",
            call_id=call.call_id,
            from_tag=call.dialog.remote_tag,
            to_tag=call.dialog.local_tag,
            sdp=person_sdp.decode(),
            **NG_FLAGS,
        )
        return
    # The other law: the caller is re-offered the person's SDP through Kamailio,
    # which asks rtpengine to transcode (vpbx_kemi: the media app's re-INVITEs).
    reply = await call.until_ended(connector.dialogs.reinvite(call.dialog, person_sdp))
    if reply is None or not 200 <= (reply.status or 0) < 300:
        raise BridgeRefused(f"re-INVITE answered {reply.status if reply else 'nothing'}")


async def play_while_ringing(call: MediaCall, path: Path) -> None:
    """Ringback or music to the caller while the leg rings. rtpengine 10.5 has no
    endless loop: the file repeats as often as the longest ringing could need
    (counted for a 1 s file; stop media ends it)."""
    call.playing = True  # until call.stop_playing()
    try:
        await call.ng.request(
            "play media",
            call_id=call.call_id,
            from_tag=call.dialog.remote_tag,
            file=str(path),
            repeat_times=int(RING_LIMIT_S) + 1,
        )
    except (NgError, NgTimeout) as exc:
        call.playing = False  # comfort noise rather than nothing
        log.warning("%s: nothing to hear while it rings: %s", call.call_id, exc)


async def _whisper(call: MediaCall, dialog: Dialog, path: Path) -> None:
    """Play ``path`` to the person who answered (now the far end of the media
    app's side of the caller's rtpengine call, our tag), the caller's media still
    blocked; then unblock it. Returns when it has played, or either side hung up."""
    try:
        reply = await call.ng.request(
            "play media", call_id=call.call_id, from_tag=call.dialog.local_tag, file=str(path)
        )
        await _first_to_end(call.dialog, dialog, timeout=int(reply.get("duration", 0)) / 1000)
    except (NgError, NgTimeout) as exc:
        log.warning("%s: whisper not played: %s", call.call_id, exc)
    finally:
        await _block_caller(call, False)


async def _block_caller(call: MediaCall, block: bool) -> None:
    command = "block media" if block else "unblock media"
    try:
        await call.ng.request(command, call_id=call.call_id, from_tag=call.dialog.remote_tag)
    except (NgError, NgTimeout) as exc:
        log.warning("%s: %s: %s", call.call_id, command, exc)


async def _ring(connector: Connector, call: MediaCall, invite: sip.Message):
    return await ring(connector, invite, call.ended, call.call_id)


async def ring(connector: Connector, invite: sip.Message, ended: asyncio.Event, who: str):
    """The INVITE client transaction (RFC 3261 section 17.1.1): resent until the
    first reply, CANCELled once ``ended`` is set (the caller hung up). (Dialog,
    2xx, ACK) once answered; None when it failed; HungUp (``who``: the call
    the logs name) when ``ended`` was set meanwhile."""
    loop = asyncio.get_running_loop()
    transactions, peer = connector.transactions, connector.kamailio
    replied = asyncio.Event()
    started = loop.time()
    deadline = started + NO_REPLY_S
    cancelled = False
    with transactions.awaiting(invite.branch) as replies:
        resending = asyncio.ensure_future(transactions.resend_until(invite, peer, replied))
        try:
            while True:
                reply = await _next_reply(replies, None if cancelled else ended, deadline - loop.time())
                if reply is None:  # the caller hung up, or nothing came in time
                    if cancelled or not replied.is_set():
                        log.warning("%s: the leg to %s got no final answer", who, invite.uri)
                        if ended.is_set():
                            raise HungUp(who)
                        return None
                    transactions.send(_cancel(invite), peer)
                    cancelled = True
                    deadline = loop.time() + NO_REPLY_S
                    continue
                if not replied.is_set():
                    replied.set()
                    deadline = started + RING_LIMIT_S
                if reply.cseq[1] != "INVITE" or (reply.status or 0) < 200:
                    continue  # ringing, or the answer to our CANCEL
                if (reply.status or 0) >= 300:
                    transactions.send(sip.ack_for_failure(invite, reply), peer)
                    log.info("%s: the leg to %s ended %s", who, invite.uri, reply.status)
                    if ended.is_set():
                        raise HungUp(who)
                    return None
                dialog = Dialog(
                    call_id=invite.call_id,
                    local=invite.get("from", ""),
                    remote=reply.get("to", ""),
                    remote_target=sip.uri_of(reply.get("contact", "")) or invite.uri or "",
                    route_set=list(reversed(reply.all("record-route"))),
                    peer=peer,
                )
                ack = connector.dialogs.request(dialog, "ACK")  # CSeq 1, the INVITE's
                transactions.send(ack, peer)
                if ended.is_set():
                    # Answered just as the caller hung up: the person gets a BYE at once.
                    await connector.dialogs.bye(dialog)
                    raise HungUp(who)
                return dialog, reply, ack
        finally:
            resending.cancel()


async def _next_reply(queue: asyncio.Queue, ended: asyncio.Event | None, timeout: float) -> sip.Message | None:
    """The next reply within ``timeout``; None at the timeout or when ``ended`` is set first."""
    waits = {asyncio.ensure_future(queue.get())}
    if ended is not None:
        waits.add(asyncio.ensure_future(ended.wait()))
    try:
        done, _ = await asyncio.wait(waits, timeout=max(timeout, 0), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
    for task in done:
        result = task.result()
        if isinstance(result, sip.Message):
            return result
    return None


def _cancel(invite: sip.Message) -> sip.Message:
    """The CANCEL of our INVITE (section 9.1): its branch, Request-URI, From, To and CSeq number."""
    return sip.Message(
        method="CANCEL",
        uri=invite.uri,
        headers={
            "via": invite.all("via"),
            "max-forwards": ["70"],
            "from": [invite.get("from", "")],
            "to": [invite.get("to", "")],
            "call-id": [invite.call_id],
            "cseq": ["1 CANCEL"],
            "reason": ['SIP;cause=487;text="caller hung up"'],
        },
    )
