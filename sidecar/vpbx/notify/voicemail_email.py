"""The email each recipient of a voicemail box gets for a new message (R13)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class NewMessage:
    box_name: str
    caller: str
    called: str
    received_at: datetime
    timezone: str
    duration_s: float
    link: str
    link_days: int


def compose(message: NewMessage, sender: str, recipients: list[str], now: datetime | None = None) -> EmailMessage:
    local = message.received_at.astimezone(ZoneInfo(message.timezone))
    minutes, seconds = divmod(round(message.duration_s), 60)
    email = EmailMessage()
    email["From"] = sender
    email["To"] = ", ".join(recipients)
    # RFC 5322 requires Date; a Message-ID (at the sender's domain) keeps spam
    # filters and mail clients (threading, duplicates) content.
    email["Date"] = format_datetime(now or datetime.now(UTC))
    email["Message-ID"] = make_msgid("voicemail", domain=parseaddr(sender)[1].rpartition("@")[2] or None)
    email["Subject"] = f"Voicemail from {message.caller or 'an unknown number'} ({message.box_name})"
    email.set_content(
        f"A new voicemail message in the box {message.box_name!r}.\n\n"
        f"From:      {message.caller or 'unknown'}\n"
        f"To number: {message.called}\n"
        f"Received:  {local:%Y-%m-%d %H:%M:%S} ({message.timezone})\n"
        f"Duration:  {minutes}:{seconds:02d}\n\n"
        f"Listen or download (the link works for {message.link_days} days):\n{message.link}\n"
    )
    return email
