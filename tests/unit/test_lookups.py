"""Looked-up destinations (R16, R17): what rings once a webhook or the CRM has
answered, or failed to; the answer's validation; the request signature."""

from datetime import UTC, datetime

import pytest
from marshmallow import ValidationError

from vpbx.lookups.signing import signature, verify
from vpbx.lookups.webhook import AnswerSchema
from vpbx.routing import Call, build_plan
from vpbx.routing.plan import expand_lookups

pytestmark = pytest.mark.unit

CALL = Call(
    call_id="c1",
    called="+74951112233",
    caller="79161234567",
    source="trunk",
    at=datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
)


def person(employee_id, extension, name, no_answer=None):
    return {
        "id": employee_id,
        "name": name,
        "extension": extension,
        "login": extension,
        "no_answer": no_answer or {"rule": "busy", "after": 120},
    }


ANNA, BORIS, CARL = person(1, "101", "Anna"), person(2, "102", "Boris"), person(3, "103", "Carl")
SALES = {
    "id": 5,
    "name": "Sales",
    "distribution": "all_at_once",
    "ring_time": 20,
    "if_nobody_answers": None,
    "voicemail_box_id": None,
    "members": [ANNA, BORIS],
}


def directory(crm=None, **employees):
    people = {str(e["id"]): e for e in (ANNA, BORIS, CARL)}
    people.update({str(e["id"]): e for e in employees.values()})
    return {
        "company": {"id": 7, "name": "Demo", "domain": "demo.vpbx.test", "timezone": "Europe/Moscow"},
        "employees": people,
        "departments": {"5": SALES},
        "schemes": {
            "9": {
                "id": 9,
                "name": "Fallback",
                "active": None,
                "backup": None,
                "steps": [
                    {"mode": "parallel", "timeout": 25, "destinations": [{"kind": "employee", "employee": BORIS}]}
                ],
            }
        },
        "webhooks": {"4": {"id": 4, "name": "router", "fallback_scheme_id": 9}},
        "crm": crm,
    }


def number_plan(*first_step_destinations):
    steps = [
        {"mode": "parallel", "timeout": 20, "destinations": list(first_step_destinations)},
        {"mode": "parallel", "timeout": 30, "destinations": [{"kind": "employee", "employee": CARL}]},
    ]
    document = {
        "number": "+74951112233",
        "mode": "always",
        "schedule": None,
        "off_hours": None,
        "company": directory()["company"],
        "working": {"id": 1, "name": "Main", "steps": steps, "active": None, "backup": None},
    }
    return build_plan(document, CALL)


def rings(plan):
    return [(s.timeout, [t.label for t in s.targets], s.scheme_step, s.forward) for s in plan.steps]


def test_a_plan_names_its_lookups_once_each():
    plan = number_plan({"kind": "webhook", "webhook_id": 4}, {"kind": "responsible_manager"})
    assert plan.lookups() == ("webhook:4", "responsible_manager")
    assert number_plan({"kind": "employee", "employee": ANNA}).lookups() == ()


def test_the_webhooks_answer_rings_in_its_place_and_the_plan_goes_on():
    plan = number_plan({"kind": "webhook", "webhook_id": 4})
    answer = AnswerSchema().load(
        {
            "action": "ring",
            "timeout": 15,
            "destinations": [
                {"kind": "employee", "extension": "101"},
                {"kind": "department", "department_id": 5},
                {"kind": "phone_number", "number": "8 916 000-00-01"},
            ],
        }
    )

    expanded = expand_lookups(plan, directory(), {"webhook:4": answer}, CALL)

    assert rings(expanded) == [
        (15, ["employee 101 Anna", "employee 101 Anna", "employee 102 Boris", "phone +79160000001"], 1, False),
        (30, ["employee 103 Carl"], 2, False),
    ]


@pytest.mark.parametrize(
    "outcome",
    [
        "timeout: no answer within the budget",
        {"action": "fallback"},
        {
            "action": "ring",
            "mode": "parallel",
            "timeout": 30,
            "destinations": [{"kind": "employee", "employee_id": 99}],
        },
    ],
)
def test_a_failed_or_empty_webhook_answer_rings_the_fallback_scheme(outcome):
    plan = number_plan({"kind": "webhook", "webhook_id": 4})

    expanded = expand_lookups(plan, directory(), {"webhook:4": outcome}, CALL)

    assert rings(expanded)[0] == (25, ["employee 102 Boris"], 1, False)
    assert any("scheme 'Fallback'" in r for r in expanded.reasons)


def test_a_webhook_rejecting_ends_the_plan_with_its_code():
    plan = number_plan({"kind": "webhook", "webhook_id": 4})

    expanded = expand_lookups(plan, directory(), {"webhook:4": {"action": "reject", "code": 603}}, CALL)

    assert (expanded.steps, expanded.final) == ((), "reject:603")


def test_a_webhook_without_fallback_moves_on_to_the_next_step():
    plan = number_plan({"kind": "webhook", "webhook_id": 4})
    book = directory()
    book["webhooks"]["4"]["fallback_scheme_id"] = None

    expanded = expand_lookups(plan, book, {"webhook:4": "http_status: HTTP 500"}, CALL)

    assert rings(expanded) == [(30, ["employee 103 Carl"], 2, False)]


def test_the_managers_own_rule_forwards_when_the_crm_has_none():
    anna = person(1, "101", "Anna", {"rule": "forward_employee", "after": 30, "employee": CARL})
    plan = number_plan({"kind": "responsible_manager"})

    expanded = expand_lookups(
        plan, directory(crm={"no_answer_rule": "none"}, anna=anna), {"responsible_manager": 1}, CALL
    )

    assert rings(expanded)[:2] == [(20, ["employee 101 Anna"], 1, False), (30, ["employee 103 Carl"], 1, True)]


def test_the_crm_rule_takes_priority_over_the_managers_own():
    anna = person(1, "101", "Anna", {"rule": "forward_employee", "after": 30, "employee": CARL})
    crm = {
        "no_answer_rule": "forward_department",
        "no_answer_department_id": 5,
        "no_answer_employee_id": None,
        "no_answer_ring_s": 40,
    }
    plan = number_plan({"kind": "responsible_manager"})

    expanded = expand_lookups(plan, directory(crm=crm, anna=anna), {"responsible_manager": 1}, CALL)

    assert rings(expanded) == [
        (20, ["employee 101 Anna"], 1, False),
        (40, ["employee 101 Anna", "employee 102 Boris"], 1, True),
        (30, ["employee 103 Carl"], 2, False),
    ]


def test_an_unknown_caller_skips_the_manager():
    plan = number_plan({"kind": "responsible_manager"})

    expanded = expand_lookups(plan, directory(), {"responsible_manager": "+79161234567 is not a client"}, CALL)

    assert rings(expanded) == [(30, ["employee 103 Carl"], 2, False)]
    assert "step 1: responsible manager: +79161234567 is not a client, the next step rings" in expanded.reasons


def test_a_plan_travels_with_its_forward_marks():
    from vpbx.routing import Plan

    anna = person(1, "101", "Anna", {"rule": "forward_employee", "after": 30, "employee": CARL})
    expanded = expand_lookups(
        number_plan({"kind": "responsible_manager"}), directory(anna=anna), {"responsible_manager": 1}, CALL
    )
    assert Plan.from_json(expanded.to_json()) == expanded


@pytest.mark.parametrize(
    "answer, field",
    [
        ({"action": "ring"}, "destinations"),
        ({"action": "scheme"}, "scheme_id"),
        ({"action": "reject", "code": 200}, "code"),
        ({"action": "ring", "destinations": [{"kind": "employee"}]}, "destinations"),
        ({"action": "ring", "destinations": [{"kind": "phone_number", "number": "not a number"}]}, "destinations"),
        ({"action": "ring", "destinations": [{"kind": "voicemail", "voicemail_box_id": 1}]}, "destinations"),
        ({"action": "ring", "timeout": 1, "destinations": [{"kind": "sip_uri", "uri": "sip:a@b"}]}, "timeout"),
    ],
)
def test_an_invalid_answer_is_refused_with_the_field_that_is_wrong(answer, field):
    with pytest.raises(ValidationError) as refused:
        AnswerSchema().load(answer)
    assert field in refused.value.messages


def test_a_signature_holds_only_for_its_secret_body_and_time():
    body = b'{"call_id":"c1"}'
    header = signature("s3cret", 1_800_000_000, body)

    assert verify("s3cret", header, body, now=1_800_000_100)
    assert not verify("other", header, body, now=1_800_000_100)
    assert not verify("s3cret", header, body + b" ", now=1_800_000_100)
    assert not verify("s3cret", header, body, now=1_800_000_000 + 301)  # a replay, too late
    assert not verify("s3cret", "v1=abc", body, now=1_800_000_000)


def test_a_webhook_may_send_the_caller_to_a_queue_ahead_of_the_numbers_priority():
    plan = number_plan({"kind": "webhook", "webhook_id": 4})
    answer = AnswerSchema().load(
        {"action": "ring", "destinations": [{"kind": "queue", "queue_id": 3}], "queue_priority": 7}
    )

    expanded = expand_lookups(plan, directory(), {"webhook:4": answer}, CALL)

    assert plan.queue_priority == 0
    assert expanded.queue_priority == 7
    assert [t.node for t in expanded.steps[0].targets] == ["queue:3"]
    assert type(plan).from_json(expanded.to_json()).queue_priority == 7  # it travels with the transaction
    with pytest.raises(ValidationError) as refused:
        AnswerSchema().load({"action": "ring", "destinations": [{"kind": "queue"}], "queue_priority": 10})
    assert set(refused.value.messages) == {"destinations", "queue_priority"}


def test_a_numbers_queue_priority_is_the_plans():
    document = {
        "number": "+74951112233",
        "mode": "always",
        "schedule": None,
        "off_hours": None,
        "company": directory()["company"],
        "working": {"id": 1, "name": "Main", "steps": [], "active": None, "backup": None},
        "queue_priority": 4,
    }
    assert build_plan(document, CALL).queue_priority == 4
