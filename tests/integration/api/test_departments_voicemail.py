"""Departments (R4) and voicemail boxes (R11) through the API."""

import pytest

from .conftest import error_fields


def test_a_department_keeps_its_members_in_order(client, admin, created, make_employee, post):
    a, b, c = make_employee(), make_employee(), make_employee()

    department = post(
        "departments",
        {"name": "Sales", "distribution": "in_order", "ring_time": 15, "members": [c["id"], a["id"], b["id"]]},
    )

    assert department["members"] == [c["id"], a["id"], b["id"]]
    assert (department["distribution"], department["ring_time"], department["if_nobody_answers"]) == (
        "in_order",
        15,
        "next_step",
    )


@pytest.mark.parametrize(
    "body, field, reason",
    [
        ({"members": [99999999]}, "members", {"0": ["no employee 99999999 in this company"]}),
        (
            {"distribution": "loudest"},
            "distribution",
            ["Must be one of: all_at_once, in_order, round_robin, random, longest_idle."],
        ),
        ({"ring_time": 2}, "ring_time", ["Must be greater than or equal to 5 and less than or equal to 300."]),
        ({"if_nobody_answers": "voicemail"}, "voicemail_box_id", ["'voicemail' needs a voicemail box"]),
    ],
    ids=["stranger", "rule", "ring-time", "voicemail-without-box"],
)
def test_a_bad_department_is_refused(client, admin, body, field, reason):
    response = client.post("/api/v1/departments", headers=admin, json={"name": "Bad", **body})

    assert response.status_code == 422
    assert error_fields(response)[field] == reason


def test_a_voicemail_recipient_without_email_is_refused_with_the_reason(client, admin, make_employee):
    no_email = make_employee(name="Ivan Petrov")

    response = client.post(
        "/api/v1/voicemail-boxes",
        headers=admin,
        json={"name": "Sales box", "recipients": [{"employee_id": no_email["id"]}]},
    )

    assert response.status_code == 422
    assert error_fields(response) == {
        "recipients": {
            "0": {
                "employee_id": [
                    "Ivan Petrov has no email address: add one to their profile or choose another recipient"
                ]
            }
        }
    }


def test_a_department_recipient_needs_a_member_with_email(client, admin, created, make_employee, post):
    department = post("departments", {"name": "Silent", "members": [make_employee()["id"]]})

    response = client.post(
        "/api/v1/voicemail-boxes",
        headers=admin,
        json={"name": "Silent box", "recipients": [{"department_id": department["id"]}]},
    )

    assert response.status_code == 422
    assert error_fields(response) == {
        "recipients": {"0": {"department_id": ["no member of Silent has an email address"]}}
    }


def test_a_box_needs_someone_to_tell(client, admin):
    response = client.post("/api/v1/voicemail-boxes", headers=admin, json={"name": "Nobody"})

    assert error_fields(response) == {"recipients": ["a voicemail box needs a recipient or an extra email"]}


def test_a_department_and_its_box_route_as_destinations(client, admin, created, make_employee, demo, post):
    member = make_employee(name="Olga", email="olga@example.com")
    box = post(
        "voicemail-boxes",
        {"name": "Support box", "recipients": [{"employee_id": member["id"]}], "extra_email": "desk@example.com"},
    )
    department = post(
        "departments",
        {"name": "Support", "members": [member["id"]], "if_nobody_answers": "voicemail", "voicemail_box_id": box["id"]},
    )
    scheme = post(
        "schemes",
        {
            "name": "Support line",
            "steps": [
                {
                    "mode": "parallel",
                    "timeout": 30,
                    "destinations": [{"kind": "department", "department_id": department["id"]}],
                },
                {
                    "mode": "parallel",
                    "timeout": 15,
                    "destinations": [{"kind": "voicemail", "voicemail_box_id": box["id"]}],
                },
            ],
        },
    )
    response = client.post("/api/v1/numbers", headers=admin, json={"number": "+74955550101", "scheme_id": scheme["id"]})
    assert response.status_code == 201
    created.insert(0, "/api/v1/numbers/+74955550101")

    plan = client.get("/api/v1/numbers/+74955550101/route", headers=admin).get_json()

    # Step 1's department ends in its box (its own rule, R4); step 2 names the box again.
    assert [t["label"] for s in plan["steps"] for t in s["targets"]] == [
        f"employee {member['extension']} Olga",
        f"voicemail box {box['id']}",
        f"voicemail box {box['id']}",
    ]
    assert plan["steps"][1]["targets"][0]["node"] == f"voicemail:{box['id']}"
    assert "step 1: department 'Support' (all_at_once): 1 member(s)" in plan["reasons"]
    assert f"step 1: if nobody in department 'Support' answers: voicemail box {box['id']}" in plan["reasons"]
    in_use = client.delete(f"/api/v1/voicemail-boxes/{box['id']}", headers=admin)
    assert error_fields(in_use) == {"id": ["in use by department 'Support', scheme 'Support line': change them first"]}


def test_another_company_cannot_reach_departments_or_boxes(client, admin, created, make_employee, other_company, post):
    member = make_employee(email="m@example.com")
    department = post("departments", {"name": "Private", "members": [member["id"]]})
    box = post("voicemail-boxes", {"name": "Private box", "recipients": [{"employee_id": member["id"]}]})
    stranger = other_company["headers"]
    valid = {
        f"/api/v1/departments/{department['id']}": {"name": "Mine"},
        f"/api/v1/voicemail-boxes/{box['id']}": {"name": "Mine", "extra_email": "x@example.com"},
    }

    for url, body in valid.items():
        assert client.get(url, headers=stranger).status_code == 404
        assert client.put(url, headers=stranger, json=body).status_code == 404
        assert client.delete(url, headers=stranger).status_code == 404
    steal = client.post(
        "/api/v1/schemes",
        headers=stranger,
        json={
            "name": "Steal",
            "steps": [
                {
                    "mode": "parallel",
                    "timeout": 30,
                    "destinations": [
                        {"kind": "department", "department_id": department["id"]},
                        {"kind": "voicemail", "voicemail_box_id": box["id"]},
                    ],
                }
            ],
        },
    )
    assert error_fields(steal) == {
        "steps": {
            "0": {
                "destinations": {
                    "0": {"department_id": [f"no department {department['id']} in this company"]},
                    "1": {"voicemail_box_id": [f"no voicemail box {box['id']} in this company"]},
                }
            }
        }
    }
    assert client.get(f"/api/v1/departments/{department['id']}", headers=admin).get_json()["name"] == "Private"
