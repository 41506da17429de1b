"""Phone numbers as carriers send them, read into E.164 with phonenumbers."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers


def _possible(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_possible_number(number) else None


# Parsing costs tens of microseconds and the same few numbers are dialled over
# and over: a bounded cache keeps it off the per-call path.
@lru_cache(maxsize=8192)
def to_e164(raw: str, region: str = "RU") -> str | None:
    """E.164 form of ``raw`` read in ``region``'s numbering plan, or None if it is no number.

    Carriers send the same line as "+74951112233", "74951112233", "84951112233"
    or "4951112233"; a foreign number may come in international format without
    its plus ("380441234567").
    """
    number = _possible(raw, region)
    if number is None and not raw.startswith("+"):
        number = _possible("+" + raw, None)
    if number is None:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def callback_number(caller: str, region: str) -> str | None:
    """The number a caller would be called back at (a queue's or a department's
    callback): a phone number, never an extension of the company's own phones."""
    return to_e164(caller, region) if len(caller.lstrip("+")) > 6 else None
