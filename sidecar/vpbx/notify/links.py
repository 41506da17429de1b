"""Signed voicemail links (R13): anyone holding one may play the recording for
seven days, and nobody can forge one or stretch its life.

itsdangerous signs the message id with the site's secret and a timestamp; the
clock is a parameter so that expiry is tested without waiting a week.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

LINK_LIFETIME_S = 7 * 24 * 3600
_SALT = "vpbx.voicemail.link"


class LinkExpired(Exception):
    """The link was genuine but is older than its lifetime: 410 Gone."""


class LinkInvalid(Exception):
    """Not a link we signed (or altered): 404."""


def _serializer(secret: str, clock: Callable[[], float]) -> URLSafeTimedSerializer:
    class ClockedSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock())

    return URLSafeTimedSerializer(secret, salt=_SALT, signer=ClockedSigner)


def sign(message_id: int, secret: str, clock: Callable[[], float] = time.time) -> str:
    return _serializer(secret, clock).dumps(message_id)


def verify(token: str, secret: str, clock: Callable[[], float] = time.time) -> int:
    """The message id a link names; LinkExpired or LinkInvalid otherwise."""
    try:
        value = _serializer(secret, clock).loads(token, max_age=LINK_LIFETIME_S)
    except SignatureExpired as exc:
        raise LinkExpired(token) from exc
    except BadSignature as exc:
        raise LinkInvalid(token) from exc
    if not isinstance(value, int):
        raise LinkInvalid(token)
    return value


def url(public_url: str, token: str) -> str:
    return f"{public_url}/voicemail/{token}"
