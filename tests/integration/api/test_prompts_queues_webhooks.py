"""Prompts (R12), queues (R18) and webhook numbers (R17) as configuration."""

import pytest

from .conftest import error_fields


def test_a_tts_prompt_greets_an_ivr_menu(client, admin, post):
    prompt = post("prompts", {"name": "Welcome", "kind": "tts", "text": "Здравствуйте!", "language": "ru"})

    menu = post("ivr-menus", {"name": "Greeted", "greeting": {"kind": "prompt", "prompt_id": prompt["id"]},
                              "keys": {"timeout": {"kind": "sip_uri", "uri": "sip:desk@example.com"}}})

    assert menu["greeting"] == {"kind": "prompt", "text": None, "prompt_id": prompt["id"]}
    in_use = client.delete(f"/api/v1/prompts/{prompt['id']}", headers=admin)
    assert error_fields(in_use) == {"id": ["in use by IVR menu 'Greeted': change them first"]}


@pytest.mark.parametrize("body, expected", [
    ({"kind": "tts"}, {"text": ["text-to-speech needs the text to read"]}),
    ({"kind": "upload"}, {"kind": ["Must be one of: default, tts."]}),
    ({"kind": "tts", "text": "Hi", "language": "de"}, {"language": ["Must be one of: ru, uk, en."]}),
])
def test_a_bad_prompt_is_refused(client, admin, body, expected):
    assert error_fields(client.post("/api/v1/prompts", headers=admin, json={"name": "Bad", **body})) == expected


def test_a_queue_with_agents_and_music_is_a_destination(client, admin, post, make_employee):
    agent = make_employee()
    music = post("prompts", {"name": "Hold music", "kind": "default"})
    queue = post("queues", {"name": "Support queue", "members": [agent["id"]], "music_prompt_id": music["id"]})
    scheme = post("schemes", {"name": "Queued", "steps": [
        {"mode": "parallel", "timeout": 300, "destinations": [{"kind": "queue", "queue_id": queue["id"]}]}]})

    assert (queue["strategy"], queue["max_wait"], queue["members"]) == ("longest_idle", 300, [agent["id"]])
    assert scheme["steps"][0]["destinations"] == [{"kind": "queue", "queue_id": queue["id"]}]


def test_a_webhook_secret_is_shown_once_and_its_fallback_must_be_ours(client, admin, post, other_company):
    fallback = client.get("/api/v1/schemes", headers=admin).get_json()[0]
    webhook = post("webhooks", {"name": "CRM router", "url": "https://crm.example.com/vpbx/route",
                                "fallback_scheme_id": fallback["id"]})

    assert len(webhook["secret"]) >= 40 and webhook["budget_ms"] == 2000
    assert "secret" not in client.get(f"/api/v1/webhooks/{webhook['id']}", headers=admin).get_json()
    stolen = client.post("/api/v1/webhooks", headers=other_company["headers"],
                         json={"name": "Steal", "url": "https://x.example.com", "fallback_scheme_id": fallback["id"]})
    assert error_fields(stolen) == {"fallback_scheme_id": [f"no scheme {fallback['id']} in this company"]}
    assert client.get(f"/api/v1/webhooks/{webhook['id']}", headers=other_company["headers"]).status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"url": "ftp://example.com/x"}, "url"), ({"url": "not a url"}, "url"),
    ({"url": "https://example.com", "budget_ms": 50}, "budget_ms"),
])
def test_a_bad_webhook_is_refused(client, admin, body, field):
    assert field in error_fields(client.post("/api/v1/webhooks", headers=admin, json={"name": "Bad", **body}))


def test_another_company_cannot_reach_prompts_queues_or_webhooks(client, post, other_company):
    prompt = post("prompts", {"name": "Mine", "kind": "default"})
    queue = post("queues", {"name": "Mine"})
    webhook = post("webhooks", {"name": "Mine", "url": "https://crm.example.com/route"})
    stranger = other_company["headers"]
    valid = {f"/api/v1/prompts/{prompt['id']}": {"name": "X", "kind": "default"},
             f"/api/v1/queues/{queue['id']}": {"name": "X"},
             f"/api/v1/webhooks/{webhook['id']}": {"name": "X", "url": "https://x.example.com"}}

    for url, body in valid.items():
        assert client.get(url, headers=stranger).status_code == 404
        assert client.put(url, headers=stranger, json=body).status_code == 404
        assert client.delete(url, headers=stranger).status_code == 404
    steal = client.post("/api/v1/schemes", headers=stranger, json={"name": "Steal", "steps": [
        {"mode": "parallel", "timeout": 30, "destinations": [{"kind": "queue", "queue_id": queue["id"]},
                                                             {"kind": "webhook", "webhook_id": webhook["id"]}]}]})
    assert error_fields(steal) == {"steps": {"0": {"destinations": {
        "0": {"queue_id": [f"no queue {queue['id']} in this company"]},
        "1": {"webhook_id": [f"no webhook {webhook['id']} in this company"]}}}}}
