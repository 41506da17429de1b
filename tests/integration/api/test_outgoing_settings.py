"""Who may call outside, and as which number (R20): the API's side."""

from __future__ import annotations

import json
import secrets

import pytest
import redis

from vpbx.documents import company_key

from .conftest import error_fields


def _callers(cfg) -> dict:
    raw = redis.Redis.from_url(cfg.redis_url).get(company_key("demo.vpbx.test"))
    return json.loads(raw.partition(b" ")[2])["outgoing"]["callers"]


def test_an_employee_may_call_domestic_numbers_by_default_shown_as_the_company(client, admin, cfg, demo, make_employee):
    employee = make_employee()
    assert (employee["outgoing_calls"], employee["caller_id"]) == (None, None)  # their departments', else defaults
    assert _callers(cfg)[employee["sip_login"]] == {"caller_id": None, "allowed": "mobile", "choices": [demo["number"]]}


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

    assert _callers(cfg)[employee["sip_login"]] == {
        "caller_id": demo["number"],
        "allowed": "international",
        "choices": [demo["number"]],
    }


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


@pytest.fixture
def second_number(client, admin):
    scheme_id = client.get("/api/v1/schemes", headers=admin).get_json()[0]["id"]
    number = f"+7495777{secrets.randbelow(10_000):04d}"
    response = client.post("/api/v1/numbers", headers=admin, json={"number": number, "scheme_id": scheme_id})
    assert response.status_code == 201, response.get_json()
    yield number
    client.delete(f"/api/v1/numbers/{number}", headers=admin)


def test_a_department_gives_members_without_settings_of_their_own_its_permission_and_caller_id(
    client, admin, cfg, demo, make_employee, second_number
):
    plain, own = make_employee(), make_employee(outgoing_calls="local", caller_id=demo["number"])
    response = client.post(
        "/api/v1/departments",
        headers=admin,
        json={
            "name": "Export desk",
            "members": [plain["id"], own["id"]],
            "outgoing_calls": "international",
            "caller_id": second_number,
        },
    )
    assert response.status_code == 201, response.get_json()
    department = response.get_json()
    try:
        assert (department["outgoing_calls"], department["caller_id"]) == ("international", second_number)
        callers = _callers(cfg)
        # A member without settings of their own takes the department's...
        assert callers[plain["sip_login"]] == {
            "caller_id": second_number,
            "allowed": "international",
            "choices": [second_number, demo["number"]],
        }
        # ...one with their own keeps them, and may still show the department's number for one call.
        assert callers[own["sip_login"]] == {
            "caller_id": demo["number"],
            "allowed": "local",
            "choices": [demo["number"], second_number],
        }
        # A second department that allows less: the widest of the two counts.
        response = client.post(
            "/api/v1/departments",
            headers=admin,
            json={"name": "Reception desk", "members": [plain["id"]], "outgoing_calls": "internal"},
        )
        assert response.status_code == 201, response.get_json()
        assert _callers(cfg)[plain["sip_login"]]["allowed"] == "international"
        client.delete(f"/api/v1/departments/{response.get_json()['id']}", headers=admin)
    finally:
        client.delete(f"/api/v1/departments/{department['id']}", headers=admin)
    assert _callers(cfg)[plain["sip_login"]]["allowed"] == "mobile"  # the department gone: the default again


def test_a_departments_caller_id_must_be_a_company_number(client, admin, other_company, demo):
    response = client.post(
        "/api/v1/departments", headers=other_company["headers"], json={"name": "Sneaky", "caller_id": demo["number"]}
    )
    assert response.status_code == 422
    assert error_fields(response) == {"caller_id": [f"{demo['number']} is not a number of this company"]}


def test_every_employee_can_list_the_feature_codes_their_phone_dials(client, make_employee, token_for):
    employee = make_employee(role="limited")
    response = client.get("/api/v1/feature-codes", headers=token_for(employee["id"]))
    assert response.status_code == 200
    codes = {c["code"]: c["feature"] for c in response.get_json()}
    assert codes == {
        "*78": "dnd_on",
        "*79": "dnd_off",
        "*72<number>": "forward_on",
        "*73": "forward_off",
        "*97": "voicemail",
        "*45": "agent_login",
        "*46": "agent_logout",
        "*47": "agent_pause",
        "*48": "agent_unpause",
    }
