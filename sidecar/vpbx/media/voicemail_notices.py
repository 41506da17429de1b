"""What a voicemail leaves behind besides its recording: the history event
that marks the call's line (R13, R19) and the email to the box's recipients
(R11). Neither may cost the message: an event Redis does not take waits in a
spool file until it does; a mail server's failure is noted on the message."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime

import redis
import redis.asyncio as aioredis

from ..history import events
from ..history.spool import Spool
from ..notify import links, voicemail_email
from ..settings import Media
from .call import MediaCall
from .store import Box, Store

log = logging.getLogger(__name__)

# How often voicemail events kept while Redis was down are offered to it again.
SPOOL_RETRY_SECONDS = 1.0


class VoicemailNotices:
    def __init__(
        self,
        client: aioredis.Redis,
        spool: Spool,
        store: Store,
        media: Media,
        now: Callable[[], datetime],
        clock: Callable[[], float],
    ):
        self.redis = client
        self.spool = spool
        self.store = store
        self.media = media
        self.now = now
        self.clock = clock

    async def history(self, call: MediaCall, box: Box, message_id: int | None) -> None:
        """History's voicemail event: the call's line is marked when a message was left."""
        event = {
            "type": events.VOICEMAIL,
            "call_id": call.call_id,
            "at": self.now().isoformat(),
            "box_id": box.id,
            "message_id": message_id,
        }
        batch = [json.dumps(event)]
        if self.spool.pending():  # older events wait there: this one queues behind them
            self.spool.add(batch)
            return
        try:
            await self.redis.xadd(events.STREAM, events.entry(batch), maxlen=events.STREAM_MAX_LEN, approximate=True)
        except Exception as exc:  # history is worth less than the message itself
            log.error("%s: Redis refuses the voicemail event (%s): kept until it takes it", call.call_id, exc)
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
            log.warning("Redis takes events again: %d voicemail events kept meanwhile sent", sent)

    async def _send(self, batches: list[list[str]]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        for batch in batches:
            pipe.xadd(events.STREAM, events.entry(batch), maxlen=events.STREAM_MAX_LEN, approximate=True)
        await pipe.execute()

    async def email(self, box: Box, message_id: int, call: MediaCall, received_at: datetime, duration_s: float) -> None:
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
