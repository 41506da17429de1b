"""Click-to-call legs: their names, what each rings, and how history records them."""

from __future__ import annotations

from vpbx.kamailio_adapter import call_events
from vpbx.kamailio_adapter.execute import PlanCursor
from vpbx.routing import click_to_call, leg_names
from vpbx.routing.leg_names import ClickToCallLeg

MOSCOW = "+74951119999"
CLIENT = "+79161234567"


def company(allowed: str = "mobile") -> dict:
    anna = {"id": 11, "name": "Anna", "extension": "101", "login": "anna", "dnd": True, "forward_all": CLIENT}
    return {
        "company": {"id": 7, "name": "Demo", "domain": "demo.vpbx.test", "timezone": "Europe/Moscow"},
        "extensions": {"101": anna},
        "outgoing": {
            "region": "RU",
            "caller_id": MOSCOW,
            "numbers": [MOSCOW],
            "callers": {"anna": {"caller_id": None, "allowed": allowed}},
        },
    }


def test_leg_names_round_trip_and_refuse_anything_else():
    for client_leg in (False, True):
        user = leg_names.click_to_call_user(11, CLIENT, client_leg=client_leg)
        assert leg_names.parse_click_to_call_user(user) == ClickToCallLeg(11, CLIENT, client_leg)
    for other in ("c2c-11", "c2c-x-+79161234567", "c2c-11-79161234567", "c2c-11-+7916-client-x", "voicemail-3"):
        assert leg_names.parse_click_to_call_user(other) is None
    assert leg_names.parse_node_user(leg_names.click_to_call_user(11, CLIENT, client_leg=False)) is None
    department_leg = leg_names.department_callback_user(3, CLIENT)
    assert leg_names.parse_department_callback_user(department_leg) == (3, CLIENT)
    for other in (
        "cbd-3",
        "cbd-x-+79161234567",
        "cbd-3-79161234567",
        leg_names.click_to_call_user(3, CLIENT, client_leg=False),
    ):
        assert leg_names.parse_department_callback_user(other) is None
    assert leg_names.parse_node_user(department_leg) is None


def test_the_employee_leg_rings_their_phones_even_on_dnd_or_forward_all():
    plan = click_to_call.employee_leg_plan(company(), 11, CLIENT)
    assert plan is not None
    [step] = plan.steps
    assert [(t.uri, t.via_location) for t in step.targets] == [("sip:anna@demo.vpbx.test", True)]
    assert (plan.on_behalf_of, plan.answer_is_the_calls, plan.called, plan.outgoing) == ("anna", False, CLIENT, False)
    assert click_to_call.employee_leg_plan(company(), 99, CLIENT) is None


def test_the_client_leg_is_the_employees_outgoing_call_with_their_permission_and_caller_id():
    plan = click_to_call.client_leg_plan(company(), 11, CLIENT)
    assert plan is not None
    assert [t.uri for t in plan.steps[0].targets] == [f"sip:{CLIENT}@pstn.invalid"]
    assert (plan.outgoing, plan.caller_id, plan.on_behalf_of, plan.answer_is_the_calls) == (True, MOSCOW, "anna", True)

    refused = click_to_call.client_leg_plan(company(allowed="local"), 11, CLIENT)
    assert refused is not None and refused.final == "not_permitted:mobile"


def test_history_records_both_legs_as_the_employees_outgoing_call_under_the_client_legs_call_id():
    employee_plan = click_to_call.employee_leg_plan(company(), 11, CLIENT)
    client_plan = click_to_call.client_leg_plan(company(), 11, CLIENT)
    assert employee_plan is not None and client_plan is not None
    leg_call_id = click_to_call.employee_leg_call_id("abc@vpbx")
    employee_leg = call_events.call_record(
        employee_plan, source="media", caller=CLIENT, caller_domain="demo.vpbx.test", call_id=leg_call_id
    )
    client_leg = call_events.call_record(
        client_plan, source="media", caller="click-to-call", caller_domain="demo.vpbx.test", call_id="abc@vpbx"
    )
    for record in (employee_leg, client_leg):
        assert (record["direction"], record["caller_login"], record["caller_domain"]) == (
            "outgoing",
            "anna",
            "demo.vpbx.test",
        )
    assert employee_leg["line_call_id"] == "abc@vpbx" and "line_call_id" not in client_leg
    # The employee answering is not the call being answered: only the client's answer is.
    assert call_events.answer_prefix(leg_call_id, PlanCursor(employee_plan, 0, call=employee_leg)) is None
    assert call_events.answer_prefix("abc@vpbx", PlanCursor(client_plan, 0, call=client_leg)) is not None


def test_a_phone_numbers_leg_names_its_trunk_and_the_next_gateway_replaces_it():
    plan = click_to_call.client_leg_plan(company(), 11, CLIENT)
    assert plan is not None
    cursor = PlanCursor(plan, 0).ringing(0, [(-1, 0)], "2026-12-03T10:00:00+00:00", trunk=4)
    assert [leg["trunk_id"] for leg in cursor.legs] == [4]
    assert [leg["trunk_id"] for leg in cursor.through_trunk(5).legs] == [5]
    employee_plan = click_to_call.employee_leg_plan(company(), 11, CLIENT)
    assert employee_plan is not None
    assert "trunk_id" not in PlanCursor(employee_plan, 0).ringing(0, [(-1, 0)], "t", trunk=4).legs[0]


def test_a_queue_rings_its_agents_but_those_away_on_dnd_or_forwarding():
    from datetime import UTC, datetime

    from vpbx.routing import Call
    from vpbx.routing.plan import build_agents_plan

    document = company()
    document["extensions"]["102"] = {"id": 12, "name": "Boris", "extension": "102", "login": "boris"}
    document["extensions"]["103"] = {"id": 13, "name": "Vera", "extension": "103", "login": "vera", "dnd": True}
    user = leg_names.agents_user(4, 15, [11, 12, 13, 99])
    leg = leg_names.parse_agents_user(user)
    assert leg == leg_names.AgentsLeg(4, 15, (11, 12, 13, 99))
    assert leg_names.parse_agents_user("agents-4-15-") is None
    call = Call("q1", user, "79161234567", "media", datetime(2026, 12, 3, 10, tzinfo=UTC))
    plan = build_agents_plan(document, leg, call)
    assert plan is not None
    [step] = plan.steps
    # Anna forwards all her calls and Vera is on do-not-disturb: only Boris rings, for the queue's ring time.
    assert (step.timeout, [t.uri for t in step.targets]) == (15, ["sip:boris@demo.vpbx.test"])
    assert any("agent 99 is no employee" in r for r in plan.reasons)
