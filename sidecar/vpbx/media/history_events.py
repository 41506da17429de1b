"""History events the media app emits (a voicemail left, a caller's time in a
call queue) onto the stream the history keeper reads. History is worth less
than the call itself, but none of it is lost: an event Redis does not take
waits in a spool file (vpbx.history.spool) until it does, in order."""

from __future__ import annotations

import asyncio
import json
import logging

import redis
import redis.asyncio as aioredis

from ..history import events
from ..history.spool import Spool

log = logging.getLogger(__name__)

# How often events kept while Redis was down are offered to it again.
SPOOL_RETRY_SECONDS = 1.0


class HistoryEvents:
    def __init__(self, client: aioredis.Redis, spool: Spool):
        self.redis = client
        self.spool = spool

    async def send(self, event: dict) -> None:
        batch = [json.dumps(event)]
        if self.spool.pending():  # older events wait there: this one queues behind them
            self.spool.add(batch)
            return
        try:
            await self.redis.xadd(events.STREAM, events.entry(batch), maxlen=events.STREAM_MAX_LEN, approximate=True)
        except Exception as exc:  # never fail the call for its history
            log.error(
                "%s: Redis refuses the %s event (%s): kept until it takes it", event["call_id"], event["type"], exc
            )
            self.spool.add(batch)

    async def replay_spool(self) -> None:
        """Every second: what the spool kept goes to the stream once Redis takes it."""
        while True:
            await asyncio.sleep(SPOOL_RETRY_SECONDS)
            if not self.spool.pending():
                continue
            try:
                sent = await self.spool.drain_async(self._send)
            except redis.RedisError:
                continue  # still down: the next round tries again
            log.warning("Redis takes events again: %d history events kept meanwhile sent", sent)

    async def _send(self, batches: list[list[str]]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for batch in batches:
            pipe.xadd(events.STREAM, events.entry(batch), maxlen=events.STREAM_MAX_LEN, approximate=True)
        await pipe.execute()
