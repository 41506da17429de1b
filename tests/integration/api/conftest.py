"""API tests: the Flask app on the real PostgreSQL and Redis of the test stack."""

from __future__ import annotations

import itertools
import secrets

import pytest

from vpbx import db as vpbx_db
from vpbx.api import create_app
from vpbx.config.companies import create_company

_tenants = itertools.count(1)


@pytest.fixture(scope="session")
def app(cfg):
    return create_app({"VPBX_SETTINGS": cfg, "TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def admin(demo) -> dict:
    """Headers of the demo company's administrator."""
    return bearer(demo["admin_api_token"])


@pytest.fixture(scope="session")
def other_company(cfg) -> dict:
    """A second tenant: its admin's headers, and its ids."""
    domain = f"tenant{next(_tenants)}-{secrets.token_hex(3)}.vpbx.test"
    with vpbx_db.connect(cfg.database_url) as conn:
        created = create_company(
            conn,
            name=f"Other {domain}",
            sip_domain=domain,
            timezone="Europe/Kyiv",
            admin_name="Olena Admin",
            admin_extension="100",
        )
    return {
        "headers": bearer(created.admin_token),
        "company_id": created.company_id,
        "admin_id": created.admin_id,
        "domain": domain,
    }


@pytest.fixture
def company_id(client, admin):
    """The demo company's id."""
    return client.get("/api/v1/company", headers=admin).get_json()["id"]


@pytest.fixture
def make_employee(client, admin):
    """Create an employee in the demo company through the API; deleted afterwards."""
    created = []

    def _make(**fields):
        extension = fields.pop("extension", None)
        if extension is None:  # one no employee has, whatever earlier runs left behind
            taken = {e["extension"] for e in client.get("/api/v1/employees", headers=admin).get_json()}
            while extension is None or extension in taken:
                extension = str(4000 + secrets.randbelow(5000))
        response = client.post(
            "/api/v1/employees",
            headers=admin,
            json={"name": fields.pop("name", f"Test {extension}"), "extension": extension, **fields},
        )
        assert response.status_code == 201, response.get_json()
        employee = response.get_json()
        created.append(employee["id"])
        return employee

    yield _make
    for employee_id in created:  # no rule may still forward to one about to go
        client.patch(f"/api/v1/employees/{employee_id}", headers=admin, json={"no_answer": {"rule": "busy"}})
    for employee_id in created:
        response = client.delete(f"/api/v1/employees/{employee_id}", headers=admin)
        assert response.status_code in (204, 404), response.get_json()


@pytest.fixture
def token_for(client, admin):
    def _token(employee_id: int) -> dict:
        response = client.post(f"/api/v1/employees/{employee_id}/tokens", headers=admin)
        assert response.status_code == 201, response.get_json()
        return bearer(response.get_json()["token"])

    return _token


def error_fields(response) -> dict:
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert body["error"]["status"] == response.status_code
    return body["error"].get("fields", {})


@pytest.fixture
def created(client, admin):
    """URLs of what a test created, deleted newest first after it."""
    urls = []
    yield urls
    for url in reversed(urls):
        client.delete(url, headers=admin)


@pytest.fixture
def post(client, admin, created):
    """POST as the demo admin, expect 201, and have the new item deleted after the test."""

    def _post(resource: str, body: dict, key: str = "id") -> dict:
        response = client.post(f"/api/v1/{resource}", headers=admin, json=body)
        assert response.status_code == 201, response.get_json()
        item = response.get_json()
        created.append(f"/api/v1/{resource}/{item[key]}")
        return item

    return _post
