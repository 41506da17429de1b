"""Admin manages the company; user and limited user manage only their own profile."""

import pytest

from .conftest import error_fields


@pytest.fixture
def user(make_employee, token_for):
    employee = make_employee(role="user")
    return employee, token_for(employee["id"])


@pytest.fixture
def limited(make_employee, token_for):
    employee = make_employee(role="limited")
    return employee, token_for(employee["id"])


def test_a_user_edits_their_own_profile(client, user):
    me, headers = user

    response = client.patch(
        f"/api/v1/employees/{me['id']}",
        headers=headers,
        json={"name": "New Name", "email": "me@example.com", "mobile": "8 916 123-45-67"},
    )

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["name"], body["email"], body["mobile"]) == ("New Name", "me@example.com", "+79161234567")
    assert (body["extension"], body["role"], body["sip_login"]) == (me["extension"], "user", me["sip_login"])
    assert client.get(f"/api/v1/employees/{me['id']}", headers=headers).get_json()["mobile"] == "+79161234567"


def test_a_user_cannot_change_role_extension_or_login(client, user):
    me, headers = user

    response = client.patch(f"/api/v1/employees/{me['id']}", headers=headers, json={"role": "admin", "extension": "55"})

    assert response.status_code == 403
    assert error_fields(response) == {
        "extension": ["only an administrator can change this"],
        "role": ["only an administrator can change this"],
    }
    assert client.get(f"/api/v1/employees/{me['id']}", headers=headers).get_json()["role"] == "user"


@pytest.mark.parametrize(
    "method, url, json",
    [
        ("post", "/api/v1/employees", {"name": "X", "extension": "77"}),
        ("patch", "/api/v1/company", {"name": "Mine now"}),
        ("get", "/api/v1/schemes", None),
        ("get", "/api/v1/numbers", None),
    ],
)
def test_only_an_admin_manages_the_company(client, user, limited, method, url, json):
    for _, headers in (user, limited):
        response = getattr(client, method)(url, headers=headers, json=json)
        assert response.status_code == 403, (url, response.get_json())


def test_a_user_sees_the_directory_and_cannot_edit_a_colleague(client, user, demo, admin):
    me, headers = user
    directory = client.get("/api/v1/employees", headers=headers).get_json()
    assert {"101", "102", me["extension"]} <= {e["extension"] for e in directory}

    colleague = next(e for e in directory if e["extension"] == "102")
    response = client.patch(f"/api/v1/employees/{colleague['id']}", headers=headers, json={"name": "Hacked"})
    assert response.status_code == 403
    assert client.post(f"/api/v1/employees/{colleague['id']}/sip-password", headers=headers).status_code == 403


def test_a_limited_user_sees_only_themself(client, limited, admin):
    me, headers = limited

    assert [e["id"] for e in client.get("/api/v1/employees", headers=headers).get_json()] == [me["id"]]
    anna = next(e for e in client.get("/api/v1/employees", headers=admin).get_json() if e["extension"] == "101")
    assert client.get(f"/api/v1/employees/{anna['id']}", headers=headers).status_code == 404


def test_an_admin_cannot_lock_themself_out(client, admin):
    me = next(e for e in client.get("/api/v1/employees", headers=admin).get_json() if e["extension"] == "101")

    demote = client.patch(f"/api/v1/employees/{me['id']}", headers=admin, json={"role": "user"})
    delete = client.delete(f"/api/v1/employees/{me['id']}", headers=admin)

    assert demote.status_code == 422 and "role" in error_fields(demote)
    assert delete.status_code == 422 and "id" in error_fields(delete)


def test_a_null_sip_login_means_the_extension(client, admin, make_employee):
    employee = make_employee(extension="4321", sip_login="desk-4321")

    response = client.patch(
        f"/api/v1/employees/{employee['id']}", headers=admin, json={"extension": "4322", "sip_login": None}
    )

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["extension"], body["sip_login"]) == ("4322", "4322")
    assert body["sip_password"]  # a new login needs a new password
