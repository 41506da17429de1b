"""The routing library's view of an incoming call: plain values, no SIP objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Call:
    call_id: str
    called: str  # E.164 of the company number
    caller: str  # as presented by the trunk or the phone
    source: str  # "trunk" or "phone"
    at: datetime  # timezone-aware moment the INVITE arrived
    # For calls from a company's own phone: its AoR, never rung by its own call.
    caller_aor: str | None = None
