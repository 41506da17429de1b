"""Who may call outside, and as which number (R20): the API's side."""

from __future__ import annotations

import json

import redis

from vpbx.documents import company_key

from .conftest import error_fields


def test_an_employee_may_call_domestic_numbers_by_default_shown_as_the_company(client, admin, make_employee):
    employee = make_employee()
    assert (employee["outgoing_calls"], employee["caller_id"]) == ("mobile", None)


def test_an_employees_permission_and_caller_id_are_stored_and_compiled(client, admin, cfg, demo, make_employee):
    employee = make_employee()
    response = client.patch(
        f"/api/v1/employees/{employee['id']}",
        headers=admin,
        json={"outgoing_calls": "international", "caller_id": "8 (495) " + demo["number"][5:]},
    )
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["outgoing_calls"], response.get_json()["caller_id"]) == (
        "international",
        demo["number"],
    )

    raw = redis.Redis.from_url(cfg.redis_url).get(company_key("demo.vpbx.test"))
    document = json.loads(raw.partition(b" ")[2])
    assert document["outgoing"]["callers"][employee["sip_login"]] == {
        "caller_id": demo["number"],
        "allowed": "international",
    }
    assert document["outgoing"]["caller_id"] == demo["number"]


def test_a_permission_off_the_ladder_is_refused(client, admin, make_employee):
    employee = make_employee()
    response = client.patch(f"/api/v1/employees/{employee['id']}", headers=admin, json={"outgoing_calls": "anything"})
    assert response.status_code == 422
    assert "outgoing_calls" in error_fields(response)


def test_another_companys_number_is_never_a_caller_id(client, demo, other_company):
    response = client.patch(
        f"/api/v1/employees/{other_company['admin_id']}",
        headers=other_company["headers"],
        json={"caller_id": demo["number"]},
    )
    assert response.status_code == 422
    assert error_fields(response) == {"caller_id": [f"{demo['number']} is not a number of this company"]}

    response = client.patch("/api/v1/company", headers=other_company["headers"], json={"caller_id": demo["number"]})
    assert response.status_code == 422
    assert error_fields(response) == {"caller_id": [f"{demo['number']} is not a number of this company"]}


def test_an_employee_cannot_widen_their_own_permission(client, make_employee, token_for):
    employee = make_employee(role="user")
    response = client.patch(
        f"/api/v1/employees/{employee['id']}",
        headers=token_for(employee["id"]),
        json={"outgoing_calls": "international"},
    )
    assert response.status_code == 403
    assert error_fields(response) == {"outgoing_calls": ["only an administrator can change this"]}


def test_the_companys_region_and_caller_id(client, admin, demo):
    before = client.get("/api/v1/company", headers=admin).get_json()
    assert before["region"] == "RU"
    try:
        response = client.patch("/api/v1/company", headers=admin, json={"region": "UA", "caller_id": demo["number"]})
        assert response.status_code == 200, response.get_json()
        assert (response.get_json()["region"], response.get_json()["caller_id"]) == ("UA", demo["number"])

        response = client.patch("/api/v1/company", headers=admin, json={"region": "XX"})
        assert response.status_code == 422
        assert error_fields(response) == {"region": ["not a region code (ISO 3166, e.g. RU)"]}
    finally:
        client.patch("/api/v1/company", headers=admin, json={"region": "RU", "caller_id": before["caller_id"]})
