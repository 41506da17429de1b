"""The post-call category menu (seed 002) on a real call: the caller hangs up,
the operator who answered stays on the line, hears the menu and presses the
call's category, which the caller's history line keeps. Built only through
the API."""

from __future__ import annotations

import time
from contextlib import contextmanager

import pytest

from vpbx.lookups.signing import verify
from vpbx.media.load import media_app_load
from vpbx.stack.process import wait_for

from .calls import history_line, parallel
from .customer_server import Reply, serve
from .media_caller import CallerAudio, answering_phone, ended, hang_up_after, heard_as, media_call

NUMBER = "+74951110078"


@contextmanager
def _caller_hung_up(stack, sip_target, register, *, ring_ms: int, talk_ms: int):
    """A carrier calls NUMBER; Anna's phone (101) answers after ``ring_ms``;
    the caller hangs up ``talk_ms`` after the media app answered. Yields
    (the caller's Call-ID, Anna's SIPp, her menu stream): a socket of the
    test's, where her phone takes the menu's re-INVITE."""
    menu_audio = CallerAudio()
    try:
        with answering_phone(
            register,
            "101",
            scenario="uas_answer_then_menu.xml",
            ring_ms=ring_ms,
            keys={"menu_rtp_port": menu_audio.port},
        ) as (agent, _agent_rtp):
            sipp, audio = media_call(stack, sip_target, NUMBER, ending=hang_up_after(talk_ms))
            caller = ended(sipp, audio)
            assert caller.returncode == 0, caller.explain()
            yield sipp.call_id(), agent, menu_audio
    finally:
        menu_audio.close()


def _menu_number(api, made, wait: int = 5) -> dict:
    """NUMBER ringing Anna (101) with a category menu: (Anna, the menu)."""
    anna = next(e for e in api("GET", "/employees")[1] if e["extension"] == "101")
    menu = made("/category-menus", {"name": "E2E outcome", "categories": {"1": "Sale", "2": "Support"}, "wait": wait})
    scheme = made(
        "/schemes",
        {
            "name": "E2E categorized",
            "category_menu_id": menu["id"],
            "steps": [parallel({"kind": "employee", "employee_id": anna["id"]})],
        },
    )
    made("/numbers", {"number": NUMBER, "scheme_id": scheme["id"]})
    return anna


@pytest.fixture
def crm_events(api):
    """The company's CRM, taking call events at a real local server (the
    first POST fails with a 503: vpbx retries); the integration is deleted
    afterwards."""
    server, http = serve()
    server.first, server.reply = [Reply(status=503)], Reply(status=204, body=b"")
    status, body = api("PUT", "/crm", {"events_url": f"{server.base}/events"})
    assert status == 200, body
    yield server, body["secret"]
    api("DELETE", "/crm")
    http.shutdown()


def test_the_operator_presses_the_category_after_the_caller_hung_up(
    stack, cfg, sip_target, api, ng, made, register, no_registrations, crm_events
):
    server, secret = crm_events
    anna = _menu_number(api, made)
    language = api("GET", "/company")[1]["language"]
    with _caller_hung_up(stack, sip_target, register, ring_ms=1000, talk_ms=4000) as (call_id, agent, menu_audio):
        # Anna, after the caller's BYE: the menu on a stream of its own.
        prompt = menu_audio.burst(within=15)
        assert prompt is not None, "the operator heard no category menu"
        menu_audio.press("2")
        saved = menu_audio.burst(within=10)
        answered = agent.wait()
        assert answered.returncode == 0, answered.explain()
    assert heard_as(cfg, prompt, "category_menu", language) > 0.98
    assert saved is not None and heard_as(cfg, saved, "category_saved", language) > 0.98

    def categorized():
        line = history_line(api, call_id)
        return line if line["category"] else None

    line = wait_for(categorized, 10, "the category on the caller's history line")
    assert (line["status"], line["employee_id"]) == ("answered", anna["id"])
    assert (line["category"]["key"], line["category"]["name"]) == ("2", "Support")
    # The CRM got the category, signed with its secret, once it took the retry.
    first, retried = server.got(2)
    assert retried.path == "/events" and retried.method == "POST"
    assert verify(secret, retried.headers["X-Vpbx-Signature"], retried.body, time.time())
    sent = retried.json()
    assert sent["event"] == "call_categorized" and sent["call_id"] == call_id
    assert (sent["key"], sent["category"], sent["employee_id"]) == ("2", "Support", anna["id"])
    assert sent["caller"] == "79161234567" and sent["attempt"] == 2 and first.json()["attempt"] == 1
    # Nothing left: no rtpengine session (the caller's, the menu's), no call in the media app.
    wait_for(lambda: not [c for c in ng.list_calls() if c == call_id or "vpbx-media" in c], 5, "rtpengine")
    wait_for(lambda: media_app_load(stack.ports.media_sip) == (0, 0), 5, "the media app to let go")


def test_nothing_pressed_leaves_the_call_without_a_category(
    stack, cfg, sip_target, api, ng, made, register, no_registrations
):
    _menu_number(api, made, wait=3)
    with _caller_hung_up(stack, sip_target, register, ring_ms=500, talk_ms=3000) as (call_id, agent, menu_audio):
        assert menu_audio.burst(within=15) is not None, "the operator heard no category menu"
        # A key the menu lacks plays the menu again; then nothing is pressed.
        menu_audio.press("9")
        assert menu_audio.burst(within=5) is not None, "the menu was not played again after a wrong key"
        answered = agent.wait()  # the media app's BYE, once the wait ran out
        assert answered.returncode == 0, answered.explain()
    line = history_line(api, call_id)
    assert line["status"] == "answered" and line["category"] is None
    wait_for(lambda: media_app_load(stack.ports.media_sip) == (0, 0), 5, "the media app to let go")


def test_a_menu_is_checked_and_cannot_go_while_a_scheme_uses_it(api, made):
    status, body = api("POST", "/category-menus", {"name": "E2E bad", "categories": {"x": "Sale"}})
    assert status == 422 and "categories" in body["error"]["fields"], body
    status, body = api("POST", "/category-menus", {"name": "E2E bad", "categories": {}})
    assert status == 422 and "categories" in body["error"]["fields"], body
    status, body = api("POST", "/category-menus", {"name": "E2E bad", "categories": {"1": "Sale"}, "prompt_id": 999999})
    assert status == 422 and "prompt_id" in body["error"]["fields"], body
    anna = _menu_number(api, made)
    step = parallel({"kind": "employee", "employee_id": anna["id"]})
    status, body = api("POST", "/schemes", {"name": "E2E bad", "category_menu_id": 999999, "steps": [step]})
    assert status == 422 and "category_menu_id" in body["error"]["fields"], body
    menus = api("GET", "/category-menus")[1]
    menu = next(m for m in menus if m["name"] == "E2E outcome")
    assert menu["categories"] == {"1": "Sale", "2": "Support"} and menu["wait"] == 5
    status, body = api("DELETE", f"/category-menus/{menu['id']}")
    assert status == 422 and "scheme 'E2E categorized'" in str(body), body
