"""Sending what vpbx emails (voicemail notices, faxes, a new employee's account) through the site's SMTP server."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from ..settings import Smtp


def addressed(sender: str, recipients: list[str], kind: str, now: datetime | None = None) -> EmailMessage:
    """An email from ``sender`` to ``recipients`` with its Date and Message-ID
    (``kind`` starts the id: "voicemail", "fax"). RFC 5322 requires Date; a
    Message-ID at the sender's domain keeps spam filters and mail clients
    (threading, duplicates) content."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = ", ".join(recipients)
    email["Date"] = format_datetime(now or datetime.now(UTC))
    email["Message-ID"] = make_msgid(kind, domain=parseaddr(sender)[1].rpartition("@")[2] or None)
    return email


def send(smtp: Smtp, email: EmailMessage, recipients: list[str], timeout: float = 10.0) -> None:
    """One SMTP session for every recipient; raises what smtplib raises."""
    with smtplib.SMTP(smtp.host, smtp.port, timeout=timeout) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.username:
            client.login(smtp.username, smtp.password or "")
        client.send_message(email, to_addrs=recipients)
