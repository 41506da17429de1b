"""The email each recipient of a voicemail box gets for a new message (R13)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from .mail import addressed


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
    email = addressed(sender, recipients, "voicemail", now)
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
