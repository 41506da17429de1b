"""The Plan: what Kamailio should ring for a call, step by step, and why."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from . import destinations, leg_names
from .call import Call
from .department_state import DepartmentState
from .destinations import employee as employee_destination
from .destinations.employee import label as employee_label
from .destinations.kind import Handler
from .ring_times import (
    ANNOUNCE_RING_SECONDS,
    CLICK_TO_CALL_RING_SECONDS,
    DIRECT_CALL_RING_SECONDS,
    FORWARD_RING_SECONDS,
    IVR_KEY_RING_SECONDS,
    MAX_BRANCHES_PER_CALL,
    MAX_RING_SECONDS,
    VOICEMAIL_RING_SECONDS,
)
from .schedule import decide
from .targets import Data, Target, node_resolution

# Destinations whose targets are known only once someone outside answers (R16,
# R17): the adapter looks them up off the SIP workers, then ``expand_lookups``.
LOOKUP_KINDS = destinations.handled_by(Handler.LOOKUP)
# The node of the media app that carries out an employee's no-answer rule on a
# direct call when it needs a voice: a message, or a notice before the forward.
NO_ANSWER_NODE = "no_answer"
# The node of the media app that tells a caller nobody in a department answered
# and that the department will call them back (its rule "call back later").
DEPARTMENT_CALLBACK_NODE = "department_callback"


@dataclass(frozen=True)
class Step:
    mode: str  # "parallel": ring all targets at once; "sequential": one after another
    timeout: int  # seconds this step may ring before the plan moves on
    targets: tuple[Target, ...]
    # The step of the scheme this one rings for (1-based; 0: not said): a scheme
    # step may take several steps here (a hunt, a mobile joining later).
    scheme_step: int = 0
    # Rings because whoever rang before for the same scheme step did not answer
    # (the CRM's or the manager's no-answer rule): history counts it a forward.
    forward: bool = False


@dataclass(frozen=True)
class Plan:
    steps: tuple[Step, ...]
    reasons: tuple[str, ...] = field(default=())
    # How the call ends when every step has failed: None lets the last failure
    # through; "busy" answers busy (R15's default for direct calls); "reject:<code>"
    # answers that code (a webhook's choice).
    final: str | None = None
    # For the call's history: whose call it is, and for a direct call to an
    # extension, the employee dialled (R19 counts a missed one against them).
    company_id: int | None = None
    called: str | None = None  # the company number (E.164) or the extension dialled
    dialled_employee_id: int | None = None
    dialled_employee_label: str | None = None
    domain: str | None = None  # the company's SIP domain: where its directory is
    # A company phone calling outside, through the trunks (routing/outbound.py),
    # and the company number the callee is shown (None when refused; "" for
    # an emergency call of a company without a number).
    outgoing: bool = False
    caller_id: str | None = None
    caller_hidden: bool = False  # the callee sees "anonymous", the carrier the number (Privacy: id)
    # A leg the media app opens for a click-to-call (routing/click_to_call.py):
    # the SIP login of the employee it is for, whose outgoing call history
    # shows; and whether its answer is the call's (the employee's own leg's
    # is not: the client's answer is).
    on_behalf_of: str | None = None
    answer_is_the_calls: bool = True
    # How far ahead of others the caller waits in a call queue (0-9): the
    # number's setting, raised by a webhook's answer.
    queue_priority: int = 0

    def lookups(self) -> tuple[str, ...]:
        """The nodes to look up before ringing ("webhook:5", "responsible_manager"), once each."""
        return tuple(
            dict.fromkeys(
                t.node for s in self.steps for t in s.targets if t.node and leg_names.node_kind(t.node) in LOOKUP_KINDS
            )
        )

    def to_dict(self) -> Data:
        # By hand rather than dataclasses.asdict, whose deep copies dominate the
        # cost of a plan that travels with every SIP transaction.
        return {
            "steps": [
                {
                    "mode": s.mode,
                    "timeout": s.timeout,
                    "targets": [t.__dict__ for t in s.targets],
                    "scheme_step": s.scheme_step,
                    "forward": s.forward,
                }
                for s in self.steps
            ],
            "reasons": list(self.reasons),
            "final": self.final,
            "company_id": self.company_id,
            "called": self.called,
            "dialled_employee_id": self.dialled_employee_id,
            "dialled_employee_label": self.dialled_employee_label,
            "domain": self.domain,
            "outgoing": self.outgoing,
            "caller_id": self.caller_id,
            "caller_hidden": self.caller_hidden,
            "on_behalf_of": self.on_behalf_of,
            "answer_is_the_calls": self.answer_is_the_calls,
            "queue_priority": self.queue_priority,
        }

    def to_json(self) -> str:
        return self._json

    @cached_property
    def _json(self) -> str:
        # Once per plan: a plan kept for a minute travels with every call it routes.
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Plan:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, data: Data) -> Plan:
        steps = tuple(
            Step(
                s["mode"],
                s["timeout"],
                tuple(Target(**t) for t in s["targets"]),
                s.get("scheme_step", 0),
                s.get("forward", False),
            )
            for s in data["steps"]
        )
        return cls(
            steps,
            tuple(data["reasons"]),
            data.get("final"),
            data.get("company_id"),
            data.get("called"),
            data.get("dialled_employee_id"),
            data.get("dialled_employee_label"),
            data.get("domain"),
            data.get("outgoing", False),
            data.get("caller_id"),
            data.get("caller_hidden", False),
            data.get("on_behalf_of"),
            data.get("answer_is_the_calls", True),
            data.get("queue_priority", 0),
        )


@dataclass(frozen=True)
class Context:
    """What destination modules may know about the company besides the call."""

    company_id: int
    domain: str
    # Shared state of round robin and longest idle departments, by department id.
    departments: Mapping[int, DepartmentState] = field(default_factory=dict)
    # The call's date in the company's timezone (ISO), for absences.
    today: str = ""
    # Per-call answers worth computing once however many employees share them
    # (a personal schedule's "open now?"): a 1,000-member department asks 1,000 times.
    memo: dict[tuple[str, object], Any] = field(default_factory=dict, compare=False)


def _context(company: Data, departments: Mapping[int, DepartmentState] | None, call: Call) -> Context:
    today = call.at.astimezone(ZoneInfo(company["timezone"])).date().isoformat()
    return Context(company["id"], company["domain"], departments or {}, today)


def _resolve_step(step: Data, index: int, call: Call, ctx: Context, reasons: list[str]) -> list[Step]:
    """The steps Kamailio rings for one step of a scheme, in order.

    A parallel step rings its destinations together; a sequential one rings
    them one after another, each for the step's timeout. A hunting department
    rings its members one by one, each for the department's ring time, after
    whatever rings together with it.
    """
    together: list[Target] = []
    together_later: list[tuple[int, Target]] = []
    runs: list[Step] = []

    def not_the_caller(targets: Iterable[Target]) -> list[Target]:
        kept = []
        for target in targets:
            if target.uri == call.caller_aor:
                reasons.append(f"step {index}: {target.label} is the caller, not rung")
            else:
                kept.append(target)
        return kept

    for data in step["destinations"]:
        resolution = destinations.resolve(data, call, ctx)
        reasons.extend(f"step {index}: {r}" for r in resolution.reasons)
        targets = not_the_caller(resolution.targets)
        later = list(resolution.delayed)
        if resolution.hunt_ring_time is not None:
            runs.extend(Step(step["mode"], resolution.hunt_ring_time, (t,), index) for t in targets)
        elif step["mode"] == "parallel":
            together.extend(targets)
            together_later.extend(later)
        elif targets:
            runs.extend(_joining_later(step["mode"], step["timeout"], targets, later, index, reasons))
    if together or together_later:
        runs[:0] = _joining_later(step["mode"], step["timeout"], together, together_later, index, reasons)
    # R4: a department whose members all let it ring takes the caller to its voicemail.
    for data in step["destinations"]:
        box_id = _voicemail_after_people(data)
        if box_id is not None and runs:
            reasons.append(
                f"step {index}: if nobody in department {data['department']['name']!r} answers: voicemail box {box_id}"
            )
            runs.extend(_voicemail(box_id, index, call, ctx, reasons))
    # R4, seed 000: or hears that the department will call back, and it does.
    for data in step["destinations"]:
        department_id = _callback_after_people(data)
        if department_id is not None and runs:
            reasons.append(
                f"step {index}: if nobody in department {data['department']['name']!r} answers: "
                "the media app promises a callback (to a caller with a phone number)"
            )
            runs.append(_department_callback_step(department_id, index))
    return runs


def _voicemail_after_people(destination: Data) -> int | None:
    """The voicemail a destination Kamailio rings leads to once nobody it rang
    answered; a voicemail destination is a step of its own here."""
    kind = destinations.KINDS.get(str(destination.get("kind")))
    if kind is None or kind.handled_by is not Handler.KAMAILIO:
        return None
    return kind.voicemail_when_nobody_answers(destination)


def _callback_after_people(destination: Data) -> int | None:
    """The department that calls the caller back once nobody a destination
    rang answered (its rule "call back later"); None for any other."""
    kind = destinations.KINDS.get(str(destination.get("kind")))
    if kind is None or kind.handled_by is not Handler.KAMAILIO:
        return None
    return kind.callback_when_nobody_answers(destination)


def _department_callback_step(department_id: int, index: int) -> Step:
    node = node_resolution(
        DEPARTMENT_CALLBACK_NODE, department_id, "the department's callback", "the media app", runs=True
    )
    return Step("parallel", VOICEMAIL_RING_SECONDS, node.targets, index)


def _voicemail(box_id: int, index: int, call: Call, ctx: Context, reasons: list[str]) -> list[Step]:
    return _resolve_step(
        {
            "mode": "parallel",
            "timeout": VOICEMAIL_RING_SECONDS,
            "destinations": [{"kind": "voicemail", "voicemail_box_id": box_id}],
        },
        index,
        call,
        ctx,
        reasons,
    )


def _joining_later(
    mode: str, timeout: int, now: list[Target], later: list[tuple[int, Target]], index: int, reasons: list[str]
) -> list[Step]:
    """Ring ``now`` for ``timeout`` seconds, with each of ``later`` joining after its delay.

    Kamailio 5.6's script API cannot add a branch to a transaction already
    ringing, so each moment something joins starts a new step that rings
    everyone due by then: the phones already ringing are invited afresh.
    """
    for delay, target in later:
        if delay >= timeout:
            reasons.append(f"step {index}: {target.label} would join after {delay} s, the step rings {timeout} s")
    later = sorted((d, t) for d, t in later if d < timeout)
    if not now and later:  # nobody to ring meanwhile: no reason to wait
        first = later[0][0]
        later = [(d - first, t) for d, t in later]
    ringing = list(now) + [t for d, t in later if d == 0]
    steps: list[Step] = []
    start = 0
    for moment in sorted({d for d, _ in later if d > 0}):
        steps.append(Step(mode, moment - start, tuple(ringing), index))
        ringing += [t for d, t in later if d == moment]
        start = moment
    if ringing:
        steps.append(Step(mode, timeout - start, tuple(ringing), index))
    return steps


def _capped(steps: list[Step], reasons: list[str]) -> tuple[Step, ...]:
    """The steps that fit in MAX_RING_SECONDS, the last one shortened to fit,
    and in MAX_BRANCHES_PER_CALL targets, the last one's cut to fit."""
    kept: list[Step] = []
    left = MAX_RING_SECONDS
    branches = MAX_BRANCHES_PER_CALL
    for step in steps:
        if left <= 0:
            reasons.append(
                f"ring time cap of {MAX_RING_SECONDS} s reached: {len(steps) - len(kept)} more step(s) not rung"
            )
            break
        if branches <= 0:
            reasons.append(
                f"a call rings at most {MAX_BRANCHES_PER_CALL} phones in all (Kamailio's limit per call): "
                f"{len(steps) - len(kept)} more step(s) not rung"
            )
            break
        if len(step.targets) > branches:
            reasons.append(
                f"a call rings at most {MAX_BRANCHES_PER_CALL} phones in all (Kamailio's limit per call): "
                f"{len(step.targets) - branches} of step {step.scheme_step}'s {len(step.targets)} not rung"
            )
            step = replace(step, targets=step.targets[:branches])
        kept.append(step if step.timeout <= left else replace(step, timeout=left))
        left -= step.timeout
        branches -= len(step.targets)
    return tuple(kept)


@dataclass
class Explanation:
    """What explain shows beside the reasons, as data: each schedule looked at
    (routing.schedule.decide, with what it was for) and the scheme chosen."""

    schedules: list[Data] = field(default_factory=list)
    scheme: Data | None = None  # {"id", "name", "chosen_as": "working" | "off_hours" | "backup"}


def _applicable_scheme(
    scheme: Data | None, call: Call, reasons: list[str], explanation: Explanation | None = None
) -> Data | None:
    """The scheme itself while its active schedule is open, else its backup (R9), recursively."""
    while scheme is not None and scheme["active"] is not None:
        decision = decide(scheme["active"], call.at)
        reasons.append(decision["reason"])
        if explanation is not None:
            explanation.schedules.append({"for": f"scheme {scheme['id']}", **decision})
        if decision["open"]:
            break
        if explanation is not None and scheme["backup"] is not None:
            explanation.scheme = {"chosen_as": "backup"}
        backup = scheme["backup"]
        reasons.append(
            f"scheme {scheme['name']!r} is not active now: "
            + (f"its backup {backup['name']!r} applies" if backup else "it has no backup")
        )
        scheme = backup
    return scheme


def build_plan(
    document: Data,
    call: Call,
    departments: Mapping[int, DepartmentState] | None = None,
    explanation: Explanation | None = None,
) -> Plan:
    """The plan for a call to a company number, from the number's compiled document
    and the shared state of its round robin and longest idle departments.
    ``explanation`` (explain's) gets the schedules looked at and the scheme chosen, as data."""
    company = document["company"]
    ctx = _context(company, departments, call)
    reasons: list[str] = [f"number {document['number']} of company {company['name']!r}"]
    scheme = document["working"]
    if document["mode"] == "by_schedule":
        decision = decide(document["schedule"], call.at)
        reasons.append(decision["reason"])
        if explanation is not None:
            explanation.schedules.append({"for": "number", **decision})
            explanation.scheme = {"chosen_as": "working" if decision["open"] else "off_hours"}
        if not decision["open"]:
            scheme = document["off_hours"]
            reasons.append("off hours: the off-hours scheme applies")
    scheme = _applicable_scheme(scheme, call, reasons, explanation)
    if explanation is not None:
        chosen_as = (explanation.scheme or {"chosen_as": "working"})["chosen_as"]
        explanation.scheme = (
            None if scheme is None else {"id": scheme["id"], "name": scheme["name"], "chosen_as": chosen_as}
        )
    whose = {
        "company_id": company["id"],
        "called": document["number"],
        "domain": company["domain"],
        "queue_priority": document.get("queue_priority", 0),
    }
    if scheme is None:
        reasons.append("no scheme applies: the call is missed")
        return Plan((), tuple(reasons), **whose)
    reasons.append(f"scheme {scheme['name']!r}")
    if scheme.get("announced") and call.source != "media":
        # R14: the media app answers, plays the scheme's greeting, then rings its
        # steps through Kamailio (build_scheme_plan) with music, a whisper and
        # the forward notice between steps.
        node = node_resolution(
            "announce",
            scheme["id"],
            f"scheme {scheme['name']!r} announcements",
            "the media app answers (greeting, music, whisper, notice, post-call category menu), then rings the steps",
            runs=True,
        )
        reasons.extend(node.reasons)
        return Plan((Step("parallel", ANNOUNCE_RING_SECONDS, node.targets, 1),), tuple(reasons), **whose)
    steps: list[Step] = []
    for index, step in enumerate(scheme["steps"], start=1):
        runs = _resolve_step(step, index, call, ctx, reasons)
        if not runs:
            reasons.append(f"step {index}: nobody to ring, skipped")
        steps.extend(runs)
    if not steps:
        reasons.append("no step has anybody to ring: the call is missed")
    return Plan(_capped(steps, reasons), tuple(reasons), **whose)


def build_direct_plan(
    company_document: Data, extension: str, call: Call, departments: Mapping[int, DepartmentState] | None = None
) -> Plan | None:
    """The plan for a company phone dialling a colleague's extension; None if no such extension.

    The employee rings for their rule's ``after`` seconds (at once skipped when
    away), then their no-answer rule (R15) applies: busy, or forward to a
    colleague or a department.
    """
    employee = company_document["extensions"].get(extension)
    if employee is None:
        return None
    company = company_document["company"]
    ctx = _context(company, departments, call)
    reasons = [f"extension {extension} of company {company['name']!r}"]
    rule = employee.get("no_answer") or {"rule": "busy", "after": DIRECT_CALL_RING_SECONDS}
    whose = {
        "company_id": company["id"],
        "called": extension,
        "dialled_employee_id": employee["id"],
        "dialled_employee_label": employee_label(employee),
        "domain": company["domain"],
    }
    steps = _resolve_step(
        {"mode": "parallel", "timeout": rule["after"], "destinations": [{"kind": "employee", "employee": employee}]},
        1,
        call,
        ctx,
        reasons,
    )
    forward = _direct_forward(rule)
    if forward is not None and rule.get("notice"):
        reasons.append(f"no answer in {rule['after']} s: the media app tells the caller, then forwards the call")
        steps.extend(_no_answer_node(employee["id"], 2))
        return Plan(_capped(steps, reasons), tuple(reasons), final="busy", **whose)
    if forward is not None:
        reasons.append(f"no answer: forward to the {forward['kind']} the rule names")
        steps.extend(
            _resolve_step(
                {"mode": "parallel", "timeout": FORWARD_RING_SECONDS, "destinations": [forward]}, 2, call, ctx, reasons
            )
        )
        return Plan(_capped(steps, reasons), tuple(reasons), **whose)
    if rule["rule"] == "voicemail" and rule.get("voicemail_box_id"):
        reasons.append(f"no answer in {rule['after']} s: voicemail box {rule['voicemail_box_id']}")
        steps.extend(_voicemail(rule["voicemail_box_id"], 2, call, ctx, reasons))
        return Plan(_capped(steps, reasons), tuple(reasons), final="busy", **whose)
    if rule["rule"] == "drop_message":
        reasons.append(f"no answer in {rule['after']} s: the media app plays a message and hangs up")
        steps.extend(_no_answer_node(employee["id"], 2))
        return Plan(_capped(steps, reasons), tuple(reasons), final="busy", **whose)
    reasons.append(f"no answer in {rule['after']} s: busy")
    return Plan(_capped(steps, reasons), tuple(reasons), final="busy", **whose)


def _direct_forward(rule: Data) -> Data | None:
    """Where an employee's no-answer rule forwards a direct call, as a destination; None if it does not."""
    kind = {"forward_employee": "employee", "forward_department": "department"}.get(rule["rule"])
    if kind is None or not rule.get(kind):
        return None
    return {"kind": kind, kind: rule[kind]}


def _no_answer_node(employee_id: int, index: int) -> list[Step]:
    """The media app carries out the employee's no-answer rule itself (media/nodes/no_answer.py)."""
    node = node_resolution(NO_ANSWER_NODE, employee_id, "the no-answer rule", "the media app", runs=True)
    return [Step("parallel", VOICEMAIL_RING_SECONDS, node.targets, index)]


def build_direct_forward_plan(
    company_document: Data, employee_id: int, call: Call, departments: Mapping[int, DepartmentState] | None = None
) -> Plan | None:
    """The plan for the leg the media app opens to forward a direct call to
    ``employee_id`` nobody answered, once the caller heard the notice: the
    colleague or department the employee's rule names. None if the rule no
    longer forwards."""
    employee = next((e for e in company_document["extensions"].values() if e["id"] == employee_id), None)
    if employee is None:
        return None
    forward = _direct_forward(employee["no_answer"])
    if forward is None:
        return None
    company = company_document["company"]
    reasons = [f"no-answer forward of {employee_label(employee)} of company {company['name']!r}"]
    steps = _resolve_step(
        {"mode": "parallel", "timeout": FORWARD_RING_SECONDS, "destinations": [forward]},
        1,
        call,
        _context(company, departments, call),
        reasons,
    )
    return Plan(
        _capped([replace(s, forward=True) for s in steps], reasons),
        tuple(reasons),
        company_id=company["id"],
        called=leg_names.direct_forward_user(employee_id),
        domain=company["domain"],
    )


def build_scheme_plan(
    directory: Data, scheme_id: int, step: int, call: Call, departments: Mapping[int, DepartmentState] | None = None
) -> Plan | None:
    """The plan for the leg the media app opens to ring step ``step`` (1-based)
    of a scheme it answered for (R14): it rings the steps one leg at a time, so
    that it can play the forward notice between them. ``directory``: the
    company's directory document."""
    scheme = directory.get("schemes", {}).get(str(scheme_id))
    if scheme is None or not 1 <= step <= len(scheme["steps"]):
        return None
    company = directory["company"]
    reasons = [f"scheme {scheme['name']!r} of company {company['name']!r}, step {step}, for the media app"]
    return _media_leg_plan(
        company,
        scheme["steps"][step - 1],
        step,
        call,
        departments,
        reasons,
        called=leg_names.scheme_step_user(scheme_id, step),
    )


def _media_leg_plan(
    company: Data,
    step: Data,
    index: int,
    call: Call,
    departments: Mapping[int, DepartmentState] | None,
    reasons: list[str],
    called: str,
) -> Plan:
    """A leg the media app opens for a caller it holds: the step's people only.
    What vpbx handles itself (voicemail) stays with the media app, which takes
    the caller there if nobody answers."""
    steps = _resolve_step(step, index, call, _context(company, departments, call), reasons)
    ringing = [s for s in steps if not any(t.node for t in s.targets)]
    if len(ringing) < len(steps):
        reasons.append("the media app takes the caller on if nobody answers")
    return Plan(
        _capped(ringing, reasons), tuple(reasons), company_id=company["id"], called=called, domain=company["domain"]
    )


def build_ivr_key_plan(
    company_document: Data,
    menu_id: int,
    key: str,
    call: Call,
    departments: Mapping[int, DepartmentState] | None = None,
) -> Plan | None:
    """The plan for the leg the media app opens when a caller presses ``key``
    ("5", "*", "timeout") of IVR menu ``menu_id`` and that key rings people.
    None for a key the company's menus do not have (any more)."""
    destination = company_document.get("ivr_keys", {}).get(leg_names.ivr_key(menu_id, key))
    kind = destinations.KINDS.get(str(destination.get("kind"))) if destination else None
    if destination is None or kind is None or not kind.rings_from_ivr:
        return None
    company = company_document["company"]
    reasons = [f"IVR menu {menu_id}, key {key} of company {company['name']!r}"]
    return _media_leg_plan(
        company,
        {"mode": "parallel", "timeout": IVR_KEY_RING_SECONDS, "destinations": [destination]},
        1,
        call,
        departments,
        reasons,
        called=leg_names.ivr_key_user(menu_id, key),
    )


def build_agents_plan(company_document: Data, leg: leg_names.AgentsLeg, call: Call) -> Plan | None:
    """The plan for the leg a call queue opens to ring agents (media/nodes/queue.py):
    each for the queue's agent ring time, skipped when away, on do-not-disturb
    or forwarding their calls, as a department skips a member."""
    company = company_document["company"]
    by_id = {e["id"]: e for e in company_document["extensions"].values()}
    ctx = _context(company, None, call)
    reasons = [f"call queue {leg.queue_id} of company {company['name']!r}: ring agents"]
    targets: list[Target] = []
    for employee_id in leg.employee_ids:
        agent = by_id.get(employee_id)
        if agent is None:
            reasons.append(f"agent {employee_id} is no employee of the company (any more)")
            continue
        resolution = employee_destination.resolve({"kind": "employee", "employee": agent}, call, ctx, group_call=True)
        targets.extend(resolution.targets)
        reasons.extend(resolution.reasons)
    seconds = min(leg.ring_seconds, MAX_RING_SECONDS)
    steps = (Step("parallel", seconds, tuple(targets), scheme_step=1),) if targets else ()
    return Plan(
        steps,
        tuple(reasons),
        company_id=company["id"],
        called=leg_names.agents_user(leg.queue_id, leg.ring_seconds, list(leg.employee_ids)),
        domain=company["domain"],
    )


def build_department_callback_plan(
    directory: Data, department_id: int, client: str, call: Call, departments: Mapping[int, DepartmentState] | None
) -> Plan | None:
    """The plan for the first leg of a department's callback (its rule "call
    back later", media/callbacks.py): every member on duty at once, whatever
    the department's distribution (whoever is free takes it), showing the
    client's number; once one answers, the client is rung as that member's
    own outgoing call (routing/click_to_call.py). None when the company has
    no such department (any more)."""
    department = directory.get("departments", {}).get(str(department_id))
    if department is None:
        return None
    company = directory["company"]
    ctx = _context(company, departments, call)
    everyone = {**department, "distribution": "all_at_once"}
    resolution = destinations.resolve({"kind": "department", "department": everyone}, call, ctx)
    reasons = [f"callback of department {department['name']!r} to {client}", *resolution.reasons]
    targets = [t for t in resolution.targets if t.employee_id is not None]
    steps = (Step("parallel", CLICK_TO_CALL_RING_SECONDS, tuple(targets), scheme_step=1),) if targets else ()
    return Plan(
        steps,
        tuple(reasons),
        company_id=company["id"],
        called=client,
        domain=company["domain"],
        answer_is_the_calls=False,
    )


@dataclass(frozen=True)
class HeldStep:
    """What the media app does for a caller it holds at one step: an IVR key,
    or a step of a scheme it answered for (R14). Decided here, from the
    compiled document, so that the media app never re-derives routing."""

    # It names people: the media app opens a leg through Kamailio, which rings
    # them by the leg's own plan (build_ivr_key_plan, build_scheme_plan).
    rings: bool
    # Where the caller goes once those people did not answer, or straight
    # away when there are none: a voicemail box (R4, R14), or None.
    voicemail_box_id: int | None
    # Or the department that calls them back (R4's "call back later"), or None.
    callback_department_id: int | None = None


def held_step(step: Data) -> HeldStep:
    kinds = [destinations.KINDS.get(str(d.get("kind"))) for d in step["destinations"]]
    boxes = (k.voicemail_when_nobody_answers(d) for k, d in zip(kinds, step["destinations"], strict=True) if k)
    calling_back = (k.callback_when_nobody_answers(d) for k, d in zip(kinds, step["destinations"], strict=True) if k)
    return HeldStep(
        rings=any(k is not None and k.handled_by is Handler.KAMAILIO for k in kinds),
        voicemail_box_id=next((box for box in boxes if box is not None), None),
        callback_department_id=next((d for d in calling_back if d is not None), None),
    )


def ivr_menu_keys(company_document: Data, menu_id: int) -> dict[str, Data]:
    """Where each key of IVR menu ``menu_id`` leads ("1", "*", "timeout" ->
    its compiled destination), from the company's document."""
    keys = {}
    for name, destination in company_document.get("ivr_keys", {}).items():
        parsed = leg_names.parse_ivr_key(name)
        if parsed is not None and parsed[0] == menu_id:
            keys[parsed[1]] = destination
    return keys


def held_ivr_key(destination: Data) -> HeldStep:
    """An IVR key's destination as the media app carries it out."""
    return held_step({"destinations": [destination]})


def held_scheme_steps(directory: Data, scheme_id: int) -> tuple[HeldStep, ...] | None:
    """The steps of a scheme the media app answered for, from the company's
    directory document; None when the company has no such scheme (any more)."""
    scheme = directory.get("schemes", {}).get(str(scheme_id))
    return tuple(held_step(step) for step in scheme["steps"]) if scheme is not None else None


def expand_lookups(
    plan: Plan,
    directory: Data,
    outcomes: Mapping[str, object],
    call: Call,
    departments: Mapping[int, DepartmentState] | None = None,
) -> Plan:
    """The plan once its lookups are answered: each looked-up node gives way to
    what its destination module says rings instead, where the node stood.

    ``outcomes``: node -> what the lookup found (see each destination's
    ``expand``); ``directory``: the company's compiled directory document.
    A node without an outcome expands as a failed lookup: fail-open.
    """
    ctx = _context(directory["company"], departments, call)
    reasons = list(plan.reasons)
    steps: list[Step] = []
    priority = plan.queue_priority
    for step in plan.steps:
        nodes = [t.node for t in step.targets if t.node and leg_names.node_kind(t.node) in LOOKUP_KINDS]
        if not nodes:
            steps.append(step)
            continue
        others = tuple(t for t in step.targets if t.node not in nodes)
        if others:
            steps.append(replace(step, targets=others))
        for node in nodes:
            kind = destinations.KINDS[str(leg_names.node_kind(node))]
            expansion = kind.expanded(node, outcomes.get(node, "no answer"), step.timeout, directory)
            reasons.extend(f"step {step.scheme_step}: {r}" for r in expansion.reasons)
            priority = max(priority, expansion.queue_priority)
            if expansion.reject:
                return replace(
                    plan, steps=_capped(steps, reasons), reasons=tuple(reasons), final=f"reject:{expansion.reject}"
                )
            scheme_steps = list(expansion.steps)
            if expansion.scheme is not None:
                scheme = _applicable_scheme(expansion.scheme, call, reasons)
                scheme_steps = scheme["steps"] if scheme else []
            for scheme_step in scheme_steps:
                runs = _resolve_step(scheme_step, step.scheme_step or 1, call, ctx, reasons)
                if scheme_step.get("forward"):
                    runs = [replace(run, forward=True) for run in runs]
                # Nothing is looked up twice per call: a node in the answer is skipped.
                steps.extend(r for r in (_without_lookups(run, reasons) for run in runs) if r)
    return replace(plan, steps=_capped(steps, reasons), reasons=tuple(reasons), queue_priority=priority)


def _without_lookups(step: Step, reasons: list[str]) -> Step | None:
    kept = tuple(t for t in step.targets if leg_names.node_kind(t.node) not in LOOKUP_KINDS)
    if len(kept) < len(step.targets):
        reasons.append(f"step {step.scheme_step}: a lookup inside a lookup's answer is not followed")
    return replace(step, targets=kept) if kept else None
