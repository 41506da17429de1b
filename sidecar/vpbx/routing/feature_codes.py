"""Feature codes: star codes an employee dials from their own phone to change
how their calls are handled, or to listen to their voicemail.

The codes are the ones FreePBX made familiar, so a phone's preset keys and an
employee's habits work here too:

    *78           do not disturb on: calls skip the employee as one off duty
    *79           do not disturb off
    *72<number>   forward all calls to a number (in any form the company dials)
    *73           forward all calls off
    *97           listen to one's own voicemail
    *45 / *46     log in to / out of one's call queues (as their agent)
    *47 / *48     pause / unpause in one's call queues

``*67`` and ``*81<digits>*`` are prefixes of an outgoing call
(routing/outbound.py), not codes. Any other star code gets 404 with a Reason
that says so, never silence.

Routing decides here whether the code is allowed and what it sets; the media
app answers the call, makes the change, and tells the employee what it did
(media/nodes/feature.py, media/nodes/messages.py). It reads the code again
from the dialled To: a leg's name carries an id, not a number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .outbound import CHOOSE_CALLER_ID, EMERGENCY, HIDE_CALLER_PREFIX, NOT_AN_EMPLOYEE, allowed, read_dialled
from .plan import Plan, Step
from .ring_times import VOICEMAIL_RING_SECONDS
from .targets import Data, node_resolution

DND_ON = "dnd_on"
DND_OFF = "dnd_off"
FORWARD_ON = "forward_on"
FORWARD_OFF = "forward_off"
VOICEMAIL = "voicemail"
AGENT_LOGIN = "agent_login"
AGENT_LOGOUT = "agent_logout"
AGENT_PAUSE = "agent_pause"
AGENT_UNPAUSE = "agent_unpause"

CODES = {
    "*78": DND_ON,
    "*79": DND_OFF,
    "*73": FORWARD_OFF,
    "*97": VOICEMAIL,
    "*45": AGENT_LOGIN,
    "*46": AGENT_LOGOUT,
    "*47": AGENT_PAUSE,
    "*48": AGENT_UNPAUSE,
}
FORWARD_PREFIX = "*72"
# What the README and the API list, in the order they list them.
LISTED = (
    ("*78", DND_ON, "do not disturb on"),
    ("*79", DND_OFF, "do not disturb off"),
    (f"{FORWARD_PREFIX}<number>", FORWARD_ON, "forward all calls to the number"),
    ("*73", FORWARD_OFF, "forward all calls off"),
    ("*97", VOICEMAIL, "listen to your voicemail"),
    ("*45", AGENT_LOGIN, "log in to your call queues"),
    ("*46", AGENT_LOGOUT, "log out of your call queues"),
    ("*47", AGENT_PAUSE, "pause in your call queues"),
    ("*48", AGENT_UNPAUSE, "unpause in your call queues"),
)
_STAR_CODE = re.compile(r"^\*[0-9]")
# Plan.final of a star code that is none of ours, and of a forward number refused.
UNKNOWN_CODE = "no_such_feature"
NOT_FOR_THIS_PHONE = "feature_not_for_this_phone"
BAD_FORWARD_NUMBER = "bad_forward_number"
# The media app nodes that carry the codes out (media/nodes/<kind>.py), by employee id.
SETTINGS_NODE = "feature"
MESSAGES_NODE = "messages"


@dataclass(frozen=True)
class Feature:
    name: str  # one of the names above
    argument: str = ""  # what follows *72, as dialled


def parse(dialled: str) -> Feature | None:
    """The feature a dialled string asks for; ``Feature(UNKNOWN_CODE)`` for a
    star code that is none of ours; None for anything that is no star code
    (an extension, a number, or an outgoing call's prefix)."""
    if not _STAR_CODE.match(dialled):
        return None
    if dialled.startswith(HIDE_CALLER_PREFIX) or CHOOSE_CALLER_ID.match(dialled):
        return None
    if dialled in CODES:
        return Feature(CODES[dialled])
    if dialled.startswith(FORWARD_PREFIX) and len(dialled) > len(FORWARD_PREFIX):
        return Feature(FORWARD_ON, dialled[len(FORWARD_PREFIX) :])
    return Feature(UNKNOWN_CODE)


def forward_number(company_document: Data, argument: str) -> tuple[str | None, str]:
    """The E.164 number "*72<argument>" forwards to, read as the company reads
    numbers, and what it is (its category); None with why, when it cannot be."""
    outgoing = company_document.get("outgoing") or {}
    number = read_dialled(argument, outgoing.get("region", "RU"), outgoing.get("caller_id"))
    if number is None:
        return None, f"{argument!r} is no phone number"
    if number.category == EMERGENCY:
        return None, f"{argument!r} is an emergency number"
    if number.number in outgoing.get("numbers", ()):
        return None, f"{number.number} is the company's own number (a loop)"
    return number.number, number.category


def build_feature_plan(company_document: Data, login: str, dialled: str) -> Plan | None:
    """The plan for a company phone dialling a star code; None when ``dialled`` is none."""
    feature = parse(dialled)
    if feature is None:
        return None
    company = company_document["company"]
    whose = {"company_id": company["id"], "called": dialled, "domain": company["domain"]}
    reasons = [f"feature code {dialled!r} of company {company['name']!r}"]
    if feature.name == UNKNOWN_CODE:
        reasons.append("refused: no such feature code")
        return Plan((), tuple(reasons), final=UNKNOWN_CODE, **whose)
    employee = next((e for e in company_document["extensions"].values() if e.get("login") == login), None)
    if employee is None:
        reasons.append(f"refused: {login} is no employee's phone")
        return Plan((), tuple(reasons), final=NOT_FOR_THIS_PHONE, **whose)
    if feature.name == FORWARD_ON:
        number, what = forward_number(company_document, feature.argument)
        if number is None:
            reasons.append(f"refused: {what}")
            return Plan((), tuple(reasons), final=BAD_FORWARD_NUMBER, **whose)
        # Forwarded calls leave through the trunks at the company's cost: the
        # employee may forward only where they may call.
        permission = company_document.get("outgoing", {}).get("callers", {}).get(login, NOT_AN_EMPLOYEE)["allowed"]
        if not allowed(permission, what):
            reasons.append(f"refused: {login} may call {permission} numbers at most, and {number} is {what}")
            return Plan((), tuple(reasons), final=f"not_permitted:{what}", **whose)
        reasons.append(f"forward all calls of employee {employee['extension']} to {number}")
    node_kind = MESSAGES_NODE if feature.name == VOICEMAIL else SETTINGS_NODE
    resolution = node_resolution(
        node_kind, employee["id"], f"{feature.name} for employee {employee['extension']}", "the media app", runs=True
    )
    reasons.extend(resolution.reasons)
    step = Step("parallel", VOICEMAIL_RING_SECONDS, resolution.targets, scheme_step=1)
    return Plan((step,), tuple(reasons), **whose)
