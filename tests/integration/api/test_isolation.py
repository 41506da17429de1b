"""A token of one company can never read or change another company's data."""

import pytest

from .conftest import error_fields


@pytest.fixture(scope="module")
def demo_ids(app, admin, demo):
    client = app.test_client()
    employees = client.get("/api/v1/employees", headers=admin).get_json()
    schemes = client.get("/api/v1/schemes", headers=admin).get_json()
    return {"employee": employees[0]["id"], "scheme": schemes[0]["id"], "number": demo["number"]}


def _requests(ids):
    employee, scheme, number = ids["employee"], ids["scheme"], ids["number"]
    step = {"mode": "parallel", "timeout": 30, "destinations": [{"kind": "sip_uri", "uri": "sip:x@example.com"}]}
    return [
        ("get", f"/api/v1/employees/{employee}", None),
        ("patch", f"/api/v1/employees/{employee}", {"name": "Taken Over"}),
        ("delete", f"/api/v1/employees/{employee}", None),
        ("post", f"/api/v1/employees/{employee}/sip-password", None),
        ("post", f"/api/v1/employees/{employee}/tokens", None),
        ("get", f"/api/v1/schemes/{scheme}", None),
        ("put", f"/api/v1/schemes/{scheme}", {"name": "Taken Over", "steps": [step]}),
        ("delete", f"/api/v1/schemes/{scheme}", None),
        ("get", f"/api/v1/numbers/{number}", None),
        ("patch", f"/api/v1/numbers/{number}", {"scheme_id": None}),
        ("delete", f"/api/v1/numbers/{number}", None),
        ("get", f"/api/v1/numbers/{number}/route", None),
    ]


def test_another_companys_objects_are_not_found(client, other_company, demo_ids, admin):
    before = {
        url: client.get(url, headers=admin).get_json()
        for url in ("/api/v1/employees", "/api/v1/schemes", "/api/v1/numbers")
    }

    for method, url, json in _requests(demo_ids):
        response = getattr(client, method)(url, headers=other_company["headers"], json=json)
        assert response.status_code == 404, (method, url, response.get_json())
        error_fields(response)

    after = {url: client.get(url, headers=admin).get_json() for url in before}
    assert after == before  # nothing of the demo company changed


def test_lists_show_only_the_callers_company(client, other_company, demo_ids):
    headers = other_company["headers"]

    employees = client.get("/api/v1/employees", headers=headers).get_json()
    assert [e["id"] for e in employees] == [other_company["admin_id"]]
    assert client.get("/api/v1/schemes", headers=headers).get_json() == []
    assert client.get("/api/v1/numbers", headers=headers).get_json() == []
    assert client.get("/api/v1/company", headers=headers).get_json()["id"] == other_company["company_id"]


def test_another_companys_employee_cannot_be_a_destination(client, other_company, demo_ids):
    response = client.post(
        "/api/v1/schemes",
        headers=other_company["headers"],
        json={
            "name": "Steal",
            "steps": [
                {
                    "mode": "parallel",
                    "timeout": 30,
                    "destinations": [{"kind": "employee", "employee_id": demo_ids["employee"]}],
                }
            ],
        },
    )

    assert response.status_code == 422
    assert error_fields(response) == {
        "steps": {
            "0": {"destinations": {"0": {"employee_id": [f"no employee {demo_ids['employee']} in this company"]}}}
        }
    }


def test_another_companys_scheme_cannot_serve_a_number(client, other_company, demo_ids):
    response = client.post(
        "/api/v1/numbers",
        headers=other_company["headers"],
        json={"number": "+380441112233", "scheme_id": demo_ids["scheme"]},
    )

    assert response.status_code == 422
    assert error_fields(response) == {"scheme_id": [f"no scheme {demo_ids['scheme']} in this company"]}


def test_a_number_of_another_company_cannot_be_claimed(client, other_company, demo_ids):
    response = client.post("/api/v1/numbers", headers=other_company["headers"], json={"number": demo_ids["number"]})

    assert response.status_code == 422
    assert error_fields(response) == {"number": [f"{demo_ids['number']} already belongs to another company"]}
