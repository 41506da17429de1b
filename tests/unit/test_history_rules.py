"""R19 history lines from call events, and the event batches Kamailio writes."""

import json
from datetime import UTC, datetime

from vpbx.history import events
from vpbx.history.rules import answered_line, missed_line
from vpbx.kamailio_adapter import call_events
from vpbx.kamailio_adapter.execute import REQUEST_URI, PlanCursor
from vpbx.routing import Plan, Step, Target

ANNA = {"step": 1, "target": "employee 101 Anna", "employee_id": 1, "department_id": None, "rang_at": "t1"}
BORIS = {"step": 2, "target": "employee 102 Boris", "employee_id": 2, "department_id": None, "rang_at": "t2"}


def _call(dialled=None):
    return {
        "company_id": 7,
        "dialled_employee_id": dialled,
        "dialled_employee_label": "employee 101 Anna" if dialled else None,
    }


def test_answered_at_the_first_step_is_a_call_to_whoever_answered():
    line = answered_line({"call": _call(), "legs": [ANNA], "answered": ANNA})
    assert (line.status, line.employee_id, line.forwarded) == ("answered", 1, False)


def test_answered_after_a_forward_is_a_forwarded_call_to_whoever_answered():
    line = answered_line({"call": _call(dialled=1), "legs": [ANNA, BORIS], "answered": BORIS})
    assert (line.status, line.employee_id, line.employee_label, line.forwarded) == (
        "answered",
        2,
        "employee 102 Boris",
        True,
    )


def test_a_call_voicemail_answered_is_missed_by_the_employee_dialled():
    box = {
        "step": 2,
        "target": "voicemail box 4",
        "employee_id": None,
        "department_id": None,
        "rang_at": "t2",
        "node": "voicemail:4",
    }
    line = answered_line({"call": _call(dialled=1), "legs": [ANNA, box], "answered": box})
    assert (line.status, line.employee_id, line.end_reason) == ("missed", 1, "no_answer")


def test_a_direct_call_the_no_answer_rule_answered_is_missed_by_the_employee_dialled():
    rule = {"step": 2, "target": "the no-answer rule", "employee_id": None, "department_id": None, "rang_at": "t2"}
    rule["node"] = "no_answer:1"
    line = answered_line({"call": _call(dialled=1), "legs": [ANNA, rule], "answered": rule})
    assert (line.status, line.employee_id, line.forwarded, line.end_reason) == ("missed", 1, True, "no_answer")


def test_a_direct_call_missed_after_a_forward_is_missed_by_the_employee_dialled():
    line = missed_line({"call": _call(dialled=1), "legs": [ANNA, BORIS], "reason": "no_answer"})
    assert (line.status, line.employee_id, line.forwarded, line.end_reason) == ("missed", 1, True, "no_answer")


def test_a_direct_call_to_someone_away_is_still_missed_by_them():
    line = missed_line({"call": _call(dialled=1), "legs": [], "reason": "nobody_to_ring"})
    assert (line.employee_id, line.employee_label) == (1, "employee 101 Anna")


def test_a_missed_call_to_a_number_is_missed_by_nobody_in_particular():
    line = missed_line({"call": _call(), "legs": [ANNA], "reason": "caller_cancelled"})
    assert (line.employee_id, line.forwarded) == (None, False)


def test_why_a_call_was_missed_follows_its_final_status():
    assert events.missed_reason(487, cancelled=True) == "caller_cancelled"
    assert [events.missed_reason(code, cancelled=False) for code in (486, 600, 408, 480, 487, 503, 404)] == [
        "busy",
        "busy",
        "no_answer",
        "no_answer",
        "no_answer",
        "rejected",
        "rejected",
    ]


def test_a_batch_entry_gives_its_events_back_in_order():
    batch = [f'{{"n": {n}}}' for n in range(12)]
    entry = {k.encode(): v.encode() for k, v in events.entry(batch).items()}
    assert events.from_entry(entry) == [b.encode() for b in batch]


def test_an_answer_completed_as_kamailio_does_names_the_leg_that_answered():
    anna = Target("sip:101@demo", True, "employee 101 Anna", employee_id=1)
    boris = Target("sip:102@demo", True, "employee 102 Boris", employee_id=2)
    vera = Target("sip:103@demo", True, "employee 103 Vera", employee_id=3)
    plan = Plan((Step("parallel", 30, (anna,)), Step("parallel", 30, (boris, vera))), ())
    at = datetime(2026, 11, 23, tzinfo=UTC).isoformat()
    first = PlanCursor(plan, 0, call={"company_id": 7}).ringing(0, [(REQUEST_URI, 0)], at)
    # Step two: Vera registered twice (the R-URI and a branch), Boris once.
    cursor = PlanCursor.from_json(first.ringing(1, [(REQUEST_URI, 1), (0, 1), (1, 0)], at).to_json())

    assert [leg["target"] for leg in cursor.legs] == ["employee 101 Anna", "employee 102 Boris", "employee 103 Vera"]
    assert cursor.step_legs == {0: 1, 1: 2}
    # kamailio.cfg: prefix + (branch flags >> LEG_FLAGS_SHIFT) - 1 + ',"at":' + $TV(Sn) + '}'
    event = json.loads(call_events.answer_prefix("c1", cursor) + str(cursor.step_legs[1]) + ',"at":1795400000.123456}')
    assert events.answered_leg(event)["employee_id"] == 3
    assert events.event_time(event["at"]) == datetime(2026, 11, 23, 2, 13, 20, 123456, tzinfo=UTC)
    assert answered_line(event).employee_label == "employee 103 Vera"
    assert call_events.answer_prefix("c1", PlanCursor(plan, 0)) is None  # no company's call: no history


def test_an_answer_queued_by_the_previous_version_still_names_its_leg():
    leg = {"step": 1, "target": "employee 101 Anna", "employee_id": 1, "department_id": None, "rang_at": None}
    assert events.answered_leg({"legs": [leg], "answered": leg}) == leg
