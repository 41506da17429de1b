from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from vpbx.routing import Call, Plan, Step, Target, build_direct_plan, build_plan
from vpbx.routing.department_state import DepartmentState, plans_vary_per_call, stateful_departments
from vpbx.routing.plan import (
    HeldStep,
    build_department_callback_plan,
    build_direct_forward_plan,
    build_ivr_key_plan,
    build_scheme_plan,
    held_ivr_key,
    held_scheme_steps,
    ivr_menu_keys,
)

CALL = Call(
    call_id="c1",
    called="+74951112233",
    caller="+79161234567",
    source="trunk",
    at=datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
)


def employee(extension, name):
    return {
        "kind": "employee",
        "employee": {"id": int(extension), "name": name, "extension": extension, "login": f"u{extension}"},
    }


def scheme(name, *steps, active=None, backup=None):
    return {"id": 1, "name": name, "steps": list(steps), "active": active, "backup": backup}


def document(*steps, mode="always", schedule=None, working=None, off_hours=None):
    return {
        "schema": 2,
        "version": 1,
        "number": "+74951112233",
        "company": {"id": 7, "name": "Demo", "domain": "demo.vpbx.test", "timezone": "Europe/Moscow"},
        "mode": mode,
        "schedule": schedule,
        "working": working or scheme("Main", *steps),
        "off_hours": off_hours,
    }


def test_parallel_step_rings_every_employee_at_their_company_domain():
    plan = build_plan(
        document(
            {"mode": "parallel", "timeout": 30, "destinations": [employee("101", "Anna"), employee("102", "Boris")]}
        ),
        CALL,
    )

    assert plan.steps == (
        Step(
            "parallel",
            30,
            (
                Target("sip:u101@demo.vpbx.test", True, "employee 101 Anna", employee_id=101),
                Target("sip:u102@demo.vpbx.test", True, "employee 102 Boris", employee_id=102),
            ),
            scheme_step=1,
        ),
    )
    assert "step 1: ring employee 101 Anna" in plan.reasons


def test_steps_keep_their_order_mode_and_timeout():
    plan = build_plan(
        document(
            {"mode": "sequential", "timeout": 20, "destinations": [employee("101", "Anna")]},
            {"mode": "parallel", "timeout": 45, "destinations": [employee("102", "Boris")]},
        ),
        CALL,
    )

    assert [(s.mode, s.timeout, [t.uri for t in s.targets]) for s in plan.steps] == [
        ("sequential", 20, ["sip:u101@demo.vpbx.test"]),
        ("parallel", 45, ["sip:u102@demo.vpbx.test"]),
    ]


def test_destinations_vpbx_handles_itself_have_their_place_in_the_plan_as_nodes():
    plan = build_plan(
        document(
            {"mode": "parallel", "timeout": 15, "destinations": [{"kind": "voicemail", "voicemail_box_id": 3}]},
            {"mode": "parallel", "timeout": 30, "destinations": [employee("101", "Anna")]},
            {
                "mode": "parallel",
                "timeout": 30,
                "destinations": [{"kind": "ivr", "ivr_menu_id": 2}, {"kind": "responsible_manager"}],
            },
        ),
        CALL,
    )

    assert [[t.node for t in s.targets] for s in plan.steps] == [
        ["voicemail:3"],
        [None],
        ["ivr:2", "responsible_manager"],
    ]
    assert plan.steps[0].targets[0].uri == "sip:voicemail-3@media.invalid"
    assert "step 1: voicemail box 3: the media app records the message (R11)" in plan.reasons


def test_an_unknown_kind_is_skipped_with_a_reason_not_an_error():
    plan = build_plan(
        document(
            {"mode": "parallel", "timeout": 15, "destinations": [{"kind": "telex"}]},
            {"mode": "parallel", "timeout": 30, "destinations": [employee("101", "Anna")]},
        ),
        CALL,
    )

    assert [t.uri for s in plan.steps for t in s.targets] == ["sip:u101@demo.vpbx.test"]
    assert "step 1: destination kind 'telex' is unknown, skipped" in plan.reasons
    assert "step 1: nobody to ring, skipped" in plan.reasons


def test_a_number_without_steps_gives_an_empty_plan_that_says_why():
    plan = build_plan(document(), CALL)

    assert plan.steps == ()
    assert plan.reasons[-1] == "no step has anybody to ring: the call is missed"


OFFICE = {"name": "Office", "timezone": "Europe/Moscow", "weekly": [[d, 540, 1080] for d in range(5)], "exceptions": []}
SALES = {"mode": "parallel", "timeout": 30, "destinations": [employee("101", "Anna")]}
NIGHT = {"mode": "parallel", "timeout": 15, "destinations": [{"kind": "sip_uri", "uri": "sip:vm@example.com"}]}
MONDAY_NOON = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 12:00 in Moscow
MONDAY_NIGHT = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)  # 23:00 in Moscow


def _at(moment):
    return Call("c5", "+74951112233", "+79161234567", "trunk", moment)


def test_by_schedule_the_working_scheme_rings_in_office_hours():
    plan = build_plan(
        document(mode="by_schedule", schedule=OFFICE, working=scheme("Sales", SALES), off_hours=scheme("Night", NIGHT)),
        _at(MONDAY_NOON),
    )

    assert [t.uri for t in plan.steps[0].targets] == ["sip:u101@demo.vpbx.test"]
    assert "schedule 'Office' is open on Mon 2026-11-23 12:00 Europe/Moscow: Mon 09:00-18:00" in plan.reasons
    assert "scheme 'Sales'" in plan.reasons


def test_by_schedule_the_off_hours_scheme_rings_at_night():
    plan = build_plan(
        document(mode="by_schedule", schedule=OFFICE, working=scheme("Sales", SALES), off_hours=scheme("Night", NIGHT)),
        _at(MONDAY_NIGHT),
    )

    assert [t.uri for t in plan.steps[0].targets] == ["sip:vm@example.com"]
    assert "off hours: the off-hours scheme applies" in plan.reasons
    assert "scheme 'Night'" in plan.reasons


def test_a_scheme_outside_its_active_hours_gives_way_to_its_backup():
    working = scheme("Weekdays", SALES, active=OFFICE, backup=scheme("Backup", NIGHT))

    plan = build_plan(document(working=working), _at(MONDAY_NIGHT))

    assert [t.uri for t in plan.steps[0].targets] == ["sip:vm@example.com"]
    assert "scheme 'Weekdays' is not active now: its backup 'Backup' applies" in plan.reasons


def test_no_applicable_scheme_means_a_missed_call():
    plan = build_plan(document(working=scheme("Weekdays", SALES, active=OFFICE)), _at(MONDAY_NIGHT))

    assert plan.steps == ()
    assert plan.reasons[-2:] == (
        "scheme 'Weekdays' is not active now: it has no backup",
        "no scheme applies: the call is missed",
    )


ids = st.none() | st.integers(1, 2**31)
targets = st.builds(
    Target, uri=st.text(min_size=1), via_location=st.booleans(), label=st.text(), employee_id=ids, department_id=ids
)
steps = st.builds(
    Step,
    mode=st.sampled_from(["parallel", "sequential"]),
    timeout=st.integers(15, 600),
    scheme_step=st.integers(0, 20),
    targets=st.lists(targets, max_size=4).map(tuple),
)


@given(
    st.builds(Plan, steps=st.lists(steps, max_size=5).map(tuple), reasons=st.lists(st.text(), max_size=5).map(tuple))
)
def test_plan_survives_its_json_form(plan):
    # The plan travels with the SIP transaction as JSON.
    assert Plan.from_json(plan.to_json()) == plan


def test_a_phone_calling_its_company_number_does_not_ring_itself():
    call = Call("c2", "+74951112233", "u101", "phone", CALL.at, caller_aor="sip:u101@demo.vpbx.test")

    plan = build_plan(
        document(
            {"mode": "parallel", "timeout": 30, "destinations": [employee("101", "Anna"), employee("102", "Boris")]}
        ),
        call,
    )

    assert [t.uri for t in plan.steps[0].targets] == ["sip:u102@demo.vpbx.test"]
    assert "step 1: employee 101 Anna is the caller, not rung" in plan.reasons


COMPANY = {
    "schema": 1,
    "version": 1,
    "company": {"id": 7, "name": "Demo", "domain": "demo.vpbx.test", "timezone": "Europe/Moscow"},
    "extensions": {"101": employee("101", "Anna")["employee"], "102": employee("102", "Boris")["employee"]},
}


def test_dialling_an_extension_rings_that_employee_for_two_minutes():
    call = Call("c3", "102", "u101", "phone", CALL.at, caller_aor="sip:u101@demo.vpbx.test")

    plan = build_direct_plan(COMPANY, "102", call)

    assert plan.steps == (
        Step(
            "parallel",
            120,
            (Target("sip:u102@demo.vpbx.test", True, "employee 102 Boris", employee_id=102),),
            scheme_step=1,
        ),
    )


def test_dialling_an_unknown_extension_has_no_plan():
    assert build_direct_plan(COMPANY, "199", CALL) is None


def test_dialling_your_own_extension_rings_nobody():
    call = Call("c4", "101", "u101", "phone", CALL.at, caller_aor="sip:u101@demo.vpbx.test")

    plan = build_direct_plan(COMPANY, "101", call)

    assert plan.steps == ()
    assert "step 1: employee 101 Anna is the caller, not rung" in plan.reasons


def test_an_employee_on_vacation_is_skipped_at_once_and_the_next_one_rings():
    away = employee("101", "Anna")
    away["employee"]["absences"] = [["vacation", "2026-11-20", "2026-11-30"]]

    plan = build_plan(
        document({"mode": "parallel", "timeout": 30, "destinations": [away, employee("102", "Boris")]}), CALL
    )

    assert [t.uri for t in plan.steps[0].targets] == ["sip:u102@demo.vpbx.test"]
    assert "step 1: skip employee 101 Anna: on vacation 2026-11-20..2026-11-30" in plan.reasons


def test_an_employee_outside_their_hours_is_skipped():
    night_owl = employee("103", "Vera")
    night_owl["employee"]["schedule"] = {
        "name": "Nights",
        "timezone": "Europe/Moscow",
        "weekly": [[d, 22 * 60, 1440] for d in range(7)],
        "exceptions": [],
    }

    plan = build_plan(document({"mode": "parallel", "timeout": 30, "destinations": [night_owl]}), _at(MONDAY_NOON))

    assert plan.steps == ()
    assert any(
        r.startswith("step 1: skip employee 103 Vera: outside personal hours (schedule 'Nights' is closed")
        for r in plan.reasons
    )


def test_a_sick_leave_ending_today_still_counts_in_the_companys_timezone():
    sick = employee("104", "Gleb")
    sick["employee"]["absences"] = [["sick_leave", "2026-11-20", "2026-11-23"]]
    # 2026-11-23 22:30 UTC is already 2026-11-24 in Moscow: back at work.
    late = _at(datetime(2026, 11, 23, 22, 30, tzinfo=UTC))

    assert build_plan(document({"mode": "parallel", "timeout": 30, "destinations": [sick]}), late).steps
    assert not build_plan(document({"mode": "parallel", "timeout": 30, "destinations": [sick]}), _at(MONDAY_NOON)).steps


def test_a_plan_cursor_survives_its_json_form_and_lists_what_remains():
    from vpbx.kamailio_adapter.execute import PlanCursor

    plan = build_plan(document(SALES, NIGHT), CALL)
    cursor = PlanCursor(plan, 1)

    again = PlanCursor.from_json(cursor.to_json())

    assert again == cursor
    assert [(i, s.timeout) for i, s in again.remaining()] == [(1, 15)]


def _direct(extension, **rule):
    company = {**COMPANY, "extensions": {k: dict(v) for k, v in COMPANY["extensions"].items()}}
    company["extensions"]["102"]["no_answer"] = {"rule": "busy", "after": 120, **rule}
    return build_direct_plan(
        company, extension, Call("c6", extension, "u101", "phone", CALL.at, caller_aor="sip:u101@demo.vpbx.test")
    )


def test_a_direct_call_nobody_answers_ends_busy_by_default():
    plan = _direct("102")

    assert [(s.timeout, [t.uri for t in s.targets]) for s in plan.steps] == [(120, ["sip:u102@demo.vpbx.test"])]
    assert plan.final == "busy"
    assert "no answer in 120 s: busy" in plan.reasons


def test_a_no_answer_rule_forwards_to_a_colleague_after_its_delay():
    plan = _direct(
        "102",
        rule="forward_employee",
        after=10,
        employee={"id": 3, "name": "Vera", "extension": "103", "login": "u103"},
    )

    assert [(s.timeout, [t.uri for t in s.targets]) for s in plan.steps] == [
        (10, ["sip:u102@demo.vpbx.test"]),
        (30, ["sip:u103@demo.vpbx.test"]),
    ]
    assert plan.final is None


def test_an_absent_employee_goes_straight_to_the_rule():
    company = {**COMPANY, "extensions": {k: dict(v) for k, v in COMPANY["extensions"].items()}}
    company["extensions"]["102"]["absences"] = [["sick_leave", "2026-11-01", "2026-11-30"]]
    company["extensions"]["102"]["no_answer"] = {
        "rule": "forward_department",
        "after": 20,
        "department": {
            "id": 1,
            "name": "Support",
            "distribution": "all_at_once",
            "ring_time": 20,
            "if_nobody_answers": "next_step",
            "voicemail_box_id": None,
            "members": [{"id": 5, "name": "Olga", "extension": "105", "login": "u105"}],
        },
    }

    plan = build_direct_plan(
        company, "102", Call("c7", "102", "u101", "phone", CALL.at, caller_aor="sip:u101@demo.vpbx.test")
    )

    assert [[t.uri for t in s.targets] for s in plan.steps] == [["sip:u105@demo.vpbx.test"]]
    assert "step 1: skip employee 102 Boris: on sick leave 2026-11-01..2026-11-30" in plan.reasons


def test_a_voicemail_rule_takes_an_unanswered_direct_call_to_the_employees_box():
    plan = _direct("102", rule="voicemail", after=10, voicemail_box_id=4)

    assert [(s.timeout, [t.node for t in s.targets]) for s in plan.steps] == [(10, [None]), (15, ["voicemail:4"])]
    assert "no answer in 10 s: voicemail box 4" in plan.reasons


def test_a_drop_with_a_message_rule_takes_the_unanswered_call_to_the_media_app():
    plan = _direct("102", rule="drop_message", after=10)

    assert [(s.timeout, [t.node for t in s.targets]) for s in plan.steps] == [(10, [None]), (15, ["no_answer:102"])]
    assert plan.final == "busy"  # the media app unreachable: the caller still hears the call end
    assert "no answer in 10 s: the media app plays a message and hangs up" in plan.reasons


VERA = {"id": 3, "name": "Vera", "extension": "103", "login": "u103"}


def test_a_forward_with_a_notice_goes_through_the_media_app_which_rings_the_colleague_on_its_own_leg():
    plan = _direct("102", rule="forward_employee", after=10, employee=VERA, notice=True)

    assert [(s.timeout, [t.node for t in s.targets]) for s in plan.steps] == [(10, [None]), (15, ["no_answer:102"])]
    company = {**COMPANY, "extensions": {k: dict(v) for k, v in COMPANY["extensions"].items()}}
    company["extensions"]["102"]["no_answer"] = {"rule": "forward_employee", "after": 10, "employee": VERA}
    leg = build_direct_forward_plan(company, 102, Call("c8", "direct-102-forward", "u101", "media", CALL.at))

    assert [(s.timeout, s.forward, [t.uri for t in s.targets]) for s in leg.steps] == [
        (30, True, ["sip:u103@demo.vpbx.test"])
    ]
    assert leg.called == "direct-102-forward"


def test_a_forward_leg_of_a_rule_no_longer_forwarding_rings_nobody():
    company = {**COMPANY, "extensions": {k: dict(v) for k, v in COMPANY["extensions"].items()}}
    company["extensions"]["102"]["no_answer"] = {"rule": "busy", "after": 10}

    assert build_direct_forward_plan(company, 102, Call("c9", "direct-102-forward", "u101", "media", CALL.at)) is None
    assert build_direct_forward_plan(company, 99, Call("c9", "direct-99-forward", "u101", "media", CALL.at)) is None


# ---- departments (R4) ---------------------------------------------------------


def department(distribution, *extensions, ring_time=10, department_id=5):
    return {
        "kind": "department",
        "department": {
            "id": department_id,
            "name": "Sales",
            "distribution": distribution,
            "ring_time": ring_time,
            "if_nobody_answers": "next_step",
            "voicemail_box_id": None,
            "members": [employee(e, f"Agent {e}")["employee"] for e in extensions],
        },
    }


def rung_order(plan):
    return [[t.uri.split("@")[0].removeprefix("sip:u") for t in s.targets] for s in plan.steps]


def test_a_department_all_at_once_rings_its_members_together_for_the_step_timeout():
    plan = build_plan(
        document({"mode": "parallel", "timeout": 30, "destinations": [department("all_at_once", "201", "202", "203")]}),
        CALL,
    )

    assert rung_order(plan) == [["201", "202", "203"]]
    assert plan.steps[0].timeout == 30
    assert {t.department_id for t in plan.steps[0].targets} == {5}


def test_a_department_in_order_rings_one_member_after_another_for_its_ring_time():
    plan = build_plan(
        document(
            {
                "mode": "parallel",
                "timeout": 30,
                "destinations": [department("in_order", "201", "202", "203", ring_time=12)],
            }
        ),
        CALL,
    )

    assert rung_order(plan) == [["201"], ["202"], ["203"]]
    assert [s.timeout for s in plan.steps] == [12, 12, 12]


def test_round_robin_starts_one_member_further_on_each_turn():
    step = {"mode": "parallel", "timeout": 30, "destinations": [department("round_robin", "201", "202", "203")]}
    firsts = [
        rung_order(build_plan(document(step), CALL, {5: DepartmentState(turn=turn)}))[0][0] for turn in range(1, 8)
    ]

    assert firsts == ["201", "202", "203", "201", "202", "203", "201"]
    assert rung_order(build_plan(document(step), CALL, {5: DepartmentState(turn=2)})) == [["202"], ["203"], ["201"]]


def test_round_robin_skips_a_member_on_vacation_without_losing_the_rotation():
    dept = department("round_robin", "201", "202", "203")
    dept["department"]["members"][1]["absences"] = [["vacation", "2026-11-01", "2026-11-30"]]
    step = {"mode": "parallel", "timeout": 30, "destinations": [dept]}

    assert rung_order(build_plan(document(step), CALL, {5: DepartmentState(turn=2)})) == [["203"], ["201"]]
    assert rung_order(build_plan(document(step), CALL, {5: DepartmentState(turn=3)})) == [["203"], ["201"]]


def test_longest_idle_rings_the_member_free_longest_first_and_members_on_a_call_last():
    now = CALL.at.timestamp()
    state = DepartmentState(
        answered={201: now - 100, 202: now - 50, 203: now - 30}, ended={201: now - 90, 203: now - 20}
    )  # 202 is still on the call
    step = {"mode": "parallel", "timeout": 30, "destinations": [department("longest_idle", "201", "202", "203")]}

    plan = build_plan(document(step), CALL, {5: state})

    assert rung_order(plan) == [["201"], ["203"], ["202"]]
    assert any("on a call: Agent 202" in r for r in plan.reasons)


def test_longest_idle_ranks_a_member_never_called_first_and_forgets_a_call_that_never_ended():
    now = CALL.at.timestamp()
    state = DepartmentState(answered={201: now - 10, 202: now - 5 * 3600}, ended={201: now - 5})
    step = {"mode": "parallel", "timeout": 30, "destinations": [department("longest_idle", "201", "202", "203")]}

    # 203 never took a call: free the longest. 202 answered 5 h ago and no end was
    # seen: idle since then, so before 201 who hung up 5 s ago.
    assert rung_order(build_plan(document(step), CALL, {5: state})) == [["203"], ["202"], ["201"]]


def test_random_order_is_a_permutation_fixed_by_the_call_id():
    step = {"mode": "parallel", "timeout": 30, "destinations": [department("random", *map(str, range(201, 211)))]}
    orders = {
        tuple(
            sum(
                rung_order(build_plan(document(step), Call(f"call-{n}", CALL.called, CALL.caller, "trunk", CALL.at))),
                [],
            )
        )
        for n in range(20)
    }

    assert all(sorted(order) == [str(e) for e in range(201, 211)] for order in orders)
    assert len(orders) > 10
    again = build_plan(document(step), Call("call-3", CALL.called, CALL.caller, "trunk", CALL.at))
    assert tuple(sum(rung_order(again), [])) in orders


def test_a_hunting_department_rings_after_what_its_parallel_step_rings_together():
    plan = build_plan(
        document(
            {
                "mode": "parallel",
                "timeout": 30,
                "destinations": [department("in_order", "201", "202"), employee("101", "Anna")],
            }
        ),
        CALL,
    )

    assert rung_order(plan) == [["101"], ["201"], ["202"]]
    assert [s.timeout for s in plan.steps] == [30, 10, 10]


def test_a_sequential_step_rings_its_destinations_one_after_another():
    plan = build_plan(
        document(
            {"mode": "sequential", "timeout": 20, "destinations": [employee("101", "Anna"), employee("102", "Boris")]}
        ),
        CALL,
    )

    assert rung_order(plan) == [["101"], ["102"]]
    assert [s.timeout for s in plan.steps] == [20, 20]


def test_stateful_departments_are_found_wherever_a_document_routes_to_them():
    doc = document(
        {"mode": "parallel", "timeout": 30, "destinations": [department("round_robin", "201")]},
        off_hours=scheme(
            "Night",
            {
                "mode": "parallel",
                "timeout": 30,
                "destinations": [
                    department("longest_idle", "202", department_id=6),
                    department("in_order", "203", department_id=7),
                ],
            },
        ),
    )

    assert stateful_departments(doc) == {5: "round_robin", 6: "longest_idle"}


def test_department_state_reads_its_redis_hash():
    state = DepartmentState.from_hash({b"turn": b"7", b"answered:201": b"100.5", b"ended:201": b"160"})

    assert state == DepartmentState(7, {201: 100.5}, {201: 160.0})
    assert state.idle_since(201, 200.0) == 160.0


# ---- phone numbers, loops and the ring time cap --------------------------------


def test_a_phone_number_rings_through_the_outbound_trunks():
    plan = build_plan(
        document(
            {"mode": "parallel", "timeout": 30, "destinations": [{"kind": "phone_number", "number": "+79165551234"}]}
        ),
        CALL,
    )

    assert plan.steps[0].targets == (
        Target("sip:+79165551234@pstn.invalid", False, "phone +79165551234", via_trunk=True),
    )


def test_a_phone_number_that_is_the_called_number_is_skipped_rather_than_looping_through_the_carrier():
    plan = build_plan(
        document(
            {"mode": "parallel", "timeout": 30, "destinations": [{"kind": "phone_number", "number": CALL.called}]}
        ),
        CALL,
    )

    assert plan.steps == ()
    assert f"step 1: skip phone {CALL.called}: it is the number being called" in plan.reasons


def test_a_call_never_rings_longer_than_the_cap_however_long_the_chain():
    steps = [{"mode": "parallel", "timeout": 250, "destinations": [employee(str(100 + n), f"E{n}")]} for n in range(5)]

    plan = build_plan(document(*steps), CALL)

    assert [s.timeout for s in plan.steps] == [250, 250, 100]
    assert "ring time cap of 600 s reached: 2 more step(s) not rung" in plan.reasons


# ---- R5: the mobile after the desk phone -----------------------------------------


def with_mobile(extension, name, after):
    data = employee(extension, name)
    data["employee"].update(mobile=f"+7916000{extension}", mobile_after=after)
    return data


def test_the_mobile_joins_the_desk_phone_after_its_delay_and_the_step_keeps_its_length():
    plan = build_plan(
        document(
            {
                "mode": "parallel",
                "timeout": 30,
                "destinations": [with_mobile("101", "Anna", 10), employee("102", "Boris")],
            }
        ),
        CALL,
    )

    assert [([t.label for t in s.targets], s.timeout, s.scheme_step) for s in plan.steps] == [
        (["employee 101 Anna", "employee 102 Boris"], 10, 1),
        (["employee 101 Anna", "employee 102 Boris", "mobile of employee 101 Anna"], 20, 1),
    ]
    assert plan.steps[1].targets[2].uri == "sip:+7916000101@pstn.invalid" and plan.steps[1].targets[2].via_trunk


def test_a_mobile_at_zero_seconds_rings_with_the_desk_phone_and_one_after_the_step_never():
    together = build_plan(
        document({"mode": "parallel", "timeout": 30, "destinations": [with_mobile("101", "Anna", 0)]}), CALL
    )
    never = build_plan(
        document({"mode": "parallel", "timeout": 30, "destinations": [with_mobile("101", "Anna", 45)]}), CALL
    )

    assert [[t.label for t in s.targets] for s in together.steps] == [
        ["employee 101 Anna", "mobile of employee 101 Anna"]
    ]
    assert [[t.label for t in s.targets] for s in never.steps] == [["employee 101 Anna"]]
    assert "step 1: mobile of employee 101 Anna would join after 45 s, the step rings 30 s" in never.reasons


def test_a_direct_call_rings_the_mobile_after_the_desk_phone_too():
    anna = with_mobile("101", "Anna", 8)["employee"]
    anna["no_answer"] = {"rule": "busy", "after": 20}
    company = {
        "company": {"id": 7, "name": "Demo", "domain": "demo.vpbx.test", "timezone": "Europe/Moscow"},
        "extensions": {"101": anna},
    }

    plan = build_direct_plan(company, "101", Call("c", "101", "u102", "phone", CALL.at, "sip:u102@demo.vpbx.test"))

    assert [(len(s.targets), s.timeout) for s in plan.steps] == [(1, 8), (2, 12)]


def test_a_department_whose_rule_is_voicemail_ends_in_its_box_before_the_next_step():
    sales = department("in_order", "201", "202", ring_time=5)
    sales["department"].update(if_nobody_answers="voicemail", voicemail_box_id=9)
    plan = build_plan(
        document(
            {"mode": "parallel", "timeout": 30, "destinations": [sales]},
            {"mode": "parallel", "timeout": 30, "destinations": [employee("101", "Anna")]},
        ),
        CALL,
    )

    assert [[t.node or t.uri for t in s.targets] for s in plan.steps] == [
        ["sip:u201@demo.vpbx.test"],
        ["sip:u202@demo.vpbx.test"],
        ["voicemail:9"],
        ["sip:u101@demo.vpbx.test"],
    ]
    assert [s.scheme_step for s in plan.steps] == [1, 1, 1, 2]
    assert "step 1: if nobody in department 'Sales' answers: voicemail box 9" in plan.reasons


def test_a_department_whose_rule_is_call_back_later_promises_the_callback_before_the_next_step():
    sales = department("all_at_once", "201", "202")
    sales["department"]["if_nobody_answers"] = "call_back_later"
    plan = build_plan(
        document(
            {"mode": "parallel", "timeout": 20, "destinations": [sales]},
            {"mode": "parallel", "timeout": 30, "destinations": [employee("101", "Anna")]},
        ),
        CALL,
    )

    assert [[t.node or t.uri for t in s.targets] for s in plan.steps] == [
        ["sip:u201@demo.vpbx.test", "sip:u202@demo.vpbx.test"],
        ["department_callback:5"],
        ["sip:u101@demo.vpbx.test"],
    ]
    assert plan.steps[1].targets[0].uri == "sip:department-callback-5@media.invalid"
    assert (
        "step 1: if nobody in department 'Sales' answers: "
        "the media app promises a callback (to a caller with a phone number)"
    ) in plan.reasons
    assert held_ivr_key(sales) == HeldStep(rings=True, voicemail_box_id=None, callback_department_id=5)


def test_a_department_callback_rings_every_member_on_duty_at_once_whatever_its_distribution():
    sales = department("in_order", "201", "202", "203", ring_time=5)["department"]
    sales["members"][1]["absences"] = [["vacation", "2026-11-20", "2026-11-30"]]
    directory = {"company": COMPANY["company"], "departments": {"5": sales}}
    call = Call("callback-1", "+79161234567", "+79161234567", "media", CALL.at)

    plan = build_department_callback_plan(directory, 5, "+79161234567", call, None)

    assert [(s.timeout, [t.employee_id for t in s.targets]) for s in plan.steps] == [(30, [201, 203])]
    assert (plan.called, plan.answer_is_the_calls) == ("+79161234567", False)
    assert build_department_callback_plan(directory, 6, "+79161234567", call, None) is None
    sales["members"] = [sales["members"][1]]  # nobody on duty: nothing rings
    assert build_department_callback_plan(directory, 5, "+79161234567", call, None).steps == ()


def test_an_ivr_keys_leg_rings_its_destination_and_leaves_voicemail_to_the_media_app():
    sales = department("in_order", "201", "202", ring_time=8)
    sales["department"].update(if_nobody_answers="voicemail", voicemail_box_id=9)
    company = {**COMPANY, "ivr_keys": {"5-2": sales, "5-star": employee("101", "Anna")}}
    call = Call("leg-1", "ivr-5-2", "79161234567", "media", CALL.at)

    plan = build_ivr_key_plan(company, 5, "2", call)

    assert rung_order(plan) == [["201"], ["202"]]
    assert (plan.company_id, plan.called, plan.domain) == (7, "ivr-5-2", "demo.vpbx.test")
    assert "the media app takes the caller on if nobody answers" in plan.reasons
    assert [s.timeout for s in build_ivr_key_plan(company, 5, "*", call).steps] == [60]
    assert build_ivr_key_plan(company, 5, "3", call) is None


def test_routing_tells_the_media_app_where_a_key_leads_when_nobody_answers():
    sales = department("in_order", "201", ring_time=8)
    sales["department"].update(if_nobody_answers="voicemail", voicemail_box_id=9)
    support = department("all_at_once", "202")
    support["department"].update(if_nobody_answers="busy", voicemail_box_id=4)
    box = {"kind": "voicemail", "voicemail_box_id": 3}

    assert held_ivr_key(sales) == HeldStep(rings=True, voicemail_box_id=9)
    assert held_ivr_key(support) == HeldStep(rings=True, voicemail_box_id=None)
    assert held_ivr_key(employee("101", "Anna")) == HeldStep(rings=True, voicemail_box_id=None)
    assert held_ivr_key(box) == HeldStep(rings=False, voicemail_box_id=3)
    assert held_ivr_key({"kind": "webhook", "webhook_id": 2}) == HeldStep(rings=False, voicemail_box_id=None)


def test_a_menus_keys_come_from_the_company_document_and_only_ringing_keys_get_a_leg():
    box = {"kind": "voicemail", "voicemail_box_id": 3}
    company = {
        **COMPANY,
        "ivr_keys": {"5-1": box, "5-star": employee("101", "Anna"), "5-timeout": box, "15-1": employee("102", "Boris")},
    }

    assert ivr_menu_keys(company, 5) == {"1": box, "*": employee("101", "Anna"), "timeout": box}
    assert ivr_menu_keys(company, 15) == {"1": employee("102", "Boris")}
    assert ivr_menu_keys(company, 6) == {}
    call = Call("leg-1", "ivr-5-1", "79161234567", "media", CALL.at)
    assert build_ivr_key_plan(company, 5, "1", call) is None  # voicemail stays with the media app


def test_the_steps_of_an_announced_scheme_say_who_rings_and_which_voicemail_follows():
    sales = department("in_order", "201", ring_time=8)
    sales["department"].update(if_nobody_answers="voicemail", voicemail_box_id=9)
    box = {"kind": "voicemail", "voicemail_box_id": 3}
    announced = scheme(
        "Greeted",
        {"mode": "parallel", "timeout": 30, "destinations": [employee("101", "Anna")]},
        {"mode": "parallel", "timeout": 30, "destinations": [employee("102", "Boris"), box]},
        {"mode": "parallel", "timeout": 30, "destinations": [sales, box]},
        {"mode": "parallel", "timeout": 15, "destinations": [box]},
    )
    directory = {"company": COMPANY["company"], "schemes": {"1": announced}}

    assert held_scheme_steps(directory, 1) == (
        HeldStep(True, None),
        HeldStep(True, 3),
        HeldStep(True, 9),  # the department's own rule comes first, in the step's order
        HeldStep(False, 3),
    )
    assert held_scheme_steps(directory, 2) is None


def test_a_scheme_with_announcements_is_answered_by_the_media_app_which_then_rings_its_steps():
    announced = {
        **scheme(
            "Greeted",
            {"mode": "parallel", "timeout": 30, "destinations": [employee("101", "Anna")]},
            {"mode": "parallel", "timeout": 15, "destinations": [{"kind": "voicemail", "voicemail_box_id": 3}]},
        ),
        "announced": True,
    }

    plan = build_plan(document(working=announced), CALL)

    assert [[t.node for t in s.targets] for s in plan.steps] == [["announce:1"]]
    assert plan.steps[0].targets[0].uri == "sip:announce-1@media.invalid"
    directory = {"company": document()["company"], "schemes": {"1": announced}}
    leg = build_scheme_plan(directory, 1, 1, Call("leg-2", "scheme-1-1", "79161234567", "media", CALL.at))
    # The media app rings a step per leg; voicemail stays with the media app.
    assert [[t.uri for t in s.targets] for s in leg.steps] == [["sip:u101@demo.vpbx.test"]]
    assert leg.called == "scheme-1-1"
    assert build_scheme_plan(directory, 1, 2, Call("leg-3", "scheme-1-2", "7916", "media", CALL.at)).steps == ()
    assert build_scheme_plan(directory, 1, 3, Call("leg-4", "scheme-1-3", "7916", "media", CALL.at)) is None


@given(
    distribution=st.sampled_from(["all_at_once", "in_order", "round_robin", "random", "longest_idle"]),
    call_id=st.text(min_size=1, max_size=20),
    caller=st.from_regex(r"\+7916[0-9]{7}", fullmatch=True),
    second=st.integers(0, 59),
    turn=st.integers(0, 50),
)
def test_a_document_whose_plans_do_not_vary_per_call_plans_every_call_of_a_minute_alike(
    distribution, call_id, caller, second, turn
):
    # The Kamailio worker keeps such plans for the minute (worker.py: Worker._kept).
    step = {"mode": "parallel", "timeout": 30, "destinations": [department(distribution, "201", "202", "203")]}
    doc = document(step, {"mode": "parallel", "timeout": 20, "destinations": [employee("101", "Anna")]})
    state = {5: DepartmentState(turn=turn, answered={201: CALL.at.timestamp() - 60})}
    first = build_plan(doc, CALL, state)
    later = build_plan(doc, Call(call_id, CALL.called, caller, "trunk", CALL.at.replace(second=second)), state)

    assert plans_vary_per_call(doc) == (distribution in ("round_robin", "random", "longest_idle"))
    if not plans_vary_per_call(doc):
        assert later == first
        assert later.to_json() == first.to_json()


def test_a_hunt_longer_than_kamailio_forks_stops_where_the_call_runs_out_of_branches_and_says_so():
    extensions = [str(e) for e in range(201, 241)]  # 40 members
    hunt = build_plan(
        document({"mode": "parallel", "timeout": 30, "destinations": [department("in_order", *extensions)]}), CALL
    )
    together = build_plan(
        document({"mode": "parallel", "timeout": 30, "destinations": [department("all_at_once", *extensions)]}), CALL
    )

    assert rung_order(hunt) == [[e] for e in extensions[:30]]
    assert "a call rings at most 30 phones in all (Kamailio's limit per call): 10 more step(s) not rung" in hunt.reasons
    assert rung_order(together) == [extensions[:30]]
    assert any("10 of step 1's 40 not rung" in r for r in together.reasons)
