"""The media app's dialogs (RFC 3261 section 12): the caller's, where it is the
UAS, and the legs it opens, where it is the UAC; and the requests it sends
within them (BYE, a re-INVITE with a new offer, ACK), over the transaction
layer (vpbx.media.transactions)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from . import sip
from .transactions import Transactions

log = logging.getLogger(__name__)


@dataclass
class Dialog:
    """One SIP dialog of the media app's, either side: the caller's (we are the
    UAS) or a leg it opened (we are the UAC)."""

    call_id: str
    local: str  # our From (UAC) or To (UAS) header value, with our tag
    remote: str  # theirs, with their tag
    remote_target: str  # their Contact: the R-URI of our in-dialog requests
    route_set: list[str]  # Route headers of our in-dialog requests, in order
    peer: tuple[str, int]  # Kamailio, where every request of ours goes
    invite: sip.Message | None = None  # the INVITE that made it, when we answered it
    local_cseq: int = 1
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def local_tag(self) -> str:
        return sip.tag_of(self.local) or ""

    @property
    def remote_tag(self) -> str:
        return sip.tag_of(self.remote) or ""


class Dialogs:
    """Requests within dialogs; every one goes to the dialog's peer, our Kamailio."""

    def __init__(self, transactions: Transactions):
        self.transactions = transactions

    def contact(self) -> str:
        return f"sip:media@{self.transactions.host}:{self.transactions.port}"

    def request(self, dialog: Dialog, method: str) -> sip.Message:
        """A request within ``dialog`` (section 12.2.1.1), with its current CSeq."""
        headers = {"via": [self.transactions.via()], "max-forwards": ["70"]}
        if dialog.route_set:
            headers["route"] = list(dialog.route_set)
        headers["from"] = [dialog.local]
        headers["to"] = [dialog.remote]
        headers["call-id"] = [dialog.call_id]
        headers["cseq"] = [f"{dialog.local_cseq} {method}"]
        return sip.Message(method=method, uri=dialog.remote_target, headers=headers)

    async def bye(self, dialog: Dialog) -> sip.Message | None:
        """End a dialog: BYE, and its final answer (None: none came)."""
        dialog.ended.set()
        dialog.local_cseq += 1
        reply = await self.transactions.request(self.request(dialog, "BYE"), dialog.peer)
        if reply is not None:
            log.info("%s: BYE answered %s", dialog.call_id, reply.status)
        return reply

    async def reinvite(self, dialog: Dialog, body: bytes) -> sip.Message | None:
        """Offer ``body`` in ``dialog``: the re-INVITE's final answer, which gets
        our ACK; None without one."""
        dialog.local_cseq += 1
        invite = self.request(dialog, "INVITE")
        invite.headers["contact"] = [f"<{self.contact()}>"]
        invite.headers["content-type"] = ["application/sdp"]
        invite.body = body
        reply = await self.transactions.invite(invite, dialog.peer)
        if reply is not None:
            # A 2xx's ACK is a request of the dialog (the re-INVITE's CSeq); a failure's, of the transaction.
            ack = self.request(dialog, "ACK") if (reply.status or 0) < 300 else sip.ack_for_failure(invite, reply)
            self.transactions.send(ack, dialog.peer)
        return reply
