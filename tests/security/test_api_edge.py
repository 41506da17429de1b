"""The admin API and the sidecar as an attacker on the network meets them:
bodies that would knock the server over, names that would smuggle headers,
URLs aimed inside our network, tokens that outlive their use."""

from __future__ import annotations

import json
import re
import secrets
import urllib.error
import urllib.request
from dataclasses import replace
from datetime import timedelta

import pytest
import redis

from vpbx.api import create_app
from vpbx.config.tokens import issue_token
from vpbx.stack.process import wait_for

from ..clock import NOW
from ..e2e import raw_sip
from ..integration.api.conftest import error_fields

pytestmark = pytest.mark.usefixtures("stack")


@pytest.fixture(scope="module")
def app(cfg):
    return create_app({"VPBX_SETTINGS": cfg, "TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def admin(demo):
    return {"Authorization": f"Bearer {demo['admin_api_token']}"}


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


# ---- bodies -------------------------------------------------------------------------


@pytest.mark.parametrize("with_token", [True, False])
def test_json_nested_a_thousand_deep_is_a_400_never_a_500(client, admin, with_token):
    headers = {**(admin if with_token else {}), "Content-Type": "application/json"}

    response = client.post("/api/v1/schemes", headers=headers, data=_deep(1000))

    assert response.status_code == (400 if with_token else 401), response.get_json()


def test_status_survives_a_deep_body_too(client):
    response = client.post("/status", headers={"Content-Type": "application/json"}, data=_deep(1000))

    assert response.status_code in (405, 200, 503)  # never 500


def test_a_body_over_a_megabyte_is_refused_before_it_is_read(client, admin):
    body = json.dumps({"name": "x" * (1024 * 1024 + 10)})

    response = client.post("/api/v1/schemes", headers={**admin, "Content-Type": "application/json"}, data=body)

    assert response.status_code == 413
    assert "1048576 bytes" in response.get_json()["error"]["message"]


def test_without_a_token_nothing_of_the_body_is_parsed(client):
    # A body with a NUL character is refused (422) only once the caller is known.
    response = client.post("/api/v1/schemes", json={"name": "a\x00b"})

    assert response.status_code == 401


def test_an_upload_error_does_not_show_server_paths(client, admin, post_prompt):
    response = client.put(
        f"/api/v1/prompts/{post_prompt}/recording",
        headers={**admin, "Content-Type": "audio/wav"},
        data=b"RIFF" + b"\x00" * 100,
    )

    assert response.status_code == 422
    text = json.dumps(response.get_json())
    assert "/" not in re.sub(r"audio/\w+", "", text.split('"recording"')[1]), text


@pytest.fixture
def post_prompt(client, admin):
    prompt = client.post("/api/v1/prompts", headers=admin, json={"name": "Upload target", "kind": "default"})
    assert prompt.status_code == 201, prompt.get_json()
    yield prompt.get_json()["id"]
    client.delete(f"/api/v1/prompts/{prompt.get_json()['id']}", headers=admin)


# ---- names that end up in headers ------------------------------------------------------


@pytest.mark.parametrize("name", ["Anna\r\nX-Injected: 1", "Anna\nBcc: someone@example.com", "Anna\x07", "A\u2028B"])
def test_a_name_with_line_breaks_or_control_characters_is_refused(client, admin, name):
    response = client.post("/api/v1/employees", headers=admin, json={"name": name, "extension": "4999"})

    assert error_fields(response) == {"name": ["must not contain line breaks or control characters"]}


# ---- URLs aimed at us --------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        "sip:voicemail-1@127.0.0.1:5970",
        "sip:x@[::1]",
        "sip:x@localhost",
        "sip:x@0.0.0.0",
        "sip:x@255.255.255.255",
        "sip:x@169.254.169.254",
    ],
)
def test_a_sip_uri_destination_may_not_name_this_system(client, admin, uri):
    response = client.post(
        "/api/v1/schemes",
        headers=admin,
        json={
            "name": "Loop",
            "steps": [{"mode": "parallel", "timeout": 20, "destinations": [{"kind": "sip_uri", "uri": uri}]}],
        },
    )

    fields = error_fields(response)["steps"]["0"]["destinations"]["0"]["uri"]
    assert fields[0].startswith("must not name this system or an unroutable address")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8980/api/v1/company",
        "http://localhost/x",
        "http://10.0.0.8/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://192.168.1.1/",
    ],
)
def test_a_webhook_or_crm_url_may_not_point_inside_our_networks(client, admin, url):
    webhook = client.post("/api/v1/webhooks", headers=admin, json={"name": "Inside", "url": url})
    crm = client.put("/api/v1/crm", headers=admin, json={"lookup_url": url})

    assert error_fields(webhook)["url"][0].startswith("must reach a server outside this system's networks")
    assert error_fields(crm)["lookup_url"][0].startswith("must reach a server outside this system's networks")


def test_a_dry_run_to_an_internal_address_is_refused_without_a_byte_sent(client, admin, db, demo):
    """A URL stored before the API checked it (written straight to the database):
    the check on the address actually connected to refuses it all the same."""
    victim = raw_sip.listener()  # anything at all arriving here got through
    victim_tcp_port = victim.getsockname()[1]
    company = db.execute("SELECT id FROM companies WHERE sip_domain = %s", (demo["accounts"][0]["domain"],)).fetchone()[
        "id"
    ]
    hook = db.execute(
        """INSERT INTO webhooks (company_id, name, url, secret) VALUES (%s, 'Old', %s, 'x')
                         RETURNING id""",
        (company, f"http://127.0.0.1:{victim_tcp_port}/route"),
    ).fetchone()["id"]
    try:
        answers = [
            client.post(f"/api/v1/webhooks/{hook}/test", headers=admin, json={"caller": "+79161234567"}).get_json()
            for _ in range(2)
        ]
        closed_port = client.post(f"/api/v1/webhooks/{hook}/test", headers=admin, json={"caller": "+79161234567"})
    finally:
        db.execute("DELETE FROM webhooks WHERE id = %s", (hook,))
        victim.close()

    assert answers[0]["failure"].startswith("refused: 127.0.0.1 is a loopback address")
    assert answers[0]["received"] is None
    # The same words whether anything listens on that port or not.
    assert closed_port.get_json()["failure"] == answers[0]["failure"]


# ---- tokens ------------------------------------------------------------------------------


def test_tokens_are_listed_and_revoked_at_once(client, admin, demo):
    anna = next(e for e in client.get("/api/v1/employees", headers=admin).get_json() if e["extension"] == "101")
    new = client.post(
        f"/api/v1/employees/{anna['id']}/tokens", headers=admin, json={"label": "laptop", "expires_in_days": 7}
    )
    assert new.status_code == 201, new.get_json()
    token = {"Authorization": f"Bearer {new.get_json()['token']}"}

    listed = client.get("/api/v1/tokens", headers=token).get_json()
    revoked = client.delete(f"/api/v1/tokens/{new.get_json()['id']}", headers=admin)
    after = client.get("/api/v1/company", headers=token)

    mine = next(t for t in listed if t["id"] == new.get_json()["id"])
    assert (mine["label"], mine["current"]) == ("laptop", True)
    assert revoked.status_code == 204
    assert after.status_code == 401


def test_an_expired_token_is_refused(client, db, demo):
    anna = db.execute("SELECT id FROM employees WHERE sip_login = '101'").fetchone()["id"]
    token = issue_token(db, anna, "expired", expires_at=NOW - timedelta(minutes=1))

    response = client.get("/api/v1/company", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert "expired" in response.get_json()["error"]["message"]


def test_a_user_cannot_revoke_another_employees_token(client, admin, db):
    boris = db.execute("SELECT id FROM employees WHERE sip_login = '102'").fetchone()["id"]
    anna = db.execute("SELECT id FROM employees WHERE sip_login = '101'").fetchone()["id"]
    boris_token = {"Authorization": f"Bearer {issue_token(db, boris, 'boris')}"}
    anna_token_id = client.post(f"/api/v1/employees/{anna}/tokens", headers=admin).get_json()["id"]

    response = client.delete(f"/api/v1/tokens/{anna_token_id}", headers=boris_token)

    assert response.status_code == 404
    assert anna_token_id not in {t["id"] for t in client.get("/api/v1/tokens", headers=boris_token).get_json()}


# ---- the sidecar's neighbours ----------------------------------------------------------------


def test_redis_refuses_a_client_without_the_password(cfg):
    client = redis.Redis(host="127.0.0.1", port=redis.connection.parse_url(cfg.redis_url)["port"], socket_timeout=2)
    try:
        with pytest.raises(redis.AuthenticationError):
            client.ping()
    finally:
        client.close()


def test_the_access_log_keeps_no_voicemail_link_token(stack):
    token = "vm" + secrets.token_urlsafe(24)
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{stack.ports.sidecar}/voicemail/{token}?download=1", timeout=5)
    except urllib.error.HTTPError as error:
        assert error.code == 404

    def logged():
        text = (stack.run_dir / "log" / "sidecar.log").read_text(errors="replace")
        return text if "/voicemail/<token>" in text else None

    assert token not in wait_for(logged, 5, "the sidecar to log the request")


# ---- rate limits -------------------------------------------------------------------------------


def _limited_client(cfg, **limits):
    return create_app({"VPBX_SETTINGS": replace(cfg, **limits), "TESTING": True}).test_client()


def test_a_token_over_its_rate_gets_429_with_retry_after_and_others_go_on(cfg, db):
    anna = db.execute("SELECT id FROM employees WHERE sip_login = '101'").fetchone()["id"]
    greedy, other = ({"Authorization": f"Bearer {issue_token(db, anna, 'rate')}"} for _ in range(2))
    client = _limited_client(cfg, api_rate_per_token="5/minute")

    statuses = [client.get("/api/v1/company", headers=greedy) for _ in range(6)]

    assert [r.status_code for r in statuses] == [200] * 5 + [429]
    assert int(statuses[-1].headers["Retry-After"]) > 0
    assert statuses[-1].get_json()["error"]["status"] == 429
    assert client.get("/api/v1/company", headers=other).status_code == 200


def test_a_source_over_its_rate_gets_429_whatever_token_it_tries(cfg, db):
    anna = db.execute("SELECT id FROM employees WHERE sip_login = '101'").fetchone()["id"]
    client = _limited_client(cfg, api_rate_per_source="4/minute")

    statuses = [
        client.get("/api/v1/company", headers={"Authorization": f"Bearer {issue_token(db, anna, 'src')}"}).status_code
        for _ in range(5)
    ]

    assert statuses == [200] * 4 + [429]
