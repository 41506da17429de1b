"""Company B's administrator against every object of company A, through every
route of the API that names an object: always 404, and nothing of A changes.

The routes come from the application's URL map, so a resource added later is
covered (or this test fails until its objects are made here)."""

from __future__ import annotations

import re

import pytest

from vpbx import db as vpbx_db
from vpbx.api import create_app
from vpbx.config.companies import create_company

from ..clock import day


@pytest.fixture(scope="module")
def app(cfg):
    return create_app({"VPBX_SETTINGS": cfg, "TESTING": True})


@pytest.fixture(scope="module")
def tenants(cfg):
    """Company A (the victim, with one object of every kind) and company B's admin."""
    with vpbx_db.connect(cfg.database_url) as conn:
        victim = create_company(
            conn,
            name="Victim",
            sip_domain="victim.vpbx.test",
            timezone="Europe/Moscow",
            admin_name="Vera Victim",
            admin_extension="100",
        )
        attacker = create_company(
            conn,
            name="Attacker",
            sip_domain="attacker.vpbx.test",
            timezone="Europe/Kyiv",
            admin_name="Artem Attacker",
            admin_extension="100",
        )
    yield (
        {"Authorization": f"Bearer {victim.admin_token}"},
        {"Authorization": f"Bearer {attacker.admin_token}"},
        victim.admin_id,
    )
    with vpbx_db.connect(cfg.database_url) as conn:
        conn.execute("DELETE FROM companies WHERE id = ANY(%s)", ([victim.company_id, attacker.company_id],))


@pytest.fixture(scope="module")
def objects(app, tenants, cfg):
    """Path parameter -> the id of company A's object of that kind."""
    victim, _, admin_id = tenants
    client = app.test_client()

    def make(resource: str, body: dict, key: str = "id"):
        response = client.post(f"/api/v1/{resource}", headers=victim, json=body)
        assert response.status_code == 201, (resource, response.get_json())
        return response.get_json()[key]

    employee = make("employees", {"name": "Ivan", "extension": "101", "email": "ivan@victim.example"})
    schedule = make("schedules", {"name": "Hours", "weekly": [{"day": "mon", "start": "09:00", "end": "18:00"}]})
    box = make("voicemail-boxes", {"name": "Box", "recipients": [{"employee_id": employee}]})
    department = make("departments", {"name": "Sales", "members": [employee]})
    prompt = make("prompts", {"name": "Hello", "kind": "tts", "text": "Hello"})
    menu = make(
        "ivr-menus",
        {
            "name": "Menu",
            "keys": {
                "1": {"kind": "voicemail", "voicemail_box_id": box},
                "timeout": {"kind": "voicemail", "voicemail_box_id": box},
            },
        },
    )
    queue = make("queues", {"name": "Queue"})
    categories = make("category-menus", {"name": "Outcome", "categories": {"1": "Sale"}, "prompt_id": prompt})
    account = make("sip-accounts", {"name": "Door", "sip_login": "door"})
    webhook = make("webhooks", {"name": "Router", "url": "https://crm.example.com/route"})
    scheme = make(
        "schemes",
        {
            "name": "Day",
            "steps": [
                {"mode": "parallel", "timeout": 20, "destinations": [{"kind": "employee", "employee_id": employee}]}
            ],
        },
    )
    number = make("numbers", {"number": "+74950000001", "scheme_id": scheme}, key="number")
    absence = client.post(
        f"/api/v1/employees/{employee}/absences",
        headers=victim,
        json={"kind": "vacation", "start": day(30).isoformat(), "end": day(35).isoformat()},
    ).get_json()["id"]
    token = client.post(f"/api/v1/employees/{employee}/tokens", headers=victim).get_json()["id"]
    assert (
        client.put(
            "/api/v1/crm/clients",
            headers=victim,
            json={"clients": [{"phone": "+79160000001", "employee_id": employee}]},
        ).status_code
        == 200
    )
    with vpbx_db.connect(cfg.database_url) as conn:
        message = conn.execute(
            """INSERT INTO voicemail_messages (company_id, voicemail_box_id, box_name, call_id, caller, called,
                                               received_at, duration_ms, file_name)
               SELECT company_id, id, name, 'victim-call@test', '+79160000001', '+74950000001', now(), 3000,
                      'voicemail/victim-message.wav' FROM voicemail_boxes WHERE id = %s
               RETURNING id""",
            (box,),
        ).fetchone()["id"]
    return {
        "employee_id": employee,
        "message_id": message,
        "schedule_id": schedule,
        "box_id": box,
        "department_id": department,
        "prompt_id": prompt,
        "menu_id": menu,
        "category_menu_id": categories,
        "queue_id": queue,
        "account_id": account,
        "webhook_id": webhook,
        "scheme_id": scheme,
        "number": number,
        "absence_id": absence,
        "phone": "+79160000001",
        "call_pk": 1,
        "token_id": token,
    }


# What the operator's token manages (trunks): shared by every company, owned by none.
OPERATOR_ROUTES = ("/api/v1/trunks",)


def _routes(app, objects):
    """(method, rule, path) of every API route that names an object, with A's ids filled in."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or not rule.arguments:
            continue
        if rule.rule.startswith(OPERATOR_ROUTES):
            continue  # no company's objects: a company's token gets 403 there (tests/e2e/test_trunks_api.py)
        missing = rule.arguments - objects.keys()
        assert not missing, f"{rule.rule}: make an object for {missing} in the objects fixture"
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(objects[m.group(1)]), rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, rule.rule, path


def _snapshot(client, headers) -> dict:
    lists = (
        "employees",
        "schedules",
        "voicemail-boxes",
        "departments",
        "prompts",
        "ivr-menus",
        "category-menus",
        "queues",
        "sip-accounts",
        "webhooks",
        "schemes",
        "numbers",
        "crm/clients/+79160000001",
        "company",
        "tokens",
        "voicemail-messages",
    )
    snapshot = {name: client.get(f"/api/v1/{name}", headers=headers).get_json() for name in lists}
    for message in snapshot["voicemail-messages"]:
        message.pop("url")  # signed when read: it carries the moment
    return snapshot


def test_every_route_to_another_companys_object_answers_404_and_changes_nothing(app, tenants, objects):
    victim, attacker, _ = tenants
    client = app.test_client()
    before = _snapshot(client, victim)
    answers = {}

    for method, rule, path in _routes(app, objects):
        # A body of the right shape wherever one is expected: what is refused is
        # the object, not the request.
        current = client.get(path, headers=victim)
        body = BODIES.get((method, rule)) or _body_like(current.get_json() if current.status_code == 200 else None)
        response = client.open(path, method=method, headers=attacker, json=body)
        answers[f"{method} {path}"] = response.status_code

    assert {route: status for route, status in answers.items() if status != 404} == {}
    assert len(answers) >= 40
    assert _snapshot(client, victim) == before


# Writes whose body is not what a GET of the same path shows: (method, rule).
BODIES = {
    ("POST", "/api/v1/employees/<int:employee_id>/absences"): {
        "kind": "vacation",
        "start": day(40).isoformat(),
        "end": day(41).isoformat(),
    },
    ("PATCH", "/api/v1/numbers/<string:number>"): {"scheme_id": None},
    ("PUT", "/api/v1/prompts/<int:prompt_id>"): {"name": "Hello", "kind": "tts", "text": "Hi"},
    ("PATCH", "/api/v1/voicemail-messages/<int:message_id>"): {"heard": True},
}

# What a GET shows but no write takes.
READ_ONLY = {"id", "extension_in_use", "file_seconds", "sip_password", "created_at", "updated_at", "agents"}


def _body_like(shown):
    if not isinstance(shown, dict):
        return {}
    return {key: value for key, value in shown.items() if key not in READ_ONLY}
