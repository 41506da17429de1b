"""Feature codes an employee dials: what each asks, who may, and how calls to
an employee follow do-not-disturb and forward-all."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vpbx.kamailio_adapter import reasons
from vpbx.routing import Call, build_direct_plan, build_plan
from vpbx.routing import feature_codes as codes
from vpbx.routing.feature_codes import Feature, build_feature_plan, parse

MOSCOW = "+74951119999"
AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def company(**employee_fields) -> dict:
    anna = {"id": 11, "name": "Anna", "extension": "101", "login": "101", **employee_fields}
    boris = {"id": 12, "name": "Boris", "extension": "102", "login": "102"}
    return {
        "company": {"id": 7, "name": "Demo", "domain": "demo.vpbx.test", "timezone": "Europe/Moscow"},
        "extensions": {"101": anna, "102": boris},
        "outgoing": {
            "region": "RU",
            "caller_id": MOSCOW,
            "numbers": [MOSCOW],
            "callers": {
                "101": {"caller_id": None, "allowed": "mobile"},
                "102": {"caller_id": None, "allowed": "internal"},
            },
        },
    }


@pytest.mark.parametrize(
    ("dialled", "feature"),
    [
        ("*78", Feature(codes.DND_ON)),
        ("*79", Feature(codes.DND_OFF)),
        ("*7289161234567", Feature(codes.FORWARD_ON, "89161234567")),
        ("*73", Feature(codes.FORWARD_OFF)),
        ("*97", Feature(codes.VOICEMAIL)),
        ("*72", Feature(codes.UNKNOWN_CODE)),  # forward to nothing
        ("*5", Feature(codes.UNKNOWN_CODE)),
        ("*978", Feature(codes.UNKNOWN_CODE)),
        ("*6789161234567", None),  # an outgoing call, hidden
        ("*811234*89161234567", None),  # an outgoing call with a chosen caller ID
        ("101", None),
        ("89161234567", None),
        ("*", None),
        ("*#", None),
    ],
)
def test_what_a_dialled_star_code_asks(dialled, feature):
    assert parse(dialled) == feature


def test_each_code_goes_to_the_media_app_for_the_employee_who_dialled_it():
    for dialled, node in (("*78", "feature:11"), ("*73", "feature:11"), ("*97", "messages:11")):
        plan = build_feature_plan(company(), "101", dialled)
        assert plan is not None
        assert [t.node for t in plan.steps[0].targets] == [node]
        assert (plan.called, plan.company_id, plan.final, plan.outgoing) == (dialled, 7, None, False)


def test_an_unknown_code_is_refused_with_404_and_says_so():
    plan = build_feature_plan(company(), "101", "*55")
    assert plan is not None and plan.steps == ()
    refusal = reasons.final(plan.final)
    assert refusal is not None and refusal.code == 404
    assert "No such feature code" in refusal.reason_header


def test_a_phone_that_is_no_employees_has_no_features():
    plan = build_feature_plan(company(), "door", "*78")
    assert plan is not None and plan.steps == ()
    refusal = reasons.final(plan.final)
    assert refusal is not None and refusal.code == 403


def test_forward_all_reads_the_number_as_the_company_dials_and_goes_only_where_the_employee_may_call():
    plan = build_feature_plan(company(), "101", "*7289161234567")
    assert plan is not None and plan.steps
    assert "forward all calls of employee 101 to +79161234567" in plan.reasons

    # Boris may call no one outside: forwarding would let callers do it for him.
    refused = build_feature_plan(company(), "102", "*7289161234567")
    assert refused is not None and refused.final == "not_permitted:mobile"
    international = build_feature_plan(company(), "101", "*72810442079460000")
    assert international is not None and international.final == "not_permitted:international"


@pytest.mark.parametrize(
    ("argument", "why"),
    [("12", "is no phone number"), ("112", "emergency"), ("84951119999", "the company's own number")],
)
def test_forward_all_to_nowhere_emergency_or_the_company_itself_is_refused(argument, why):
    plan = build_feature_plan(company(), "101", f"*72{argument}")
    assert plan is not None and plan.final == codes.BAD_FORWARD_NUMBER
    assert why in plan.reasons[-1]
    refusal = reasons.final(plan.final)
    assert refusal is not None and refusal.code == 403


def _direct(document: dict):
    call = Call("c1", "101", "102", "phone", AT, caller_aor="sip:102@demo.vpbx.test")
    return build_direct_plan(document, "101", call)


def test_a_direct_call_to_an_employee_on_dnd_rings_nobody_and_ends_busy():
    plan = _direct(company(dnd=True, no_answer={"rule": "busy", "after": 20}))
    assert plan is not None
    assert plan.steps == () and plan.final == "busy"
    assert any("skip employee 101 Anna: on do-not-disturb" in r for r in plan.reasons)


def test_a_direct_call_to_an_employee_forwarding_all_calls_rings_the_number_through_the_trunks():
    plan = _direct(company(forward_all="+79161234567", no_answer={"rule": "busy", "after": 20}))
    assert plan is not None
    [step] = plan.steps
    [target] = step.targets
    assert (target.uri, target.via_trunk, target.employee_id) == ("sip:+79161234567@pstn.invalid", True, 11)
    assert any("forwards all calls to +79161234567" in r for r in plan.reasons)


def _department(**anna_fields) -> dict:
    anna = {"id": 11, "name": "Anna", "extension": "101", "login": "101", **anna_fields}
    boris = {"id": 12, "name": "Boris", "extension": "102", "login": "102"}
    department = {
        "id": 3,
        "name": "Sales",
        "distribution": "all_at_once",
        "ring_time": 20,
        "members": [anna, boris],
    }
    return {
        "schema": 6,
        "version": 1,
        "number": MOSCOW,
        "company": {"id": 7, "name": "Demo", "domain": "demo.vpbx.test", "timezone": "Europe/Moscow"},
        "mode": "always",
        "schedule": None,
        "working": {
            "id": 1,
            "name": "Main",
            "steps": [
                {"mode": "parallel", "timeout": 20, "destinations": [{"kind": "department", "department": department}]}
            ],
            "active": None,
            "backup": None,
        },
        "off_hours": None,
    }


@pytest.mark.parametrize(
    ("anna", "why"),
    [
        ({"dnd": True}, "on do-not-disturb"),
        ({"forward_all": "+79161234567"}, "which a department does not follow"),
    ],
)
def test_a_department_skips_a_member_on_dnd_or_forwarding_and_rings_the_others(anna, why):
    call = Call("c2", MOSCOW, "+79160000000", "trunk", AT)
    plan = build_plan(_department(**anna), call)
    assert [t.uri for s in plan.steps for t in s.targets] == ["sip:102@demo.vpbx.test"]
    assert any(r.endswith(why) and "employee 101 Anna" in r for r in plan.reasons)


def test_a_forward_to_the_number_being_called_is_not_followed():
    plan = build_plan(
        {
            **_department(),
            "working": {
                "id": 1,
                "name": "Main",
                "steps": [
                    {
                        "mode": "parallel",
                        "timeout": 20,
                        "destinations": [
                            {
                                "kind": "employee",
                                "employee": {
                                    "id": 11,
                                    "name": "Anna",
                                    "extension": "101",
                                    "login": "101",
                                    "forward_all": MOSCOW,
                                },
                            }
                        ],
                    }
                ],
                "active": None,
                "backup": None,
            },
        },
        Call("c3", MOSCOW, "+79160000000", "trunk", AT),
    )
    assert plan.steps == ()
    assert any("(a loop)" in r for r in plan.reasons)
