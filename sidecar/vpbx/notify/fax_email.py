"""The email each recipient of a voicemail box gets for a fax received (its PDF attached)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from .mail import addressed


@dataclass(frozen=True)
class NewFax:
    box_name: str
    caller: str
    called: str
    sender_ident: str  # the number the fax machine says it is (T.30's TSI)
    received_at: datetime
    timezone: str
    pages: int
    complete: bool  # False: the call ended before the sender said it was done
    pdf: bytes


def compose(fax: NewFax, sender: str, recipients: list[str], now: datetime | None = None) -> EmailMessage:
    local = fax.received_at.astimezone(ZoneInfo(fax.timezone))
    email = addressed(sender, recipients, "fax", now)
    email["Subject"] = f"Fax from {fax.caller or 'an unknown number'}, {fax.pages} page(s) ({fax.box_name})"
    email.set_content(
        f"A fax for {fax.box_name!r}.\n\n"
        f"From:      {fax.caller or 'unknown'}"
        + (f" (fax machine {fax.sender_ident})" if fax.sender_ident else "")
        + "\n"
        f"To number: {fax.called}\n"
        f"Received:  {local:%Y-%m-%d %H:%M:%S} ({fax.timezone})\n"
        f"Pages:     {fax.pages}" + ("" if fax.complete else " (the call ended before the fax did)") + "\n"
    )
    email.add_attachment(fax.pdf, maintype="application", subtype="pdf", filename=f"fax-{local:%Y%m%d-%H%M%S}.pdf")
    return email
