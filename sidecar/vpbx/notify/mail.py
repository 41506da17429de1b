"""Sending what vpbx emails (voicemail notices, a new employee's account) through the site's SMTP server."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from ..settings import Smtp


def send(smtp: Smtp, email: EmailMessage, recipients: list[str], timeout: float = 10.0) -> None:
    """One SMTP session for every recipient; raises what smtplib raises."""
    with smtplib.SMTP(smtp.host, smtp.port, timeout=timeout) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.username:
            client.login(smtp.username, smtp.password or "")
        client.send_message(email, to_addrs=recipients)
