"""In a cluster the media app tells every Kamailio node, each second, that it
is alive: an OPTIONS to ``vpbx-media-alive`` from its SIP socket.

Each Kamailio notes when it last heard each media app (kamailio.cfg,
route[MEDIA_ALIVE]); one silent for longer than the allowed silence has its
host's rtpengine taken out of new calls (vpbx.kamailio_adapter.media_hosts),
so new calls are anchored where a media app can serve them. Told rather than
asked: Kamailio's own pings (the keepalive module) are tm transactions, which
find a silent media app only when tm's fr_timer (30 s here) runs out.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Iterable

from ..settings import Endpoint
from . import sip
from .transactions import Transactions

INTERVAL_S = 1.0
USER = "vpbx-media-alive"  # kamailio.cfg answers it before anything else


def heartbeat(transactions: Transactions, kamailio: Endpoint) -> sip.Message:
    uri = f"sip:{USER}@{kamailio.host}:{kamailio.port}"
    headers = {
        "via": [transactions.via()],
        "max-forwards": ["1"],
        "from": [f"<sip:media@{transactions.host}:{transactions.port}>;tag={sip.new_tag()}"],
        "to": [f"<{uri}>"],
        "call-id": [secrets.token_hex(12)],
        "cseq": ["1 OPTIONS"],
    }
    return sip.Message(method="OPTIONS", uri=uri, headers=headers)


async def beat(
    transactions: Transactions,
    nodes: Iterable[Endpoint],
    *,
    interval_s: float = INTERVAL_S,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Forever: one OPTIONS to each node, then ``interval_s``. Sent once, never
    resent (the next one follows); the 200s find no transaction and are dropped."""
    nodes = tuple(nodes)
    while True:
        for node in nodes:
            transactions.send(heartbeat(transactions, node), (node.host, node.port))
        await sleep(interval_s)
