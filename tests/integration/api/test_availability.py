"""Employee availability (R3) and the direct-call no-answer rule (R15) through the API."""

import pytest

from ...clock import day, noon
from .conftest import error_fields


@pytest.fixture
def away_and_desk(client, admin, make_employee):
    """A number whose one step rings employee "Away" and a desk phone together."""
    away = make_employee(name="Away")
    scheme = client.post(
        "/api/v1/schemes",
        headers=admin,
        json={
            "name": "With Away",
            "steps": [
                {
                    "mode": "parallel",
                    "timeout": 30,
                    "destinations": [
                        {"kind": "employee", "employee_id": away["id"]},
                        {"kind": "sip_uri", "uri": "sip:desk@example.com"},
                    ],
                }
            ],
        },
    )
    assert scheme.status_code == 201
    assert (
        client.post(
            "/api/v1/numbers", headers=admin, json={"number": "+74956660011", "scheme_id": scheme.get_json()["id"]}
        ).status_code
        == 201
    )
    yield away
    client.delete("/api/v1/numbers/+74956660011", headers=admin)
    client.delete(f"/api/v1/schemes/{scheme.get_json()['id']}", headers=admin)


def _route_at(client, admin, at: str) -> dict:
    return client.get("/api/v1/numbers/+74956660011/route", headers=admin, query_string={"at": at}).get_json()


def test_an_employee_on_vacation_is_skipped_in_the_explained_route(client, admin, away_and_desk, token_for):
    away = away_and_desk
    first, last = day(10), day(20)
    # Employees manage their own leave.
    response = client.post(
        f"/api/v1/employees/{away['id']}/absences",
        headers=token_for(away["id"]),
        json={"kind": "vacation", "start": first.isoformat(), "end": last.isoformat()},
    )
    assert response.status_code == 201, response.get_json()

    before, during, after = (_route_at(client, admin, noon(d)) for d in (day(9), day(15), day(21)))

    assert [t["uri"] for s in during["steps"] for t in s["targets"]] == ["sip:desk@example.com"]
    assert f"step 1: skip employee {away['extension']} Away: on vacation {first}..{last}" in during["reasons"]
    assert len(before["steps"][0]["targets"]) == 2
    assert len(after["steps"][0]["targets"]) == 2


def test_a_route_explained_for_a_past_day_still_sees_the_absence_of_that_day(client, admin, away_and_desk):
    away = away_and_desk
    first, last = day(-10), day(-5)
    assert (
        client.post(
            f"/api/v1/employees/{away['id']}/absences",
            headers=admin,
            json={"kind": "sick_leave", "start": first.isoformat(), "end": last.isoformat()},
        ).status_code
        == 201
    )

    during = _route_at(client, admin, noon(day(-7)))

    assert [t["uri"] for s in during["steps"] for t in s["targets"]] == ["sip:desk@example.com"]
    assert f"step 1: skip employee {away['extension']} Away: on sick leave {first}..{last}" in during["reasons"]


def test_overlapping_leave_is_refused(client, admin, make_employee):
    employee = make_employee()
    url = f"/api/v1/employees/{employee['id']}/absences"
    assert (
        client.post(
            url, headers=admin, json={"kind": "sick_leave", "start": "2027-03-01", "end": "2027-03-05"}
        ).status_code
        == 201
    )

    response = client.post(url, headers=admin, json={"kind": "vacation", "start": "2027-03-05", "end": "2027-03-10"})

    assert response.status_code == 422
    assert error_fields(response) == {"start": ["overlaps the sick leave 2027-03-01..2027-03-05"]}


def test_the_no_answer_rule_defaults_to_busy_after_two_minutes(make_employee):
    assert make_employee()["no_answer"] == {
        "rule": "busy",
        "after": 120,
        "employee_id": None,
        "department_id": None,
        "voicemail_box_id": None,
        "message_prompt_id": None,
        "notice": "none",
        "notice_prompt_id": None,
    }


def test_an_employee_sets_their_own_no_answer_rule(client, make_employee, token_for):
    me, colleague = make_employee(), make_employee()
    headers = token_for(me["id"])

    response = client.patch(
        f"/api/v1/employees/{me['id']}",
        headers=headers,
        json={"no_answer": {"rule": "forward_employee", "employee_id": colleague["id"]}},
    )
    partial = client.patch(f"/api/v1/employees/{me['id']}", headers=headers, json={"no_answer": {"after": 40}})

    assert response.status_code == 200, response.get_json()
    assert partial.get_json()["no_answer"] == {
        "rule": "forward_employee",
        "after": 40,
        "employee_id": colleague["id"],
        "department_id": None,
        "voicemail_box_id": None,
        "message_prompt_id": None,
        "notice": "none",
        "notice_prompt_id": None,
    }


def test_a_no_answer_rule_must_name_where_the_call_goes(client, admin, make_employee):
    me = make_employee()

    missing_target = client.patch(
        f"/api/v1/employees/{me['id']}", headers=admin, json={"no_answer": {"rule": "voicemail"}}
    )
    to_self = client.patch(
        f"/api/v1/employees/{me['id']}",
        headers=admin,
        json={"no_answer": {"rule": "forward_employee", "employee_id": me["id"]}},
    )

    assert error_fields(missing_target) == {"no_answer": {"voicemail_box_id": ["'voicemail' needs a voicemail box"]}}
    assert error_fields(to_self) == {
        "no_answer": {"employee_id": ["a call cannot be forwarded to the employee it was for"]}
    }


def test_a_rule_keeps_only_the_target_it_uses(client, admin, make_employee):
    colleague = make_employee()

    employee = make_employee(no_answer={"rule": "busy", "employee_id": colleague["id"], "department_id": 99999999})

    assert employee["no_answer"]["employee_id"] is None and employee["no_answer"]["department_id"] is None


def test_whatever_a_rule_or_a_personal_schedule_uses_cannot_be_deleted(client, admin, make_employee):
    schedule = client.post("/api/v1/schedules", headers=admin, json={"name": "Mine"}).get_json()
    target = make_employee(name="Target")
    forwarder = make_employee(
        name="Forwarder",
        schedule_id=schedule["id"],
        no_answer={"rule": "forward_employee", "employee_id": target["id"]},
    )

    gone_schedule = client.delete(f"/api/v1/schedules/{schedule['id']}", headers=admin)
    gone_target = client.delete(f"/api/v1/employees/{target['id']}", headers=admin)

    assert error_fields(gone_schedule) == {"id": ["in use by employee 'Forwarder': change them first"]}
    assert error_fields(gone_target) == {
        "id": ["the no-answer rule of Forwarder forwards to this employee: change it first"]
    }
    assert client.delete(f"/api/v1/employees/{forwarder['id']}", headers=admin).status_code == 204
    assert client.delete(f"/api/v1/schedules/{schedule['id']}", headers=admin).status_code == 204
