"""The media app's SIP transaction layer over its one UDP socket (RFC 3261
section 17): retransmissions and their timers, and matching responses to the
client transactions waiting for them. Dialogs (vpbx.media.dialogs) and the
B2BUA legs (vpbx.media.connect) build on it; nothing here knows of calls.

Our own rather than a maintained stack's: see vpbx.media.sip for why. Over
UDP to one Kamailio on loopback the layer needs Timer A/E (resend at T1,
doubling up to T2), Timer B/F (give up at 64*T1), the UAS resending its 2xx
until the ACK (section 13.3.1.4), and a retransmitted INVITE answered with the
same reply. Nothing else of section 17 applies here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from . import sip

log = logging.getLogger(__name__)

# RFC 3261 timers: T1 the round-trip estimate, T2 the retransmission ceiling;
# a transaction gives up after 64*T1.
T1, T2 = 0.5, 4.0
TRANSACTION_TIMEOUT = 64 * T1


class Transactions:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.transport: asyncio.DatagramTransport | None = None
        # Our client transactions, by Via branch: where their responses go.
        self._waiting: dict[str, asyncio.Queue[sip.Message]] = {}
        # Call-ID -> (INVITE branch, our final reply): a resent INVITE gets the reply again.
        self._invites: dict[str, tuple[str, sip.Message | None]] = {}

    def send(self, message: sip.Message, address: tuple[str, int]) -> None:
        if self.transport is None:
            raise RuntimeError("the media app's SIP socket is not open")
        self.transport.sendto(message.encode(), address)

    def via(self) -> str:
        """The Via of a new client transaction of ours (a fresh branch)."""
        return f"SIP/2.0/UDP {self.host}:{self.port};branch={sip.new_branch()};rport"

    # ---- client transactions ----------------------------------------------------

    @contextmanager
    def awaiting(self, branch: str) -> Iterator[asyncio.Queue[sip.Message]]:
        """The responses of our client transaction ``branch``, while it lasts."""
        queue: asyncio.Queue[sip.Message] = asyncio.Queue()
        self._waiting[branch] = queue
        try:
            yield queue
        finally:
            self._waiting.pop(branch, None)

    def deliver(self, response: sip.Message) -> bool:
        """Hand a response to the client transaction waiting for it (False: none is)."""
        queue = self._waiting.get(response.branch)
        if queue is None:
            return False
        queue.put_nowait(response)
        return True

    async def request(self, request: sip.Message, peer: tuple[str, int]) -> sip.Message | None:
        """A non-INVITE client transaction (section 17.1.2): resent at T1,
        doubling up to T2, until a final answer (returned) or 64*T1 (None)."""
        interval, waited = T1, 0.0
        with self.awaiting(request.branch) as replies:
            while waited < TRANSACTION_TIMEOUT:
                self.send(request, peer)
                try:
                    while True:
                        reply = await asyncio.wait_for(replies.get(), interval)
                        if (reply.status or 0) >= 200:
                            return reply
                except TimeoutError:
                    waited += interval
                    interval = min(interval * 2, T2)
        return None

    async def invite(self, invite: sip.Message, peer: tuple[str, int]) -> sip.Message | None:
        """An INVITE client transaction for an offer within a dialog (section
        17.1.1): resent until the first reply, then its final answer (None:
        none came). The caller sends the ACK (a 2xx's belongs to the dialog)."""
        interval, waited, replied = T1, 0.0, False
        with self.awaiting(invite.branch) as replies:
            while waited < TRANSACTION_TIMEOUT:
                if not replied:
                    self.send(invite, peer)
                try:
                    reply = await asyncio.wait_for(replies.get(), interval if not replied else TRANSACTION_TIMEOUT)
                except TimeoutError:
                    waited += interval
                    interval = min(interval * 2, T2)
                    continue
                replied = True
                if (reply.status or 0) >= 200:
                    return reply
        return None

    async def resend_until(self, request: sip.Message, peer: tuple[str, int], replied: asyncio.Event) -> None:
        """Timer A: ``request`` again at T1, doubling up to T2, until ``replied`` is set or 64*T1."""
        interval, waited = T1, 0.0
        while waited < TRANSACTION_TIMEOUT:
            self.send(request, peer)
            try:
                await asyncio.wait_for(replied.wait(), interval)
                return
            except TimeoutError:
                waited += interval
                interval = min(interval * 2, T2)

    # ---- the INVITE server transaction --------------------------------------------

    def new_invite(self, request: sip.Message, addr: tuple[str, int]) -> bool:
        """Whether an INVITE outside any dialog starts a new transaction; a
        retransmission gets our reply again (if we have given one) instead."""
        seen = self._invites.get(request.call_id)
        if seen is None:
            self._invites[request.call_id] = (request.branch, None)
            return True
        if seen[0] == request.branch and seen[1] is not None:
            self.send(seen[1], addr)
        return False

    def answered(self, call_id: str) -> bool:
        """Whether the new INVITE of ``call_id`` has had its final reply."""
        return self._invites.get(call_id, ("", None))[1] is not None

    def reply(self, request: sip.Message, addr: tuple[str, int], reply: sip.Message) -> None:
        """Send a reply; a new INVITE's is kept for its retransmissions."""
        if request.method == "INVITE" and request.to_tag is None:
            self._invites[request.call_id] = (request.branch, reply)
            if (reply.status or 0) >= 300:
                self.forget_invite(request.call_id)
        self.send(reply, addr)

    def forget_invite(self, call_id: str) -> None:
        """Keep the INVITE's reply a little for retransmissions, then forget it."""
        asyncio.get_running_loop().call_later(TRANSACTION_TIMEOUT, self._invites.pop, call_id, None)

    async def resend_2xx(self, ok: sip.Message, addr: tuple[str, int], done: asyncio.Event) -> None:
        """Resend our 2xx at T1, doubling up to T2 (section 13.3.1.4), for
        64*T1 or until ``done``. Cancelled when the ACK comes."""
        interval = T1
        deadline = asyncio.get_running_loop().time() + TRANSACTION_TIMEOUT
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(interval)
            if done.is_set():
                return
            self.send(ok, addr)
            interval = min(interval * 2, T2)
