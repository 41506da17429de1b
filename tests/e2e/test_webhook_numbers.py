"""R17: a webhook number's route is chosen by the customer's URL, and a webhook
that fails in any way sends the call to its fallback: never dead air."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from vpbx.stack.process import wait_for

from . import sip_log
from .calls import employee, history_line, parallel, rung, silent_phone
from .customer_server import Reply
from .sipp import Sipp, free_udp_port

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def webhook_number(api, demo_steps, customer):
    """The demo number asks a webhook at the customer server; its fallback scheme rings Boris (102).

    Yields a function that (re)configures the webhook and returns it with its secret."""
    status, fallback = api("POST", "/schemes", {"name": "Webhook fallback", "steps": [parallel(employee(api, "102"))]})
    assert status == 201, fallback
    created = []

    def _configure(**settings) -> dict:
        body = {
            "name": "router",
            "url": customer.url,
            "budget_ms": 1000,
            "fallback_scheme_id": fallback["id"],
            **settings,
        }
        if not created:
            status, hook = api("POST", "/webhooks", body)
            assert status == 201, hook
            created.append(hook)
            demo_steps(parallel({"kind": "webhook", "webhook_id": hook["id"]}))
        else:
            status, hook = api("PUT", f"/webhooks/{created[0]['id']}", body)
            assert status == 200, hook
            hook["secret"] = created[0]["secret"]
        return hook

    yield _configure
    demo_steps(parallel(employee(api, "101"), employee(api, "102")))
    for hook in created:
        api("DELETE", f"/webhooks/{hook['id']}")
    api("DELETE", f"/schemes/{fallback['id']}")


def _answering(register, extension: str) -> Sipp:
    port = free_udp_port()
    assert register(extension, port)[0] == 200
    return Sipp("uas_answer.xml", port=port, keys={"rtp_port": free_udp_port()}).start()


def _carrier(stack, sip_target, demo) -> Sipp:
    return Sipp(
        "uac_call.xml",
        port=stack.ports.demo_trunk,
        remote=sip_target,
        service=demo["number"],
        keys={"rtp_port": free_udp_port()},
        duration_ms=300,
    )


def _readme_verifier():
    """The signature check the README gives customers, run as they would run it."""
    code = re.search(r"<!-- signature-sample -->\s*```python\n(.*?)```", README.read_text(), re.S).group(1)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 (the README's own example, run as documented)
    return scope["verify_vpbx_signature"]


def test_the_webhook_answer_rings_the_employee_it_names_and_the_request_is_signed(
    stack, sip_target, demo, api, register, webhook_number, customer, no_registrations
):
    anna = employee(api, "101")
    hook = webhook_number()
    customer.reply = Reply.of(
        {"action": "ring", "destinations": [{"kind": "employee", "extension": "101"}], "timeout": 20}
    )
    phone = _answering(register, "101")

    caller = _carrier(stack, sip_target, demo)
    carrier = caller.run()
    answered = phone.wait()

    assert carrier.returncode == 0, carrier.explain()
    assert answered.returncode == 0, answered.explain()
    (request,) = customer.got(1)
    sent = request.json()
    assert (sent["call_id"], sent["from"], sent["to"], sent["number"], sent["attempt"]) == (
        caller.call_id(),
        "79161234567",
        demo["number"],
        demo["number"],
        1,
    )
    assert sent["company"]["name"] == "Demo Company"
    verify = _readme_verifier()
    assert verify(hook["secret"], request.headers["X-Vpbx-Signature"], request.body)
    assert not verify("another secret", request.headers["X-Vpbx-Signature"], request.body)
    assert not verify(hook["secret"], request.headers["X-Vpbx-Signature"], request.body + b" ")
    line = history_line(api, caller.call_id())
    assert (line["status"], line["employee_id"]) == ("answered", anna["employee_id"])


FAILURES = {
    "slow": Reply.of({"action": "ring", "destinations": [{"kind": "employee", "extension": "101"}]}, delay_s=3),
    "server-error": Reply(status=500, body=b'{"error": "boom"}'),
    "not-json": Reply(body=b"<html>ok</html>"),
    "invalid-answer": Reply.of({"action": "ring"}),
    "unknown-action": Reply.of({"action": "dance"}),
    "hang-up": Reply(hang_up=True),
}


@pytest.mark.parametrize("failure", list(FAILURES), ids=list(FAILURES))
def test_a_failing_webhook_sends_the_call_to_its_fallback_within_the_budget(
    stack, sip_target, demo, api, register, webhook_number, customer, no_registrations, failure
):
    hook = webhook_number(budget_ms=1000)
    customer.reply = FAILURES[failure]
    boris = _answering(register, "102")

    caller = _carrier(stack, sip_target, demo)
    started = time.monotonic()
    process = caller.start()
    answered = boris.wait()
    rung_after = time.monotonic() - started
    carrier = process.wait()

    assert carrier.returncode == 0, carrier.explain()
    assert answered.returncode == 0, answered.explain()
    assert sip_log.first(sip_log.received(answered.messages), "INVITE ").startswith("INVITE sip:102@")
    customer.got(1)
    # The budget bounds the wait: the fallback rang within it (plus SIP and the 0.3 s call).
    assert rung_after < 1.0 + 1.5
    status, report = api("GET", f"/webhooks/{hook['id']}/failures")
    assert status == 200, report
    assert report["failures"][0]["call_id"] == caller.call_id()
    assert (
        report["failures"][0]["kind"]
        == {
            "slow": "timeout",
            "server-error": "http_status",
            "not-json": "invalid_answer",
            "invalid-answer": "invalid_answer",
            "unknown-action": "invalid_answer",
            "hang-up": "connection",
        }[failure]
    )


def test_a_webhook_rejecting_the_call_ends_it_with_its_code_and_a_reason(
    stack, sip_target, demo, api, webhook_number, customer, no_registrations
):
    webhook_number()
    customer.reply = Reply.of({"action": "reject", "code": 486})

    caller = Sipp(
        "uac_rejected.xml",
        port=stack.ports.demo_trunk,
        remote=sip_target,
        service=demo["number"],
        keys={"rtp_port": free_udp_port()},
        values={"final": 486, "reason": "Q\\.850;cause=17"},
    )
    result = caller.run()

    assert result.returncode == 0, result.explain()
    line = history_line(api, caller.call_id())
    assert (line["status"], line["end_reason"]) == ("missed", "busy")


def test_the_breaker_opens_after_failures_in_a_row_and_one_call_probes_after_the_pause(
    stack, sip_target, demo, api, register, webhook_number, customer, no_registrations
):
    hook = webhook_number(breaker_failures=2, breaker_open_s=3)
    customer.reply = Reply(status=503)
    for _ in range(2):
        boris = _answering(register, "102")
        assert _carrier(stack, sip_target, demo).run().returncode == 0
        assert boris.wait().returncode == 0
    assert len(customer.requests) == 2
    opened = time.monotonic()

    # Open: the fallback at once, and the webhook is not asked.
    boris = _answering(register, "102")
    assert _carrier(stack, sip_target, demo).run().returncode == 0
    assert boris.wait().returncode == 0
    assert len(customer.requests) == 2
    status, report = api("GET", f"/webhooks/{hook['id']}/failures")
    assert report["breaker"]["failures_in_a_row"] == 2 and report["breaker"]["open_until"]

    # Half-open after 3 s: the next call asks again, and a good answer closes the breaker.
    customer.reply = Reply.of({"action": "ring", "destinations": [{"kind": "employee", "extension": "101"}]})
    while time.monotonic() - opened < 3.2:
        time.sleep(0.1)
    for _ in range(2):
        anna = _answering(register, "101")
        assert _carrier(stack, sip_target, demo).run().returncode == 0
        assert anna.wait().returncode == 0
    assert len(customer.requests) == 4
    status, report = api("GET", f"/webhooks/{hook['id']}/failures")
    assert report["breaker"] == {"failures_in_a_row": 0, "open_until": None}


def test_a_dry_run_shows_what_vpbx_sends_and_what_came_back(api, webhook_number, customer):
    hook = webhook_number()
    customer.reply = Reply.of({"action": "scheme", "scheme_id": 999999})

    status, result = api("POST", f"/webhooks/{hook['id']}/test", {"caller": "+79161234567"})

    assert status == 200, result
    assert result["sent"]["body"]["from"] == "+79161234567"
    assert result["sent"]["headers"]["X-Vpbx-Signature"].startswith("t=")
    assert result["received"]["status"] == 200
    assert result["answer"] == {
        "action": "scheme",
        "scheme_id": 999999,
        "mode": "parallel",
        "timeout": 30,
        "queue_priority": 0,
    }
    assert result["failure"] is None
    # A dry run is no call: nothing counts against the breaker.
    customer.reply = Reply(status=500)
    status, result = api("POST", f"/webhooks/{hook['id']}/test", {})
    assert (status, result["failure"], result["received"]["status"]) == (200, "http_status: HTTP 500", 500)
    assert api("GET", f"/webhooks/{hook['id']}/failures")[1]["failures"] == []


def test_rotating_the_secret_signs_the_next_requests_with_the_new_one(api, webhook_number, customer):
    hook = webhook_number()
    status, rotated = api("POST", f"/webhooks/{hook['id']}/secret")
    assert status == 200 and rotated["secret"] != hook["secret"]

    api("POST", f"/webhooks/{hook['id']}/test", {})

    verify = _readme_verifier()
    (request,) = customer.got(1)
    assert verify(rotated["secret"], request.headers["X-Vpbx-Signature"], request.body)
    assert not verify(hook["secret"], request.headers["X-Vpbx-Signature"], request.body)


def test_a_caller_hanging_up_while_the_webhook_is_asked_ends_cleanly_and_nothing_rings(
    stack, sip_target, demo, api, register, webhook_number, customer, ng, no_registrations
):
    webhook_number(budget_ms=2000)
    customer.reply = Reply.of(
        {"action": "ring", "destinations": [{"kind": "employee", "extension": "102"}]}, delay_s=1.5
    )
    boris = silent_phone()
    assert register("102", boris.getsockname()[1])[0] == 200
    calls_before = set(ng.list_calls())

    caller = Sipp(
        "uac_cancel_early.xml",
        port=stack.ports.demo_trunk,
        remote=sip_target,
        service=demo["number"],
        keys={"rtp_port": free_udp_port()},
        values={"after_ms": 300},
    )
    result = caller.run()

    # 100; 200 for the CANCEL at once; 487 for the INVITE once the lookup's task resumes.
    assert result.returncode == 0, result.explain()
    (request,) = customer.got(1)
    # The webhook's answer (1.5 s after it was asked) comes for a call already
    # over: nothing may ring then. Wait until well past that moment.
    wait_for(lambda: time.monotonic() - request.at > 2.5, 5, "the webhook's late answer")
    assert rung(boris) is None
    assert set(ng.list_calls()) <= calls_before
    line = history_line(api, caller.call_id(), ended=False)
    assert (line["status"], line["end_reason"], line["legs"]) == ("missed", "caller_cancelled", [])


def test_a_good_answer_is_reused_for_the_same_caller_while_its_cache_lasts(
    stack, sip_target, demo, api, register, webhook_number, customer, no_registrations
):
    webhook_number(cache_ttl_s=60)
    customer.reply = Reply.of({"action": "ring", "destinations": [{"kind": "employee", "extension": "101"}]})
    for _ in range(2):
        anna = _answering(register, "101")
        carrier = _carrier(stack, sip_target, demo).run()
        assert carrier.returncode == 0, carrier.explain()
        assert anna.wait().returncode == 0
    customer.got(1)
    assert len(customer.requests) == 1
