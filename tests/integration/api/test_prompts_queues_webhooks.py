"""Prompts (R12), queues (R18) and webhook numbers (R17) as configuration."""

import io
import subprocess
import wave

import pytest

from .conftest import error_fields


def test_a_tts_prompt_greets_an_ivr_menu(client, admin, post):
    prompt = post("prompts", {"name": "Welcome", "kind": "tts", "text": "Здравствуйте!", "language": "ru"})

    menu = post(
        "ivr-menus",
        {
            "name": "Greeted",
            "greeting": {"kind": "prompt", "prompt_id": prompt["id"]},
            "keys": {"timeout": {"kind": "sip_uri", "uri": "sip:desk@example.com"}},
        },
    )

    assert menu["greeting"] == {"kind": "prompt", "text": None, "prompt_id": prompt["id"]}
    in_use = client.delete(f"/api/v1/prompts/{prompt['id']}", headers=admin)
    assert error_fields(in_use) == {"id": ["in use by IVR menu 'Greeted': change them first"]}


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"kind": "tts"}, {"text": ["text-to-speech needs the text to read"]}),
        ({"kind": "upload"}, {"kind": ["Must be one of: default, tts."]}),
        ({"kind": "tts", "text": "Hi", "language": "de"}, {"language": ["Must be one of: ru, uk, en."]}),
    ],
)
def test_a_bad_prompt_is_refused(client, admin, body, expected):
    assert error_fields(client.post("/api/v1/prompts", headers=admin, json={"name": "Bad", **body})) == expected


def _sox(tmp_path, name: str, *effect: str) -> bytes:
    """An audio file of the kind an administrator might upload: 44.1 kHz stereo."""
    path = tmp_path / name
    subprocess.run(["sox", "-n", "-r", "44100", "-c", "2", str(path), *effect], check=True)
    return path.read_bytes()


@pytest.mark.parametrize(
    "name, content_type", [("hello.wav", "audio/wav"), ("hello.mp3", "audio/mpeg"), ("hello.ogg", "audio/ogg")]
)
def test_an_uploaded_recording_is_converted_to_what_rtpengine_plays(client, admin, post, tmp_path, name, content_type):
    prompt = post("prompts", {"name": f"Recorded {name}", "kind": "default"})
    data = _sox(tmp_path, name, "synth", "1.5", "sine", "600")

    response = client.put(
        f"/api/v1/prompts/{prompt['id']}/recording", headers={**admin, "Content-Type": content_type}, data=data
    )

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["kind"] == "upload" and abs(body["seconds"] - 1.5) < 0.1
    played = client.get(f"/api/v1/prompts/{prompt['id']}/recording", headers=admin)
    with wave.open(io.BytesIO(played.data)) as recording:
        assert (recording.getframerate(), recording.getnchannels(), recording.getsampwidth()) == (8000, 1, 2)
    # Back to text: the recording is set aside.
    again = client.put(
        f"/api/v1/prompts/{prompt['id']}",
        headers=admin,
        json={"name": prompt["name"], "kind": "tts", "text": "Здравствуйте"},
    ).get_json()
    assert (again["kind"], again["seconds"]) == ("tts", None)


@pytest.mark.parametrize(
    "content_type, data, status, reason",
    [
        ("audio/wav", b"RIFF not really a wave file", 422, "not WAV audio sox can read"),
        ("audio/wav", b"", 422, "the file is empty"),
        ("text/plain", b"hello", 415, "send WAV, MP3, OGG or FLAC"),
        ("audio/mpeg", b"\0" * (10 * 1024 * 1024 + 1), 413, "at most 10485760 bytes are accepted"),
    ],
)
def test_a_bad_upload_is_refused_with_the_reason_and_changes_nothing(
    client, admin, post, content_type, data, status, reason
):
    prompt = post("prompts", {"name": f"Refused {status} {len(data)}", "kind": "tts", "text": "Привет"})

    response = client.put(
        f"/api/v1/prompts/{prompt['id']}/recording", headers={**admin, "Content-Type": content_type}, data=data
    )

    assert response.status_code == status
    assert error_fields(response)["recording"][0].startswith(reason)
    assert client.get(f"/api/v1/prompts/{prompt['id']}", headers=admin).get_json()["kind"] == "tts"


def test_a_queue_with_agents_and_music_is_a_destination(client, admin, post, make_employee):
    agent = make_employee()
    music = post("prompts", {"name": "Hold music", "kind": "default"})
    queue = post("queues", {"name": "Support queue", "members": [agent["id"]], "music_prompt_id": music["id"]})
    scheme = post(
        "schemes",
        {
            "name": "Queued",
            "steps": [
                {"mode": "parallel", "timeout": 300, "destinations": [{"kind": "queue", "queue_id": queue["id"]}]}
            ],
        },
    )

    assert (queue["strategy"], queue["max_wait"], queue["members"]) == ("longest_idle", 300, [agent["id"]])
    assert scheme["steps"][0]["destinations"] == [{"kind": "queue", "queue_id": queue["id"]}]


def test_a_queue_keeps_its_agents_order_and_only_an_administrator_sets_a_penalty(
    client, admin, post, make_employee, token_for
):
    first, second = make_employee(), make_employee()
    queue = post("queues", {"name": "Ordered queue", "strategy": "in_order", "members": [second["id"], first["id"]]})
    url = f"/api/v1/queues/{queue['id']}/agents/{second['id']}"

    own = client.put(url, headers=token_for(second["id"]), json={"penalty": 2})
    by_admin = client.put(url, headers=admin, json={"penalty": 2})
    # Logging in or out leaves the penalty as it was.
    login = client.put(url, headers=token_for(second["id"]), json={"logged_in": False})
    shown = client.get(f"/api/v1/queues/{queue['id']}", headers=admin).get_json()

    assert queue["members"] == [second["id"], first["id"]]
    assert own.status_code == 403, own.get_json()
    assert (by_admin.status_code, by_admin.get_json()["penalty"]) == (200, 2)
    assert (login.status_code, login.get_json()["penalty"]) == (200, 2)
    assert shown["members"] == [second["id"], first["id"]]
    assert [(a["employee_id"], a["penalty"], a["logged_in"]) for a in shown["agents"]] == [
        (second["id"], 2, False),
        (first["id"], 0, True),
    ]
    assert "penalty" in error_fields(client.put(url, headers=admin, json={"penalty": 10}))
    assert "strategy" in error_fields(client.post("/api/v1/queues", headers=admin, json={"name": "X", "strategy": "x"}))


def test_a_queues_own_announcement_needs_a_period_and_a_prompt_of_the_company(client, admin, post, other_company):
    prompt = post("prompts", {"name": "Please hold", "kind": "default"})
    never = client.post(
        "/api/v1/queues", headers=admin, json={"name": "Never said", "announce_prompt_id": prompt["id"]}
    )
    theirs = client.post(
        "/api/v1/queues",
        headers=other_company["headers"],
        json={"name": "Stolen", "announce_position_every": 30, "announce_prompt_id": prompt["id"]},
    )
    assert error_fields(never) == {
        "announce_position_every": ["10 to 600 seconds: announce_prompt_id is played at each announcement"]
    }
    assert error_fields(theirs) == {"announce_prompt_id": [f"no prompt {prompt['id']} in this company"]}


def test_a_webhook_secret_is_shown_once_and_its_fallback_must_be_ours(client, admin, post, other_company):
    fallback = client.get("/api/v1/schemes", headers=admin).get_json()[0]
    webhook = post(
        "webhooks",
        {"name": "CRM router", "url": "https://crm.example.com/vpbx/route", "fallback_scheme_id": fallback["id"]},
    )

    assert len(webhook["secret"]) >= 40 and webhook["budget_ms"] == 2000
    assert "secret" not in client.get(f"/api/v1/webhooks/{webhook['id']}", headers=admin).get_json()
    stolen = client.post(
        "/api/v1/webhooks",
        headers=other_company["headers"],
        json={"name": "Steal", "url": "https://x.example.com", "fallback_scheme_id": fallback["id"]},
    )
    assert error_fields(stolen) == {"fallback_scheme_id": [f"no scheme {fallback['id']} in this company"]}
    assert client.get(f"/api/v1/webhooks/{webhook['id']}", headers=other_company["headers"]).status_code == 404


@pytest.mark.parametrize(
    "body, field",
    [
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"url": "https://example.com", "budget_ms": 50}, "budget_ms"),
    ],
)
def test_a_bad_webhook_is_refused(client, admin, body, field):
    assert field in error_fields(client.post("/api/v1/webhooks", headers=admin, json={"name": "Bad", **body}))


def test_another_company_cannot_reach_prompts_queues_or_webhooks(client, post, other_company):
    prompt = post("prompts", {"name": "Mine", "kind": "default"})
    queue = post("queues", {"name": "Mine"})
    webhook = post("webhooks", {"name": "Mine", "url": "https://crm.example.com/route"})
    stranger = other_company["headers"]
    valid = {
        f"/api/v1/prompts/{prompt['id']}": {"name": "X", "kind": "default"},
        f"/api/v1/queues/{queue['id']}": {"name": "X"},
        f"/api/v1/webhooks/{webhook['id']}": {"name": "X", "url": "https://x.example.com"},
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
                        {"kind": "queue", "queue_id": queue["id"]},
                        {"kind": "webhook", "webhook_id": webhook["id"]},
                    ],
                }
            ],
        },
    )
    assert error_fields(steal) == {
        "steps": {
            "0": {
                "destinations": {
                    "0": {"queue_id": [f"no queue {queue['id']} in this company"]},
                    "1": {"webhook_id": [f"no webhook {webhook['id']} in this company"]},
                }
            }
        }
    }
