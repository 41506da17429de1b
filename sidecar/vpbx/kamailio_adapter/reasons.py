"""Reason headers (RFC 3326) for the failures vpbx answers itself, so a carrier
or a phone sees why a call ended, not only a status code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rejection:
    code: int
    phrase: str
    q850_cause: int
    text: str

    @property
    def reason_header(self) -> str:
        return f'Reason: Q.850;cause={self.q850_cause};text="{self.text}"\r\n'


UNALLOCATED_NUMBER = Rejection(404, "Not Found", 1, "Unallocated (unassigned) number")
NOBODY_TO_RING = Rejection(480, "Temporarily Unavailable", 20, "Subscriber absent")
ROUTING_UNAVAILABLE = Rejection(503, "Service Unavailable", 41, "Temporary failure")
NOT_RELAYING = Rejection(403, "Forbidden", 21, "Call rejected")
USER_BUSY = Rejection(486, "Busy Here", 17, "User busy")
WRONG_CREDENTIALS = Rejection(403, "Forbidden", 21, "Wrong credentials")
# An in-dialog request for a dialog this proxy never set up (a forged To-tag and
# Route): never relayed, whoever sent it.
NO_SUCH_DIALOG = Rejection(481, "Call/Transaction Does Not Exist", 81, "Invalid call reference value")
# rtpengine took no offer (down, or out of ports): no branch is sent with the
# caller's own SDP, whose media would bypass NAT handling and could carry
# SRTP keys over UDP.
MEDIA_RELAY_UNAVAILABLE = Rejection(503, "Service Unavailable", 47, "Media relay unavailable")
# What a caller gets instead of a challenge (401, 407) from downstream: an
# outbound trunk that refused its credentials, or a SIP URI that asked for
# some. Relayed, the challenge would make a phone offer its own credentials.
CREDENTIALS_REFUSED_DOWNSTREAM = Rejection(503, "Service Unavailable", 38, "Credentials refused by the next hop")
# A Request-URI scheme other than sip, sips or tel (RFC 3261 8.2.2.1).
UNSUPPORTED_URI_SCHEME = Rejection(416, "Unsupported URI Scheme", 111, "Protocol error, unspecified")

# A plan's final outcome (vpbx.routing.Plan.final) as the caller hears it.
FINAL = {
    "busy": USER_BUSY,
    # An outgoing call from a company without a number to show: carriers
    # refuse or rewrite a caller ID that is not the subscriber's.
    "no_caller_id": Rejection(403, "Forbidden", 21, "No company number to show the callee"),
    # "*81<digits>*" named no company number, or more than one.
    "no_such_caller_id": Rejection(403, "Forbidden", 21, "No single company number ends in the digits chosen"),
    # Feature codes (routing/feature_codes.py).
    "no_such_feature": Rejection(404, "Not Found", 1, "No such feature code"),
    "feature_not_for_this_phone": Rejection(403, "Forbidden", 21, "Feature codes are for employees' phones"),
    "bad_forward_number": Rejection(403, "Forbidden", 21, "Not a number calls can be forwarded to"),
}

# Q.850 causes for the codes a webhook may reject a call with (RFC 3398 mapping).
_REJECT_CAUSES = {403: 21, 404: 1, 480: 18, 486: 17, 503: 41, 600: 17, 603: 21}


def final(plan_final: str | None) -> Rejection | None:
    """How a plan that rang nobody, or nobody who answered, ends for the caller."""
    if plan_final and plan_final.startswith("not_permitted:"):
        # Q.850 cause 21 rather than 53/55 ("barred within CUG"): phones and
        # carriers show 21 as a refusal; the text names what was refused.
        category = plan_final.partition(":")[2]
        return Rejection(403, "Forbidden", 21, f"Outgoing calls to {category} numbers are not permitted")
    if plan_final and plan_final.startswith("reject:"):
        code = int(plan_final.partition(":")[2])
        return Rejection(code, "Rejected", _REJECT_CAUSES.get(code, 21), "Rejected by the number's webhook")
    return FINAL.get(plan_final) if plan_final else None
