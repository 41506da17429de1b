"""Calls a company's phones make to numbers outside the company (R20).

What the caller dialled, in any form people dial, becomes the number the
carrier gets; the number's category decides whether the caller may call it;
the company number the callee sees is the caller's own, else the company's.

Categories climb a ladder: a caller allowed one may call every category
before it. Emergency numbers are off the ladder: always allowed, whoever
calls. Premium-rate and shared-cost numbers count as international: they
cost like it, and are where toll fraud goes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType, shortnumberinfo

from .destinations.phone_number import pstn_target
from .plan import Plan, Step
from .ring_times import OUTGOING_RING_SECONDS
from .targets import Data

PERMISSIONS = ("internal", "local", "national", "mobile", "international")
# What an employee may call when neither they nor any department of theirs says:
# every domestic number. International (and premium-rate) must be granted.
DEFAULT_PERMISSION = "mobile"
# Dialled before a number, it hides the caller's number from the callee for
# that call (the code most phones and PBXs know); a phone may ask the same with
# its own Privacy: id header (RFC 3323).
HIDE_CALLER_PREFIX = "*67"
# What the history shows as the caller ID of a call that hid it.
HIDDEN = "anonymous"
# Dialled before a number, "*81<digits>*" shows the company number ending in
# those digits for that call (at least 2; the last 4 are usually enough).
CHOOSE_CALLER_ID = re.compile(r"^\*81([0-9]{2,15})\*(.+)$")
EMERGENCY = "emergency"
# What a company phone that is no employee's (a door phone, a fax line) may
# call: no one outside unless the company says so.
NOT_AN_EMPLOYEE = {"caller_id": None, "allowed": "internal"}
_COSTS_LIKE_INTERNATIONAL = (PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST, PhoneNumberType.UAN)
_FREE = (PhoneNumberType.TOLL_FREE,)


@dataclass(frozen=True)
class Dialled:
    number: str  # E.164, or an emergency number as dialled
    category: str  # one of PERMISSIONS but "internal", or EMERGENCY


def read_dialled(dialled: str, region: str, home: str | None = None) -> Dialled | None:
    """The number behind what a phone dialled, or None when it is no number.

    ``region`` is the company's (how national forms read: 8 495 ..., 0 44 ...);
    ``home`` the company number in E.164 whose area code a short local form
    (7 digits in Moscow) leaves out.
    """
    if shortnumberinfo.is_emergency_number(dialled, region):
        return Dialled(dialled, EMERGENCY)
    number = _parse(dialled, region) or _parse_local(dialled, region, home)
    if number is None:
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    kind = phonenumbers.number_type(number)
    if kind in _COSTS_LIKE_INTERNATIONAL or phonenumbers.region_code_for_number(number) != region:
        return Dialled(e164, "international")
    if kind in _FREE:
        return Dialled(e164, "local")
    if kind == PhoneNumberType.MOBILE:
        return Dialled(e164, "mobile")
    if home and _area(home) is not None and _area(home) == _area(e164):
        return Dialled(e164, "local")
    return Dialled(e164, "national")


def _parse(dialled: str, region: str) -> phonenumbers.PhoneNumber | None:
    candidates = [dialled]
    if dialled.startswith("00"):  # the IDD most of the world uses, whatever the region's own
        candidates.append("+" + dialled[2:])
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return number
    return None


def _parse_local(dialled: str, region: str, home: str | None) -> phonenumbers.PhoneNumber | None:
    """A subscriber number dialled without its area code: the company's own area's."""
    area = _area(home) if home else None
    if area is None or not dialled.isdigit():
        return None
    return _parse(f"+{phonenumbers.country_code_for_region(region)}{area}{dialled}", region)


def _area(e164: str) -> str | None:
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return None
    length = phonenumbers.length_of_geographical_area_code(number)
    return phonenumbers.national_significant_number(number)[:length] if length else None


def privacy_requested(header: str | None) -> bool:
    """Whether a phone's Privacy header (RFC 3323: values such as "id",
    "header", "user", separated by ";") asks that its identity be withheld."""
    if not header:
        return False
    return bool({"id", "header", "user"} & {value.strip().lower() for value in header.split(";")})


def effective_permission(own: str | None, departments: list[str]) -> str:
    """An employee's own permission, else the widest of their departments'
    (a member of a department that may call abroad may), else the default."""
    if own is not None:
        return own
    if departments:
        return max(departments, key=PERMISSIONS.index)
    return DEFAULT_PERMISSION


def allowed(permission: str, category: str) -> bool:
    if category == EMERGENCY:
        return True
    return PERMISSIONS.index(category) <= PERMISSIONS.index(permission)


def build_outgoing_plan(company_document: Data, login: str, dialled: str, *, hide_caller: bool = False) -> Plan | None:
    """The plan for a company phone calling outside the company; None when what
    was dialled is no number (or the document predates outgoing calls).

    ``hide_caller``: the phone asked that the callee not see who calls, as
    does dialling HIDE_CALLER_PREFIX first. The carrier still gets the number
    in P-Asserted-Identity (RFC 3325), with Privacy: id; an emergency call
    never hides it.
    """
    outgoing = company_document.get("outgoing")
    if outgoing is None:
        return None
    if dialled.startswith(HIDE_CALLER_PREFIX) and len(dialled) > len(HIDE_CALLER_PREFIX):
        dialled, hide_caller = dialled[len(HIDE_CALLER_PREFIX) :], True
    chosen_ending = None
    if chosen := CHOOSE_CALLER_ID.match(dialled):
        chosen_ending, dialled = chosen.groups()
    region = outgoing["region"]
    number = read_dialled(dialled, region, outgoing["caller_id"])
    if number is None:
        return None
    company = company_document["company"]
    caller = outgoing["callers"].get(login, NOT_AN_EMPLOYEE)
    whose = {"company_id": company["id"], "called": number.number, "domain": company["domain"], "outgoing": True}
    reasons = [f"{number.category} number {number.number}, dialled as {dialled!r} ({region})"]
    if not allowed(caller["allowed"], number.category):
        reasons.append(f"refused: {login} may call {caller['allowed']} numbers at most")
        return Plan((), tuple(reasons), final=f"not_permitted:{number.category}", **whose)
    shown = caller["caller_id"] or outgoing["caller_id"]
    if chosen_ending is not None and number.category != EMERGENCY:
        # The numbers the caller may show: their own, their departments', the company's.
        choices = caller.get("choices", outgoing.get("numbers", []))
        matching = [n for n in choices if n.endswith(chosen_ending)]
        if len(matching) != 1:
            reasons.append(f"refused: {len(matching)} of the numbers {login} may show end in {chosen_ending}, not one")
            return Plan((), tuple(reasons), final="no_such_caller_id", **whose)
        shown = matching[0]
        reasons.append(f"the caller chose {shown} for this call")
    if shown is None and number.category != EMERGENCY:
        reasons.append("refused: the company has no number to show the callee")
        return Plan((), tuple(reasons), final="no_caller_id", **whose)
    whose_number = (
        " (chosen for this call)"
        if chosen_ending is not None
        else " (the caller's own)"
        if caller["caller_id"]
        else " (the company's)"
    )
    hidden = hide_caller and number.category != EMERGENCY
    if hidden:
        reasons.append(f"shown as anonymous; the carrier gets {shown}{whose_number} with Privacy: id")
    else:
        reasons.append(f"shown as {shown}{whose_number}")
    target = pstn_target(number.number, f"phone {number.number}")
    step = Step("parallel", OUTGOING_RING_SECONDS, (target,), scheme_step=1)
    return Plan((step,), tuple(reasons), caller_id=shown or "", caller_hidden=hidden, **whose)
