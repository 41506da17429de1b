"""/metrics counts real calls: scraped before and after an answered call, a
busy one, one whose webhook timed out and one that left a voicemail message,
each counter moved by exactly what happened."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from vpbx.stack.process import wait_for

from ..scrape import metrics_text
from .calls import employee, history_line, parallel
from .customer_server import Reply
from .media_caller import ended, media_call, message_of
from .sipp import Sipp, free_udp_port
from .wav import alaw_to_linear, dominant_frequency


def _samples(stack) -> dict:
    """{(sample name, frozenset of labels): value} of the call families on /metrics."""
    text = metrics_text(stack)
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        if family.name.startswith(("vpbx_call", "vpbx_lookup", "vpbx_voicemail", "vpbx_media_app"))
        for sample in family.samples
    }


def _ends_with_the_beep(burst) -> bool:
    """Whether the burst's last 100 ms are the beep (1000 Hz): the caller speaks after it."""
    return abs(dominant_frequency(b"".join(alaw_to_linear(p) for p in burst.payloads[-5:])) - 1000) < 50


def _moved(before: dict, after: dict) -> dict:
    return {key: value - before.get(key, 0.0) for key, value in after.items() if value != before.get(key, 0.0)}


def _carrier(stack, sip_target, number) -> Sipp:
    return Sipp(
        "uac_call_any_end.xml",
        port=stack.ports.demo_trunk,
        remote=sip_target,
        service=number,
        keys={"rtp_port": free_udp_port()},
        values={"talk_ms": 300},
    )


def _phone(port: int, scenario: str, **values) -> Sipp:
    """Anna's phone at its registered contact, answering the next call as ``scenario`` says."""
    return Sipp(scenario, port=port, keys={"rtp_port": free_udp_port()}, values=values or None).start()


def _call(stack, sip_target, number, phone: Sipp) -> str:
    caller = _carrier(stack, sip_target, number)
    result = caller.run()
    assert result.returncode == 0, result.explain()
    assert phone.wait().returncode == 0
    return caller.call_id()


def test_each_counter_moves_by_exactly_the_calls_made(
    stack, sip_target, demo, api, register, demo_steps, voicemail_box, customer, db, no_registrations
):
    number = demo["number"]
    status, fallback = api("POST", "/schemes", {"name": "Metrics fallback", "steps": [parallel(employee(api, "101"))]})
    assert status == 201, fallback
    status, hook = api(
        "POST",
        "/webhooks",
        {"name": "metrics", "url": customer.url, "budget_ms": 1000, "fallback_scheme_id": fallback["id"]},
    )
    assert status == 201, hook
    customer.reply = Reply.of({"action": "ring", "destinations": []}, delay_s=3)
    box = voicemail_box(name="Metrics box", silence_s=3)
    anna = free_udp_port()
    assert register("101", anna)[0] == 200
    before = _samples(stack)
    calls = []
    try:
        demo_steps(parallel(employee(api, "101")))
        calls.append(_call(stack, sip_target, number, _phone(anna, "uas_answer.xml")))
        calls.append(_call(stack, sip_target, number, _phone(anna, "uas_reject.xml", code=486, phrase="Busy Here")))
        demo_steps(parallel({"kind": "webhook", "webhook_id": hook["id"]}))
        calls.append(_call(stack, sip_target, number, _phone(anna, "uas_answer.xml")))
        demo_steps(parallel({"kind": "voicemail", "voicemail_box_id": box["id"]}, timeout=15))
        sipp, audio = media_call(stack, sip_target, number)
        prompts = audio.burst(within=15)  # the greeting, then the beep
        assert prompts is not None, "no greeting"
        if not _ends_with_the_beep(prompts):  # a pause between them ended the burst early
            assert audio.burst(within=5) is not None, "no beep after the greeting"
        # While the caller is in the box, the media app says it holds one voicemail call.
        held = {
            dict(labels)["kind"]: value
            for (name, labels), value in _samples(stack).items()
            if name == "vpbx_media_app_calls"
        }
        assert held == {"voicemail": 1.0}
        audio.speak(2.0, frequency=440)
        audio.silence(0.4)
        audio.press("#")
        assert audio.burst(within=5) is not None, "no goodbye after #"
        assert ended(sipp, audio).returncode == 0
        message_of(db, sipp.call_id())
        calls.append(sipp.call_id())
    finally:
        demo_steps(parallel(employee(api, "101"), employee(api, "102")))
        api("DELETE", f"/webhooks/{hook['id']}")
        api("DELETE", f"/schemes/{fallback['id']}")
    lines = [history_line(api, call_id) for call_id in calls]
    assert [(line["status"], line["voicemail"]) for line in lines] == [
        ("answered", False),
        ("missed", False),
        ("answered", False),
        ("missed", True),
    ]

    def counted():  # the voicemail event is the last to reach the history
        moved = _moved(before, _samples(stack))
        return moved if any(key[0] == "vpbx_voicemail_messages_total" for key in moved) else None

    moved = wait_for(counted, 10, "the voicemail message in the metrics")
    company = str(api("GET", "/company")[1]["id"])
    trunk = next(dict(labels)["trunk"] for name, labels in moved if name == "vpbx_calls_total")
    labels = {"company_id": company, "direction": "incoming", "number": number, "trunk": trunk}

    def calls_total(outcome, reason, code_class):
        return (
            "vpbx_calls_total",
            frozenset({**labels, "outcome": outcome, "reason": reason, "code_class": code_class}.items()),
        )

    assert trunk, "the trunk the calls came in on is named"
    assert {key: value for key, value in moved.items() if key[0] == "vpbx_calls_total"} == {
        calls_total("answered", "", "2xx"): 2.0,  # Anna, once directly and once by the webhook's fallback
        calls_total("missed", "busy", "4xx"): 1.0,
        calls_total("missed", "no_answer", "2xx"): 1.0,  # the voicemail box answered
    }
    assert moved[("vpbx_voicemail_messages_total", frozenset({("company_id", company)}))] == 1.0
    timeout = frozenset({"company_id": company, "lookup": "webhook", "outcome": "timeout"}.items())
    assert {key: value for key, value in moved.items() if key[0] == "vpbx_lookups_total"} == {
        ("vpbx_lookups_total", timeout): 1.0
    }
    incoming = frozenset({("direction", "incoming")})
    # Each call that rang; the busy phone refused at once, so that call never did.
    assert moved[("vpbx_call_setup_seconds_count", incoming)] == 3.0
    assert moved[("vpbx_call_plan_seconds_count", incoming)] == 4.0
    # The webhook's call rang only after its 1 s budget ran out.
    assert moved[("vpbx_call_setup_seconds_sum", incoming)] >= 1.0
    webhook_seconds = moved[("vpbx_lookup_seconds_sum", frozenset({"lookup": "webhook", "outcome": "timeout"}.items()))]
    assert 0.9 <= webhook_seconds <= 1.5
