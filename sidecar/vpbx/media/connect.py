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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import sdp, sip
from .call import Dialog, HungUp, MediaCall, first_done
from .ng import NgError, NgTimeout

if TYPE_CHECKING:
    from .app import MediaApp

log = logging.getLogger(__name__)

# RFC 3261 Timer B bounds waiting for any reply to the INVITE; then the
# plan's own timers in Kamailio decide how long it rings. This bounds the rest.
NO_REPLY_S = 32.0
RING_LIMIT_S = 660.0  # above the plan's 600 s ring cap: Kamailio ends the ringing first
# Kamailio's flags for every offer and answer (vpbx_kemi.RTPENGINE_FLAGS), and
# "port latching": the person was offered the port rtpengine gave the media app,
# so rtpengine must keep its ports while the far end of that side changes.
NG_FLAGS = {"replace": ["origin", "session-connection"], "ICE": "remove", "flags": ["port latching"]}


@dataclass
class Leg:
    """A leg the media app opened for a caller, once answered."""

    dialog: Dialog
    offer: bytes  # what we offered: our answer to the person's re-INVITEs
    ack: sip.Message
    app: MediaApp

    def retransmitted(self, response: sip.Message) -> None:
        # A 2xx resent means our ACK was lost (RFC 3261 section 13.2.2.4).
        if response.status is not None and 200 <= response.status < 300 and response.cseq[1] == "INVITE":
            self.app.send(self.ack, self.dialog.peer)


async def connect(
    app, call: MediaCall, user: str, domain: str, *, music: Path | None = None, whisper: Path | None = None
) -> bool:
    """Ring what ``user`` names ("ivr-<menu>-<key>", "scheme-<id>") and bridge the
    caller to whoever answers, until either side hangs up: True. False when
    nobody answered; the caller is then still the media app's. HungUp when the
    caller hung up while it rang. ``music`` plays instead of ringback; ``whisper``
    to whoever answers, before the caller is put through."""
    if call.dialog.invite is None:
        raise ValueError(f"{call.call_id}: a call without its INVITE cannot be put through")
    offer = sdp.parse_offer(call.dialog.invite.body)
    body = sdp.offer_body(call.answer, offer.address, offer.port)
    branch = sip.new_branch()
    invite = sip.Message(
        method="INVITE",
        uri=f"sip:{user}@{domain}",
        headers={
            "via": [f"SIP/2.0/UDP {app.media.sip.host}:{app.media.sip.port};branch={branch};rport"],
            "max-forwards": ["70"],
            # The caller's number, so the person who answers sees who calls.
            "from": [f'"{call.caller}" <sip:{call.caller}@{domain}>;tag={sip.new_tag()}'],
            "to": [f"<sip:{user}@{domain}>"],
            "call-id": [f"{secrets.token_hex(12)}@vpbx-media"],
            "cseq": ["1 INVITE"],
            "contact": [f"<{app.contact()}>"],
            # History adds this leg to the caller's call.
            "x-vpbx-parent": [call.call_id],
            "content-type": ["application/sdp"],
        },
        body=body,
    )
    await _play_while_ringing(call, music or await app.prompts.ringback())
    try:
        answered = await _ring(app, call, invite)
    except HungUp:
        await call.stop_playing()
        raise
    if answered is None:
        await call.stop_playing()
        return False
    dialog, response, ack = answered
    # The person's BYE and a resent 2xx are handled as this leg's from the answer on.
    app.legs[dialog.call_id] = Leg(dialog, body, ack, app)
    try:
        if whisper is not None:
            # Before the person is given the caller's media: not a word of it may reach them before the whisper.
            await _block_caller(call, True)
        try:
            await _point_caller_at(app, call, response.body)
        except (NgError, NgTimeout, BridgeRefused) as exc:
            log.error("%s: cannot bridge to %s: %s", call.call_id, user, exc)
            await call.stop_playing()
            await app.bye(dialog)
            if whisper is not None:
                await _block_caller(call, False)
            return False
        call.rtp.close()  # rtpengine sends the caller's audio to the person now
        if whisper is not None:
            await _whisper(call, dialog, whisper)
        await call.stop_playing()  # the music: the caller hears the person from now on
        log.info("%s: bridged to %s (leg %s)", call.call_id, sip.uri_of(dialog.remote), dialog.call_id)
        if await _first_to_end(call.dialog, dialog) is call.dialog:
            await app.bye(dialog)
        else:
            await app.hang_up(call)
    finally:
        app.legs.pop(dialog.call_id, None)
    return True


async def _first_to_end(*dialogs: Dialog, timeout: float | None = None) -> Dialog | None:
    """The first of ``dialogs`` to end, the earlier in the list if both have
    (None when ``timeout`` passes first)."""
    first = await first_done({index: dialog.ended.wait() for index, dialog in enumerate(dialogs)}, timeout)
    return None if first is None else dialogs[first]


class BridgeRefused(Exception):
    """The caller's side refused the re-INVITE that would put them through."""


async def _point_caller_at(app, call: MediaCall, person_sdp: bytes) -> None:
    """Make the person who answered the far end of the media app's side of the
    caller's rtpengine call."""
    chosen = sdp.parse_offer(person_sdp).payload_types
    if call.answer.payload_type in chosen[:1]:
        # Same law: their SDP becomes the answer of our side of the caller's call.
        await app.ng.request(
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
    reply = await app.reinvite(call.dialog, person_sdp)
    if reply is None or not 200 <= reply.status < 300:
        raise BridgeRefused(f"re-INVITE answered {reply.status if reply else 'nothing'}")


async def _play_while_ringing(call: MediaCall, path: Path) -> None:
    """Ringback or music to the caller while the leg rings. rtpengine 10.5 has no
    endless loop: the file repeats as often as the longest ringing could need
    (counted for a 1 s file; stop media ends it)."""
    try:
        await call.ng.request(
            "play media",
            call_id=call.call_id,
            from_tag=call.dialog.remote_tag,
            file=str(path),
            repeat_times=int(RING_LIMIT_S) + 1,
        )
    except (NgError, NgTimeout) as exc:
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


async def _ring(app, call: MediaCall, invite: sip.Message):
    """The INVITE client transaction (RFC 3261 section 17.1.1): resent until the
    first reply, CANCELled if the caller hangs up. (Dialog, 2xx, ACK) once
    answered; None when it failed; HungUp when the caller hung up meanwhile."""
    loop = asyncio.get_running_loop()
    peer = app.kamailio
    queue: asyncio.Queue[sip.Message] = asyncio.Queue()
    app.responses[invite.branch] = queue
    replied = asyncio.Event()
    resending = asyncio.ensure_future(_resend(app, invite, peer, replied))
    started = loop.time()
    deadline = started + NO_REPLY_S
    cancelled = False
    try:
        while True:
            reply = await _next_reply(queue, None if cancelled else call.ended, deadline - loop.time())
            if reply is None:  # the caller hung up, or nothing came in time
                if cancelled or not replied.is_set():
                    log.warning("%s: the leg to %s got no final answer", call.call_id, invite.uri)
                    if call.ended.is_set():
                        raise HungUp(call.call_id)
                    return None
                await _cancel(app, invite, peer)
                cancelled = True
                deadline = loop.time() + NO_REPLY_S
                continue
            if not replied.is_set():
                replied.set()
                deadline = started + RING_LIMIT_S
            if reply.cseq[1] != "INVITE" or (reply.status or 0) < 200:
                continue  # ringing, or the answer to our CANCEL
            if (reply.status or 0) >= 300:
                app.send(sip.ack_for_failure(invite, reply), peer)
                log.info("%s: the leg to %s ended %s", call.call_id, invite.uri, reply.status)
                if call.ended.is_set():
                    raise HungUp(call.call_id)
                return None
            dialog = Dialog(
                call_id=invite.call_id,
                local=invite.get("from", ""),
                remote=reply.get("to", ""),
                remote_target=sip.uri_of(reply.get("contact", "")) or invite.uri or "",
                route_set=list(reversed(reply.all("record-route"))),
                peer=peer,
            )
            ack = app.in_dialog(dialog, "ACK")  # CSeq 1, the INVITE's
            app.send(ack, peer)
            if call.ended.is_set():
                # Answered just as the caller hung up: the person gets a BYE at once.
                await app.bye(dialog)
                raise HungUp(call.call_id)
            return dialog, reply, ack
    finally:
        resending.cancel()
        app.responses.pop(invite.branch, None)


async def _resend(app, invite: sip.Message, peer, replied: asyncio.Event) -> None:
    """Timer A: the INVITE again at T1, doubling, until any reply (UDP)."""
    interval, waited = 0.5, 0.0
    while waited < NO_REPLY_S:
        app.send(invite, peer)
        try:
            await asyncio.wait_for(replied.wait(), interval)
            return
        except TimeoutError:
            waited += interval
            interval = min(interval * 2, 4.0)


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


async def _cancel(app, invite: sip.Message, peer) -> None:
    cancel = sip.Message(
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
    app.send(cancel, peer)
