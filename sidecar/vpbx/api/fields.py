"""Field types and validators shared by the API's schemas."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import ValidationError, fields

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
