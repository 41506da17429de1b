"""Turn plan steps into Kamailio branches, and carry the rest of the plan with the transaction."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace

from ..routing import Plan, Step, destinations, feature_codes, leg_names
from ..routing.destinations.kind import Handler
from ..routing.plan import DEPARTMENT_CALLBACK_NODE, NO_ANSWER_NODE
from ..routing.targets import NODE_HOST

USRLOC_TABLE = "location"


# Dispatcher set of the outbound gateways (the kamailio_dispatcher view), and
# its algorithm 8: by priority, the next one on failure (serial failover).
PSTN_GATEWAYS = 1
BY_PRIORITY = 8
# Nodes the media app answers: Kamailio rings it like a phone (vpbx.media.app).
# Besides the destination kinds it handles, what routing adds itself:
# "announce", a scheme whose callers hear an announcement first (R14), an
# employee's no-answer rule that needs a voice (routing.plan.NO_ANSWER_NODE), a
# department's promise to call back (DEPARTMENT_CALLBACK_NODE), and
# the feature codes an employee dials (routing/feature_codes.py).
MEDIA_APP_NODES = (
    *destinations.handled_by(Handler.MEDIA_APP),
    "announce",
    NO_ANSWER_NODE,
    DEPARTMENT_CALLBACK_NODE,
    feature_codes.SETTINGS_NODE,
    feature_codes.MESSAGES_NODE,
)


# A branch of the request: ``slot`` -1 is the request URI (tm's branch 0),
# any other is its position in the destination set; ``target`` is the index in
# the step of the target it rings. A target registered twice has two branches.
Branch = tuple[int, int]
REQUEST_URI = -1


def load_step_branches(ksr, step: Step, media_app: str | None = None) -> list[Branch]:
    """Fill the R-URI and the destination set with the step's reachable contacts.

    PSTN numbers go first: the dispatcher picks the gateway for the R-URI, and
    remembers the others for ``next_gateway``. The first other reachable target
    takes the R-URI if no number did (lookup_uri also sets $du for a NATed
    phone); the rest are appended as branches, so t_relay forks to all of them
    at once.

    Returns the branches loaded, empty when nobody is reachable. ``media_app``:
    the media app's host:port, where voicemail and IVR nodes ring.
    """
    branches = _numbers_through_gateway(ksr, step, lambda: ksr.dispatcher.ds_select_domain(PSTN_GATEWAYS, BY_PRIORITY))
    for index, target in enumerate(step.targets):
        if target.via_trunk:
            continue
        if target.node and (leg_names.node_kind(target.node) not in MEDIA_APP_NODES or not media_app):
            ksr.info(f"vpbx: {target.label} is not handled by this version, skipped\n")
            continue
        before = _branch_count(ksr)
        took_ruri = not branches
        uri = target.uri
        if target.node and media_app:
            uri = uri.replace(NODE_HOST, media_app)
        if not target.node and not target.via_location and ksr.is_myself(uri) > 0:
            # A customer's SIP URI naming one of Kamailio's own addresses (the
            # loopback ones routing already refused): it would loop through us.
            ksr.warn(f"vpbx: {target.label} names this proxy itself, skipped\n")
            continue
        if target.via_location:
            lookup = ksr.registrar.lookup_uri if took_ruri else ksr.registrar.lookup_to_dset
            found = lookup(USRLOC_TABLE, target.uri) > 0
        elif took_ruri:
            found = ksr.seturi(uri) > 0
        else:
            found = ksr.corex.append_branch_uri(uri) > 0
        if not found:
            ksr.info(f"vpbx: {target.label} ({target.uri}) is not reachable\n")
            continue
        if took_ruri:
            branches.append((REQUEST_URI, index))
        branches += [(slot, index) for slot in range(before, _branch_count(ksr))]
    return branches


def next_gateway(ksr, step: Step) -> list[Branch]:
    """After the gateway failed the step's PSTN numbers: the same numbers through
    the next gateway, if there is one left. Only those numbers ring again.
    Returns the new branches (empty: no gateway left)."""
    return _numbers_through_gateway(ksr, step, ksr.dispatcher.ds_next_domain)


def _numbers_through_gateway(ksr, step: Step, pick_gateway) -> list[Branch]:
    """The step's PSTN numbers: the first takes the R-URI, whose host ``pick_gateway``
    (a dispatcher function) fills in; the others are appended on the same gateway."""
    numbers = [i for i, t in enumerate(step.targets) if t.via_trunk]
    if not numbers:
        return []
    ksr.seturi(step.targets[numbers[0]].uri)
    if pick_gateway() < 0:
        ksr.info(f"vpbx: no outbound gateway left for {step.targets[numbers[0]].label}\n")
        return []
    host, port = ksr.pv.get("$rd"), ksr.pv.get("$rp")
    gateway = f"{host}:{port}" if port else host
    branches: list[Branch] = [(REQUEST_URI, numbers[0])]
    for index in numbers[1:]:
        slot = _branch_count(ksr)
        uri = step.targets[index].uri.rsplit("@", 1)[0] + "@" + gateway
        if ksr.corex.append_branch_uri(uri) > 0:
            branches.append((slot, index))
    return branches


def _branch_count(ksr) -> int:
    return int(ksr.pv.get("$(branch(count))") or 0)


# Which leg a branch rings travels in its branch flags, above the bits
# kamailio.cfg uses, so that the reply route can tell who answered without
# Python: $T_branch(flags) >> LEG_FLAGS_SHIFT is the leg's index in the
# cursor's legs plus one (0: no leg). A transaction has at most
# Kamailio's max_branches (30) branches, so a call has at most as many legs.
LEG_FLAGS_SHIFT = 16
_OWN_FLAGS = (1 << LEG_FLAGS_SHIFT) - 1


def tag_branches(ksr, branches: list[Branch], step_legs: dict[int, int]) -> None:
    """Mark each branch with the leg its target is (``step_legs``: target index -> leg index)."""
    for slot, target in branches:
        leg = step_legs.get(target)
        if leg is None:
            continue
        flags = "$bf" if slot == REQUEST_URI else f"$(branch(flags)[{slot}])"
        ksr.pv.seti(flags, (int(ksr.pv.get(flags) or 0) & _OWN_FLAGS) | (leg + 1) << LEG_FLAGS_SHIFT)


# Replies that ask for credentials (RFC 3261 22: 401 from a server, 407 from a proxy).
CHALLENGES = (401, 407)
# kamailio.cfg: the "trunk_auth" htable, and the avps uac_auth reads.
TRUNK_AUTH = "trunk_auth"
GATEWAY_USER = "$avp(vpbx_gateway_user)"
GATEWAY_PASSWORD = "$avp(vpbx_gateway_password)"  # noqa: S105 (the avp's name)
# The trunk whose challenge this transaction answered already.
ANSWERED_CHALLENGE = "$xavp(vpbx_gateway_auth)"


def answer_gateway_challenge(ksr) -> bool:
    """After a gateway asked for credentials (401, 407): the same branch again,
    to the same gateway, with its trunk's (uac_auth sets the Request-URI and
    the Authorization header). False when its trunk has none, or when this
    transaction answered its challenge already: a second one means the
    credentials are wrong, and the gateway counts as failed."""
    if int(ksr.pv.get("$T_reply_code") or 0) not in CHALLENGES:
        return False
    # Only the gateway itself gets its trunk's credentials: a step may also
    # ring a customer's SIP URI, which could challenge to collect them.
    gateway = str(ksr.pv.get("$xavp(_dsdst_=>uri)") or "").removeprefix("sip:").partition(";")[0]
    challenger = f"{ksr.pv.get('$T_rpl($si)')}:{ksr.pv.get('$T_rpl($sp)')}"
    if not gateway or challenger != gateway:
        return False
    trunk = current_trunk(ksr)
    if trunk is None or ksr.pv.get(ANSWERED_CHALLENGE) == str(trunk):
        return False
    user = ksr.htable.sht_get(TRUNK_AUTH, f"{trunk}:user")
    password = ksr.htable.sht_get(TRUNK_AUTH, f"{trunk}:password")
    if not (isinstance(user, str) and user and isinstance(password, str) and password):
        return False
    ksr.pv.sets(GATEWAY_USER, user)
    ksr.pv.sets(GATEWAY_PASSWORD, password)
    ksr.pv.sets(ANSWERED_CHALLENGE, str(trunk))
    # The new branch keeps the failed one's flags, its leg among them (tm
    # restores them for failure_route): the history's answered event reads it.
    return ksr.uac.uac_auth() > 0


def current_trunk(ksr) -> int | None:
    """The trunk of the gateway the dispatcher picked last for this transaction
    (its attrs "trunk=<id>", the kamailio_dispatcher view); None before any."""
    attrs = str(ksr.pv.get("$xavp(_dsdst_=>attrs)") or "")
    trunk = dict(pair.partition("=")[::2] for pair in attrs.split(";")).get("trunk", "")
    return int(trunk) if trunk.isdigit() else None


def gateway_failed(ksr) -> bool:
    """Whether the failure was the gateway's, not the called party's: a 5xx, no
    reply at all within the timer (a dead gateway never even sends 100
    Trying), or a challenge for credentials it did not get or refused."""
    code = int(ksr.pv.get("$T_reply_code") or 0)
    return 500 <= code < 600 or code in CHALLENGES or (code == 408 and ksr.tm.t_branch_replied() < 0)


@dataclass(frozen=True)
class PlanCursor:
    """The plan, the index of the step to try next, and what the call's history
    needs: travels with the SIP transaction (an xavp), so any worker's
    failure_route can continue it.

    ``call``: the history's description of the call (see vpbx.history.events).
    ``legs``: every target rung so far. ``step_legs``: the current step's
    targets that ring, by index in the step, with their index in ``legs``.
    """

    plan: Plan
    next_step: int
    call: dict = field(default_factory=dict)
    legs: tuple = ()
    step_legs: dict[int, int] = field(default_factory=dict)

    def to_json(self) -> str:
        rest = json.dumps(
            {
                "next": self.next_step,
                "call": self.call,
                "legs": list(self.legs),
                "step_legs": list(self.step_legs.items()),
            },
            separators=(",", ":"),
        )
        # The plan's text is made once per plan, and a worker keeps plans (worker.py).
        return '{"plan":' + self.plan.to_json() + "," + rest[1:]

    @classmethod
    def from_json(cls, text: str) -> PlanCursor:
        data = json.loads(text)
        return cls(
            Plan.from_dict(data["plan"]),
            data["next"],
            data.get("call", {}),
            tuple(data.get("legs", ())),
            {target: leg for target, leg in data.get("step_legs", ())},
        )

    @property
    def current(self) -> Step | None:
        """The step ringing now (the one before ``next_step``)."""
        return self.plan.steps[self.next_step - 1] if 0 < self.next_step <= len(self.plan.steps) else None

    def remaining(self):
        """(index, step) pairs still to try, in order."""
        return list(enumerate(self.plan.steps))[self.next_step :]

    def ringing(self, index: int, branches: list[Branch], at: str, trunk: int | None = None) -> PlanCursor:
        """The cursor once step ``index`` rings these branches (from ``at``,
        ISO-8601), its PSTN numbers through the gateway of ``trunk``."""
        step = self.plan.steps[index]
        rung = sorted({target for _, target in branches})
        legs = self.legs + tuple(_leg(step, index + 1, step.targets[i], at, trunk) for i in rung)
        step_legs = {target: len(self.legs) + n for n, target in enumerate(rung)}
        return replace(self, next_step=index + 1, legs=legs, step_legs=step_legs)

    def through_trunk(self, trunk: int | None) -> PlanCursor:
        """The cursor once the current step's PSTN numbers ring again through
        the next gateway, of ``trunk``: history names the last one tried."""
        step = self.current
        if step is None:
            return self
        legs = list(self.legs)
        for target, leg in self.step_legs.items():
            if step.targets[target].via_trunk:
                legs[leg] = {**legs[leg], "trunk_id": trunk}
        return replace(self, legs=tuple(legs))

    def is_ours(self) -> bool:
        """Whether the call is a company's, so its history is kept."""
        return self.call.get("company_id") is not None


def _leg(step: Step, position: int, target, at: str | None, trunk: int | None = None) -> dict:
    """A leg as history records it: ``step`` is the scheme's step it rang for;
    a PSTN number's names the trunk it left through."""
    leg = {
        "step": step.scheme_step or position,
        "target": target.label,
        "employee_id": target.employee_id,
        "department_id": target.department_id,
        "rang_at": at,
    }
    if step.forward:
        leg["forward"] = True
    if target.node:
        leg["node"] = target.node  # the media app answered: not a person (R19)
    if target.via_trunk:
        leg["trunk_id"] = trunk
    return leg


# A gateway that has not even sent 100 Trying by then is taken as down, and the
# next one is tried; a phone keeps the whole step (a silent phone is "no answer").
GATEWAY_NO_REPLY_MS = 5000
# The media app answers on loopback within milliseconds: silent this long, it
# is down (restarting), and the caller goes on to the plan's next step rather
# than waiting out the step in silence.
MEDIA_APP_NO_REPLY_MS = 2000


def step_timers(ksr, step: Step) -> None:
    """The step's timeout bounds both timers: with no reply at all (fr) and
    after a provisional one (fr_inv). A step that only rings PSTN numbers, or
    only the media app, gives up sooner on a peer that sends nothing at all."""
    milliseconds = step.timeout * 1000
    no_reply = milliseconds
    if all(t.node for t in step.targets):
        no_reply = min(milliseconds, MEDIA_APP_NO_REPLY_MS)
    elif all(t.via_trunk for t in step.targets):
        no_reply = min(milliseconds, GATEWAY_NO_REPLY_MS)
    ksr.tm.t_set_fr(milliseconds, no_reply)


# Record-Route parameter naming the longest idle department member a call
# rings: it comes back in the 200 OK's Record-Route and in every in-dialog
# request's Route, so the answer and the hang-up are attributed without any
# per-call state in Kamailio.
IDLE_RR_PARAM = "vpbx_li"
_IDLE_RR_VALUE = re.compile(IDLE_RR_PARAM + r"=(\d+)\.(\d+)")


def idle_tracking_param(step: Step) -> str | None:
    """The rr parameter for a step that rings one longest-idle department member."""
    if len(step.targets) != 1 or not step.targets[0].tracks_idle:
        return None
    member = step.targets[0]
    return f";{IDLE_RR_PARAM}={member.department_id}.{member.employee_id}"


def idle_tracked_member(route_headers: str | None) -> tuple[int, int] | None:
    """(department id, employee id) from a Route or Record-Route header value."""
    match = _IDLE_RR_VALUE.search(route_headers or "")
    return (int(match.group(1)), int(match.group(2))) if match else None
