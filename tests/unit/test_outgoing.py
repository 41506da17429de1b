"""Outgoing calls: what a phone dialled, who may call it, which number the callee sees."""

from __future__ import annotations

import pytest

from vpbx.kamailio_adapter import reasons
from vpbx.routing.outbound import EMERGENCY, allowed, build_outgoing_plan, privacy_requested, read_dialled

MOSCOW = "+74951119999"


@pytest.mark.parametrize(
    ("dialled", "region", "number", "category"),
    [
        ("84957654321", "RU", "+74957654321", "local"),  # 8, then the area code
        ("+74957654321", "RU", "+74957654321", "local"),
        ("7654321", "RU", "+74957654321", "local"),  # the subscriber number alone, in Moscow
        ("88123334455", "RU", "+78123334455", "national"),  # Saint Petersburg
        ("89161234567", "RU", "+79161234567", "mobile"),
        ("9161234567", "RU", "+79161234567", "mobile"),
        ("88002000600", "RU", "+78002000600", "local"),  # free to call
        ("88091234567", "RU", "+78091234567", "international"),  # premium rate
        ("810442079460000", "RU", "+442079460000", "international"),  # Russia's 8~10
        ("00442079460000", "RU", "+442079460000", "international"),
        ("+380441234567", "RU", "+380441234567", "international"),
        ("0441234567", "UA", "+380441234567", "local"),  # Ukraine's trunk prefix 0, in Kyiv
        ("0322971234", "UA", "+380322971234", "national"),  # Lviv
        ("0671234567", "UA", "+380671234567", "mobile"),
        ("112", "RU", "112", EMERGENCY),
        ("103", "RU", "103", EMERGENCY),
        ("112", "UA", "112", EMERGENCY),
    ],
)
def test_the_forms_people_dial_read_as_the_number_and_its_category(dialled, region, number, category):
    home = MOSCOW if region == "RU" else "+380442223344"
    read = read_dialled(dialled, region, home)
    assert read is not None
    assert (read.number, read.category) == (number, category)


@pytest.mark.parametrize("dialled", ["12", "84951", "+7495", "abc", "8-800", "0000000000000000"])
def test_what_is_no_number_reads_as_none(dialled):
    assert read_dialled(dialled, "RU", MOSCOW) is None


def test_a_short_local_form_needs_the_companys_area():
    assert read_dialled("7654321", "RU", None) is None
    assert read_dialled("7654321", "RU", "+79161112233") is None  # a mobile has no area


def test_permissions_climb_a_ladder_and_emergency_is_always_allowed():
    assert allowed("mobile", "national")
    assert allowed("mobile", "local")
    assert not allowed("mobile", "international")
    assert not allowed("internal", "local")
    assert allowed("international", "international")
    assert allowed("internal", EMERGENCY)


SALES_LINE = "+74951110042"


def company(caller_id: str | None = MOSCOW, **callers) -> dict:
    numbers = [n for n in (caller_id, SALES_LINE) if n]
    return {
        "company": {"id": 7, "name": "Demo", "domain": "demo.vpbx.test", "timezone": "Europe/Moscow"},
        "extensions": {},
        "outgoing": {"region": "RU", "caller_id": caller_id, "numbers": numbers, "callers": callers},
    }


def test_an_employee_call_goes_through_the_trunks_shown_as_the_company_number():
    plan = build_outgoing_plan(company(anna={"caller_id": None, "allowed": "mobile"}), "anna", "89161234567")

    assert plan is not None
    [step] = plan.steps
    [target] = step.targets
    assert (target.uri, target.via_trunk, target.via_location) == ("sip:+79161234567@pstn.invalid", True, False)
    assert (plan.caller_id, plan.called, plan.company_id, plan.final) == (MOSCOW, "+79161234567", 7, None)


def test_an_employee_with_a_number_of_their_own_is_shown_as_it():
    mine = "+74951110001"
    plan = build_outgoing_plan(company(anna={"caller_id": mine, "allowed": "mobile"}), "anna", "84957654321")
    assert plan is not None
    assert plan.caller_id == mine


def test_a_number_above_the_callers_permission_is_refused_with_its_category():
    plan = build_outgoing_plan(company(anna={"caller_id": None, "allowed": "mobile"}), "anna", "810442079460000")

    assert plan is not None
    assert (plan.steps, plan.final) == ((), "not_permitted:international")
    refusal = reasons.final(plan.final)
    assert refusal is not None
    assert refusal.code == 403
    assert "international" in refusal.reason_header


def test_a_phone_of_no_employee_calls_nobody_outside_but_emergency():
    door = company()
    refused = build_outgoing_plan(door, "door", "84957654321")
    assert refused is not None and refused.final == "not_permitted:local"

    emergency = build_outgoing_plan(door, "door", "112")
    assert emergency is not None
    assert [t.uri for t in emergency.steps[0].targets] == ["sip:112@pstn.invalid"]


def test_a_company_without_a_number_reaches_emergency_only():
    numberless = company(None, anna={"caller_id": None, "allowed": "international"})
    plan = build_outgoing_plan(numberless, "anna", "112")
    assert plan is not None and plan.steps
    refused = build_outgoing_plan(numberless, "anna", "89161234567")
    assert refused is not None and refused.final == "no_caller_id"
    refusal = reasons.final(refused.final)
    assert refusal is not None and refusal.code == 403


def test_a_document_compiled_before_outgoing_calls_routes_none():
    assert build_outgoing_plan({"company": {"id": 1}, "extensions": {}}, "anna", "89161234567") is None


def test_star_67_hides_the_caller_for_that_call_and_the_carrier_still_gets_the_number():
    anna = company(anna={"caller_id": None, "allowed": "mobile"})
    plan = build_outgoing_plan(anna, "anna", "*6789161234567")
    assert plan is not None
    assert (plan.called, plan.caller_id, plan.caller_hidden) == ("+79161234567", MOSCOW, True)

    asked = build_outgoing_plan(anna, "anna", "89161234567", hide_caller=True)
    assert asked is not None and asked.caller_hidden
    assert not build_outgoing_plan(anna, "anna", "89161234567").caller_hidden


def test_an_emergency_call_never_hides_the_caller():
    plan = build_outgoing_plan(company(), "door", "*67112")
    assert plan is not None
    assert (plan.called, plan.caller_hidden) == ("112", False)


@pytest.mark.parametrize(
    ("header", "hidden"),
    [(None, False), ("", False), ("none", False), ("id", True), ("header; id", True), ("User", True)],
)
def test_a_phones_privacy_header_asks_to_hide_it(header, hidden):
    assert privacy_requested(header) is hidden


def test_star_81_and_digits_show_the_company_number_ending_in_them_for_that_call():
    anna = company(anna={"caller_id": None, "allowed": "mobile"})
    plan = build_outgoing_plan(anna, "anna", "*810042*89161234567")
    assert plan is not None
    assert (plan.called, plan.caller_id, plan.final) == ("+79161234567", SALES_LINE, None)

    hidden = build_outgoing_plan(anna, "anna", "*67*810042*89161234567")
    assert hidden is not None and (hidden.caller_id, hidden.caller_hidden) == (SALES_LINE, True)


def test_digits_that_name_no_single_company_number_are_refused():
    anna = company(anna={"caller_id": None, "allowed": "mobile"})
    twins = company(anna={"caller_id": None, "allowed": "mobile"})
    twins["outgoing"]["numbers"] = ["+74951110042", "+74952220042"]
    for document, ending in ((anna, "7777"), (twins, "0042")):
        plan = build_outgoing_plan(document, "anna", f"*81{ending}*89161234567")
        assert plan is not None and (plan.steps, plan.final) == ((), "no_such_caller_id")
    refusal = reasons.final("no_such_caller_id")
    assert refusal is not None and refusal.code == 403


def test_an_employees_own_permission_wins_else_the_widest_department_else_mobile():
    from vpbx.routing.outbound import effective_permission

    assert effective_permission("local", ["international"]) == "local"
    assert effective_permission(None, ["internal", "international", "national"]) == "international"
    assert effective_permission(None, []) == "mobile"


def test_star_81_chooses_only_among_the_numbers_the_caller_may_show():
    document = company(anna={"caller_id": None, "allowed": "mobile", "choices": [MOSCOW]})
    refused = build_outgoing_plan(document, "anna", f"*81{SALES_LINE[-4:]}*89161234567")
    assert refused is not None and refused.final == "no_such_caller_id"
    chosen = build_outgoing_plan(document, "anna", f"*81{MOSCOW[-4:]}*89161234567")
    assert chosen is not None and chosen.caller_id == MOSCOW
