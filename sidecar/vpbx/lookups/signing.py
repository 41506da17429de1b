"""Signatures on what vpbx sends to webhooks and CRMs: HMAC-SHA256 over the
timestamp and the body, so the receiver can check both the sender and the
freshness (a replayed request carries an old timestamp).

Header: ``X-Vpbx-Signature: t=<unix seconds>,v1=<hex digest of "<t>.<body>">``.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Vpbx-Signature"
# A receiver should refuse requests signed longer ago than this.
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """Whether ``header`` signs ``body`` under ``secret`` within ``tolerance`` seconds of ``now``."""
    fields = dict(part.partition("=")[::2] for part in header.split(","))
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)
