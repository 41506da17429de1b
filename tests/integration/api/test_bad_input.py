"""Every refused write answers 422 naming the field and the reason, and writes nothing."""

import pytest

from .conftest import error_fields


def _at(fields: dict, path: str):
    """The messages at a dotted path such as 'steps.0.timeout'."""
    node = fields
    for part in path.split("."):
        assert isinstance(node, dict) and part in node, f"{path!r} not in {fields}"
        node = node[part]
    return node


def _counts(db):
    return {
        t: db.execute(f"SELECT count(*) AS n FROM {t}").fetchone()["n"]
        for t in ("employees", "schemes", "scheme_steps", "step_destinations", "numbers", "api_tokens")
    }


def _step(**overrides):
    return {
        "mode": "parallel",
        "timeout": 30,
        "destinations": [{"kind": "sip_uri", "uri": "sip:desk@example.com"}],
        **overrides,
    }


EMPLOYEES = {
    "empty-name": ({"name": "", "extension": "201"}, "name", "Length must be between 1 and 200."),
    "missing-name": ({"extension": "201"}, "name", "Missing data for required field."),
    "short-extension": ({"name": "X", "extension": "1"}, "extension", "an extension is 2 to 6 digits"),
    "letters-in-extension": ({"name": "X", "extension": "12a"}, "extension", "an extension is 2 to 6 digits"),
    "number-not-string": ({"name": "X", "extension": 202}, "extension", "Not a valid string."),
    "taken-extension": ({"name": "X", "extension": "101"}, "extension", "101 is already used by Anna Sales"),
    "bad-email": ({"name": "X", "extension": "202", "email": "nope"}, "email", "Not a valid email address."),
    "bad-mobile": ({"name": "X", "extension": "202", "mobile": "12"}, "mobile", "'12' is not a phone number"),
    "bad-role": ({"name": "X", "extension": "202", "role": "root"}, "role", "Must be one of: admin, user, limited."),
    "bad-login": (
        {"name": "X", "extension": "202", "sip_login": "a b"},
        "sip_login",
        "letters, digits, '.', '_' or '-', at most 64",
    ),
    "taken-login": (
        {"name": "X", "extension": "202", "sip_login": "102"},
        "sip_login",
        "102 is already used by Boris Support",
    ),
    "unknown-field": ({"name": "X", "extension": "202", "password": "x"}, "password", "Unknown field."),
}


@pytest.mark.parametrize("payload, field, reason", EMPLOYEES.values(), ids=EMPLOYEES.keys())
def test_bad_employee(client, admin, db, payload, field, reason):
    before = _counts(db)

    response = client.post("/api/v1/employees", headers=admin, json=payload)

    assert response.status_code == 422
    assert reason in _at(error_fields(response), field)
    assert _counts(db) == before


SCHEMES = {
    "timeout-below-15": ({"steps": [_step(timeout=14)]}, "steps.0.timeout", "a step rings 15 to 600 s"),
    "timeout-above-600": ({"steps": [_step(timeout=601)]}, "steps.0.timeout", "a step rings 15 to 600 s"),
    "unknown-mode": ({"steps": [_step(mode="random")]}, "steps.0.mode", "Must be one of"),
    "no-steps": ({"steps": []}, "steps", "Length must be between 1 and 20."),
    "no-destinations": ({"steps": [_step(destinations=[])]}, "steps.0.destinations", "Shorter than minimum"),
    "unknown-kind": (
        {"steps": [_step(destinations=[{"kind": "telex"}])]},
        "steps.0.destinations.0.kind",
        "one of: department, employee, fax, ivr, phone_number, queue, responsible_manager, secretary, "
        "sip_account, sip_uri, voicemail, webhook",
    ),
    "missing-employee": (
        {"steps": [_step(destinations=[{"kind": "employee", "employee_id": 99999999}])]},
        "steps.0.destinations.0.employee_id",
        "no employee 99999999 in this company",
    ),
    "bad-uri": (
        {"steps": [_step(destinations=[{"kind": "sip_uri", "uri": "desk"}])]},
        "steps.0.destinations.0.uri",
        "a SIP URI such as sip:user@example.com",
    ),
    "bad-phone-number": (
        {"steps": [_step(destinations=[{"kind": "phone_number", "number": "abc"}])]},
        "steps.0.destinations.0.number",
        "'abc' is not a phone number",
    ),
    "eleven-in-parallel": (
        {"steps": [_step(destinations=[{"kind": "sip_uri", "uri": f"sip:desk{i}@example.com"} for i in range(11)])]},
        "steps.0.destinations",
        "at most 10 destinations ring in parallel",
    ),
    "taken-name": ({"name": "Ring everyone", "steps": [_step()]}, "name", "a scheme named 'Ring everyone'"),
    "missing-name": ({"name": None, "steps": [_step()]}, "name", "Field may not be null."),
}


@pytest.mark.parametrize("payload, field, reason", SCHEMES.values(), ids=SCHEMES.keys())
def test_bad_scheme(client, admin, db, payload, field, reason):
    before = _counts(db)

    response = client.post("/api/v1/schemes", headers=admin, json={"name": "New scheme", **payload})

    assert response.status_code == 422
    assert any(reason in message for message in _at(error_fields(response), field)), error_fields(response)
    assert _counts(db) == before


def test_a_refused_scheme_replacement_keeps_the_old_scheme(client, admin, db):
    scheme = client.get("/api/v1/schemes", headers=admin).get_json()[0]
    before = _counts(db)

    response = client.put(
        f"/api/v1/schemes/{scheme['id']}",
        headers=admin,
        json={"name": scheme["name"], "steps": [_step(), _step(timeout=5)]},
    )

    assert response.status_code == 422
    assert _at(error_fields(response), "steps.1.timeout")
    assert client.get(f"/api/v1/schemes/{scheme['id']}", headers=admin).get_json() == scheme
    assert _counts(db) == before


NUMBERS = {
    "not-a-number": ({"number": "12"}, "number", "'12' is not a phone number"),
    "already-ours": ({"number": "8 (495) 111-22-33"}, "number", "+74951112233 already belongs to this company"),
    "missing-scheme": (
        {"number": "+74950001122", "scheme_id": 99999999},
        "scheme_id",
        "no scheme 99999999 in this company",
    ),
}


@pytest.mark.parametrize("payload, field, reason", NUMBERS.values(), ids=NUMBERS.keys())
def test_bad_number(client, admin, db, payload, field, reason):
    before = _counts(db)

    response = client.post("/api/v1/numbers", headers=admin, json=payload)

    assert response.status_code == 422
    assert reason in _at(error_fields(response), field)
    assert _counts(db) == before


@pytest.mark.parametrize("payload, field", [({"timezone": "Mars/Olympus"}, "timezone"), ({"name": ""}, "name")])
def test_bad_company_change(client, admin, payload, field):
    before = client.get("/api/v1/company", headers=admin).get_json()

    response = client.patch("/api/v1/company", headers=admin, json=payload)

    assert response.status_code == 422
    assert field in error_fields(response)
    assert client.get("/api/v1/company", headers=admin).get_json() == before


def test_a_body_that_is_not_json_is_refused_clearly(client, admin):
    response = client.post("/api/v1/numbers", headers={**admin, "Content-Type": "application/json"}, data="{not json")

    assert response.status_code in (400, 422)
    assert response.get_json()["error"]["message"]


def test_a_nul_character_is_refused_with_its_field_before_it_reaches_the_database(client, admin, db):
    before = _counts(db)

    query = client.get("/api/v1/calls", headers=admin, query_string={"caller": "79\x0016"})
    body = client.post(
        "/api/v1/schemes",
        headers=admin,
        json={"name": "Day", "steps": [_step(destinations=[{"kind": "sip_uri", "uri": "sip:desk\x00@example.com"}])]},
    )

    assert (query.status_code, error_fields(query)) == (422, {"caller": ["must not contain a NUL character"]})
    assert (body.status_code, error_fields(body)) == (
        422,
        {"steps.0.destinations.0.uri": ["must not contain a NUL character"]},
    )
    assert _counts(db) == before
