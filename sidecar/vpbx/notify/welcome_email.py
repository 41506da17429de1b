"""The email a new employee gets with their SIP account (seed 004: "he gets a
letter with the access details", so they can set up a phone or softphone
themselves)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage

from ..settings import Settings
from .mail import addressed


@dataclass(frozen=True)
class Welcome:
    name: str
    company: str
    extension: str
    login: str
    password: str
    domain: str


def compose(welcome: Welcome, settings: Settings, to: str, now: datetime | None = None) -> EmailMessage:
    sender = settings.media.smtp.sender
    email = addressed(sender, [to], "welcome", now)
    email["Subject"] = f"Your phone account at {welcome.company}: extension {welcome.extension}"
    settings_lines = [
        f"  SIP server / domain:  {welcome.domain}",
        f"  Outbound proxy:       {settings.sip.host}:{settings.sip.port} (UDP or TCP)",
    ]
    if settings.sip_tls is not None:
        settings_lines.append(f"  Or over TLS:          {settings.sip.host}:{settings.sip_tls.port} (with SRTP)")
    settings_lines += [
        f"  User name:            {welcome.login}",
        f"  Authentication name:  {welcome.login}",
        f"  Password:             {welcome.password}",
    ]
    email.set_content(
        f"Hello, {welcome.name}.\n\n"
        f"Your phone account at {welcome.company} is ready: your extension is {welcome.extension}.\n"
        "Set up a desk phone or a softphone (Linphone, MicroSIP, Zoiper...) with:\n\n"
        + "\n".join(settings_lines)
        + "\n\nColleagues call you on your extension; dial theirs, or any number outside as from any phone.\n"
        "Keep the password to yourself: whoever has it can call at the company's cost. Your\n"
        "administrator can give you a new one at any time.\n"
    )
    return email
