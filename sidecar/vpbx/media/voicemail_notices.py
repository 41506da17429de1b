"""What a voicemail leaves behind besides its recording: the history event
that marks the call's line (R13, R19) and the email to the box's recipients
(R11). Neither may cost the message: the event is kept until Redis takes it
(media.history_events); a mail server's failure is noted on the message."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from ..history import events
from ..notify import links, mail, voicemail_email
from ..settings import Media
from .call import MediaCall
from .history_events import HistoryEvents
from .store import Box, Store

log = logging.getLogger(__name__)


class VoicemailNotices:
    def __init__(
        self,
        history: HistoryEvents,
        store: Store,
        media: Media,
        now: Callable[[], datetime],
        clock: Callable[[], float],
    ):
        self.events = history
        self.store = store
        self.media = media
        self.now = now
        self.clock = clock

    async def history(self, call: MediaCall, box: Box, message_id: int | None) -> None:
        """History's voicemail event: the call's line is marked when a message was left."""
        await self.events.send(
            {
                "type": events.VOICEMAIL,
                "call_id": call.call_id,
                "at": self.now().isoformat(),
                "box_id": box.id,
                "message_id": message_id,
            }
        )

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
            await asyncio.to_thread(mail.send, self.media.smtp, email, recipients)
        except Exception as exc:  # smtplib raises OSError and its own SMTPException kinds
            log.error("voicemail %s: email to %s failed: %s", message_id, ", ".join(recipients), exc)
            await self.store.record_emails(message_id, [], f"{type(exc).__name__}: {exc}")
            return
        await self.store.record_emails(message_id, recipients, None)
