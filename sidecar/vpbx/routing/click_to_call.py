"""Click-to-call (``POST /api/v1/calls``): a CRM button or a softphone
integration asks vpbx to connect an employee with a client.

The media app opens two legs through Kamailio, one after the other
(media/click_to_call.py): first the employee's own phones, which show the
client's number; once the employee answers, the client, as an outgoing call
of that employee: the same permission and caller ID as if their phone had
dialled it (routing/outbound.py). The employee's leg rings even on
do-not-disturb or forward-all: they asked for this call themselves.

History keeps one line, the client leg's, as the employee's outgoing call.
The employee's leg adds a line only when they did not answer (no client was
rung then): its answer is not the call's (``Plan.answer_is_the_calls``), and
its line takes the client leg's Call-ID, the one the API answered with.
"""

from __future__ import annotations

from .destinations.employee import label
from .outbound import build_outgoing_plan
from .plan import Plan, Step
from .ring_times import CLICK_TO_CALL_RING_SECONDS
from .targets import Data, Target

# The employee's leg's Call-ID is the client leg's with this before it.
EMPLOYEE_LEG_PREFIX = "employee-"


def employee_leg_call_id(call_id: str) -> str:
    return EMPLOYEE_LEG_PREFIX + call_id


def line_call_id(leg_call_id: str) -> str:
    """The Call-ID a click-to-call's history line is kept under, from either leg's."""
    return leg_call_id.removeprefix(EMPLOYEE_LEG_PREFIX)


def _employee(company_document: Data, employee_id: int) -> Data | None:
    return next((e for e in company_document["extensions"].values() if e["id"] == employee_id), None)


def employee_leg_plan(company_document: Data, employee_id: int, client: str) -> Plan | None:
    """The plan of the first leg: the employee's registered phones; None when
    the company has no such employee."""
    employee = _employee(company_document, employee_id)
    if employee is None:
        return None
    company = company_document["company"]
    name = label(employee)
    target = Target(
        uri=f"sip:{employee['login']}@{company['domain']}", via_location=True, label=name, employee_id=employee_id
    )
    return Plan(
        (Step("parallel", CLICK_TO_CALL_RING_SECONDS, (target,), scheme_step=1),),
        (f"click-to-call to {client}: ring {name} first",),
        company_id=company["id"],
        called=client,
        domain=company["domain"],
        on_behalf_of=employee["login"],
        answer_is_the_calls=False,
    )


def client_leg_plan(company_document: Data, employee_id: int, client: str) -> Plan | None:
    """The plan of the second leg: the client, as the employee's own outgoing
    call (refused as it would be from their phone); None when the company has
    no such employee or ``client`` is no number."""
    employee = _employee(company_document, employee_id)
    if employee is None:
        return None
    plan = build_outgoing_plan(company_document, employee["login"], client)
    if plan is None:
        return None
    return Plan(
        plan.steps,
        (f"click-to-call of {label(employee)}", *plan.reasons),
        plan.final,
        plan.company_id,
        plan.called,
        domain=plan.domain,
        outgoing=True,
        caller_id=plan.caller_id,
        on_behalf_of=employee["login"],
    )
