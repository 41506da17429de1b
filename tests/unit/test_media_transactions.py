"""The media app's SIP transaction layer on real UDP sockets: a resent INVITE
gets the same final reply, responses reach the transaction that waits for
them, and a 2xx is resent until the ACK stops it."""

from __future__ import annotations

import asyncio
import socket

from vpbx.media import sip
from vpbx.media.transactions import T1, Transactions

INVITE = (
    "INVITE sip:voicemail-3@127.0.0.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5960;branch={branch}\r\n"
    "From: <sip:79161234567@127.0.0.1>;tag=abc\r\nTo: <sip:voicemail-3@127.0.0.1>\r\n"
    "Call-ID: call-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
)


class Peer:
    """Kamailio's side of the socket: a plain UDP socket."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.address = self.sock.getsockname()

    async def receive(self, within: float = 2.0) -> sip.Message:
        loop = asyncio.get_running_loop()
        return sip.parse(await asyncio.wait_for(loop.sock_recv(self.sock, 65535), within))


async def _open() -> tuple[Transactions, Peer]:
    transactions = Transactions("127.0.0.1", 0)
    loop = asyncio.get_running_loop()

    class Protocol(asyncio.DatagramProtocol):
        def datagram_received(self, data, addr):
            transactions.deliver(sip.parse(data))

    transactions.transport, _ = await loop.create_datagram_endpoint(Protocol, local_addr=("127.0.0.1", 0))
    return transactions, Peer()


def test_a_resent_invite_gets_the_same_final_reply_and_a_new_one_is_a_new_transaction():
    async def run():
        transactions, peer = await _open()
        invite = sip.parse(INVITE.format(branch="z9hG4bK1").encode())
        assert transactions.new_invite(invite, peer.address)
        assert not transactions.answered("call-1")
        reply = sip.response(invite, 486, to_tag="t1")
        transactions.reply(invite, peer.address, reply)
        first = await peer.receive()
        assert not transactions.new_invite(invite, peer.address)  # a retransmission
        again = await peer.receive()
        transactions.transport.close()
        return first, again, transactions.answered("call-1")

    first, again, answered = asyncio.run(run())
    assert (first.status, again.status) == (486, 486)
    assert first.encode() == again.encode()
    assert answered


def test_a_non_invite_request_is_resent_until_its_final_answer_which_it_returns():
    async def run():
        transactions, peer = await _open()
        bye = sip.Message(
            method="BYE",
            uri="sip:79161234567@127.0.0.1",
            headers={
                "via": [transactions.via()],
                "from": ["<sip:a@127.0.0.1>;tag=1"],
                "to": ["<sip:b@127.0.0.1>;tag=2"],
                "call-id": ["call-2"],
                "cseq": ["2 BYE"],
            },
        )
        asked = asyncio.ensure_future(transactions.request(bye, peer.address))
        sent = await peer.receive()
        resent = await peer.receive(within=T1 * 3)  # no answer yet: Timer E resends it
        ok = sip.response(resent, 200)
        peer.sock.sendto(ok.encode(), transactions.transport.get_extra_info("sockname"))
        reply = await asyncio.wait_for(asked, 2)
        transactions.transport.close()
        return sent, resent, reply

    sent, resent, reply = asyncio.run(run())
    assert sent.branch == resent.branch and sent.method == "BYE"
    assert reply.status == 200


def test_our_2xx_is_resent_until_the_call_is_done_with_it():
    async def run():
        transactions, peer = await _open()
        invite = sip.parse(INVITE.format(branch="z9hG4bK2").encode())
        ok = sip.response(invite, 200, to_tag="t2")
        done = asyncio.Event()
        resending = asyncio.ensure_future(transactions.resend_2xx(ok, peer.address, done))
        resent = await peer.receive(within=T1 * 3)
        done.set()  # the ACK came (the app cancels it) or the call ended
        await asyncio.wait_for(resending, T1 * 4)
        transactions.transport.close()
        return resent

    assert asyncio.run(run()).status == 200
