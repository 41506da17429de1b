"""Field types and validators shared by the API's schemas."""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from marshmallow import ValidationError, fields, validate

from ..addresses import host_refusal
from ..routing.numbers import to_e164

DEFAULT_REGION = "RU"


def timezone_name(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"unknown timezone {value!r}: use an IANA name such as 'Europe/Moscow'") from None


class PhoneNumber(fields.String):
    """A phone number in any usual format, stored and shown in E.164."""

    def _deserialize(self, value, attr, data, **kwargs):
        raw = super()._deserialize(value, attr, data, **kwargs)
        e164 = to_e164(raw, DEFAULT_REGION)
        if e164 is None:
            raise ValidationError(f"{raw!r} is not a phone number")
        return e164


def _printable(value: str) -> None:
    # Names reach SIP headers (display names), email subjects and logs: a CR/LF
    # there would start a header of the sender's choosing.
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        raise ValidationError("must not contain line breaks or control characters")


class Name(fields.String):
    """A name people read (1-200 characters), with no line breaks or control characters."""

    def __init__(self, **kwargs):
        super().__init__(validate=[validate.Length(1, 200), _printable], **kwargs)


def _reachable_by_customers(url: str) -> None:
    """A URL naming an internal address (or this host by name) is refused at
    once; a host name is resolved and checked again at every request
    (lookups.http), where the address actually connected to is the one checked."""
    host = (urlsplit(url).hostname or "").strip("[]")
    reason = host_refusal(host, current_app.config["VPBX_SETTINGS"].http_allowed_networks)
    if reason:
        raise ValidationError(f"must reach a server outside this system's networks: {host} {reason}")


class CustomerUrl(fields.Url):
    """An http(s) URL of a customer's server (a webhook, a CRM)."""

    def __init__(self, **kwargs):
        super().__init__(schemes={"http", "https"}, require_tld=False, validate=_reachable_by_customers, **kwargs)
