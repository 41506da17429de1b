"""R16: a known client's call rings their responsible manager first, and the CRM's
no-answer rule takes priority over the manager's own (seed 003)."""

from __future__ import annotations

import time

import pytest

from . import sip_log
from .calls import carrier_call, employee, history_line, parallel, rung, silent_phone
from .customer_server import Reply, serve
from .sipp import Sipp, free_udp_port

CLIENT = "+79161234567"  # the demo carrier's caller (uac_call.xml: 79161234567)


@pytest.fixture
def carl(api):
    """A third employee: whom Anna's own no-answer rule forwards to."""
    status, created = api("POST", "/employees", {"name": "Carl Sidorov", "extension": "103"})
    assert status == 201, created
    yield created
    anna = employee(api, "101")
    api("PATCH", f"/employees/{anna['employee_id']}", {"no_answer": {"rule": "busy"}})
    status, body = api("DELETE", f"/employees/{created['id']}")
    assert status == 204, body


@pytest.fixture
def crm(api, demo_steps):
    """The demo number rings the responsible manager (15 s), then Boris (102);
    the CRM integration, its clients and Anna's own rule are restored afterwards."""
    anna = employee(api, "101")
    demo_steps(parallel({"kind": "responsible_manager"}, timeout=15), parallel(employee(api, "102"), timeout=20))

    def _configure(**settings) -> None:
        status, body = api("PUT", "/crm", settings)
        assert status == 200, body

    yield _configure
    api("DELETE", f"/crm/clients/{CLIENT}")
    api("DELETE", "/crm")
    api("PATCH", f"/employees/{anna['employee_id']}", {"no_answer": {"rule": "busy"}})


def _push(api, phone: str, employee_id: int) -> None:
    status, body = api("PUT", "/crm/clients", {"clients": [{"phone": phone, "employee_id": employee_id}]})
    assert (status, body) == (200, {"upserted": 1})


def _carrier(stack, sip_target, demo) -> Sipp:
    return carrier_call(stack, sip_target, demo["number"], timeout_s=60, recv_timeout_s=40)


def _answering(register, extension: str, **kwargs) -> Sipp:
    port = free_udp_port()
    assert register(extension, port, **kwargs)[0] == 200
    return Sipp("uas_answer.xml", port=port, keys={"rtp_port": free_udp_port()}, timeout_s=60).start()


@pytest.mark.parametrize("crm_rule", ["forward to Boris", "none"])
def test_the_manager_rings_first_and_the_crm_rule_beats_the_managers_own(
    stack, sip_target, demo, api, register, crm, carl, no_registrations, crm_rule
):
    anna, boris = employee(api, "101"), employee(api, "102")
    # Anna's own rule forwards to Carl; the CRM's, when set, to Boris.
    status, body = api(
        "PATCH",
        f"/employees/{anna['employee_id']}",
        {"no_answer": {"rule": "forward_employee", "employee_id": carl["id"]}},
    )
    assert status == 200, body
    if crm_rule == "none":
        crm(no_answer_rule="none")
    else:
        crm(no_answer_rule="forward_employee", no_answer_employee_id=boris["employee_id"], no_answer_ring_s=20)
    _push(api, CLIENT, anna["employee_id"])
    anna_phone = silent_phone()
    assert register("101", anna_phone.getsockname()[1])[0] == 200
    expected, other = ("102", "103") if crm_rule != "none" else ("103", "102")
    other_phone = silent_phone()
    assert (
        register(other, other_phone.getsockname()[1], **({"password": carl["sip_password"]} if other == "103" else {}))[
            0
        ]
        == 200
    )
    forwarded_to = _answering(register, expected, **({"password": carl["sip_password"]} if expected == "103" else {}))

    caller = _carrier(stack, sip_target, demo)
    started = time.monotonic()
    process = caller.start()
    anna_phone.settimeout(5)
    assert anna_phone.recv(65535).startswith(b"INVITE sip:101@")  # the manager first
    answered = forwarded_to.wait()
    forwarded_after = time.monotonic() - started
    carrier = process.wait()

    assert carrier.returncode == 0, carrier.explain()
    assert answered.returncode == 0, answered.explain()
    assert sip_log.first(sip_log.received(answered.messages), "INVITE ").startswith(f"INVITE sip:{expected}@")
    assert rung(other_phone) is None
    assert 15 <= forwarded_after < 25  # after the manager's 15 s
    line = history_line(api, caller.call_id())
    assert [leg["target"].split(" ")[1] for leg in line["legs"]] == ["101", expected]
    assert (line["status"], line["forwarded"]) == ("answered", True)


def test_an_unknown_caller_goes_straight_to_the_next_step(
    stack, sip_target, demo, api, register, crm, no_registrations
):
    crm()
    anna_phone = silent_phone()
    assert register("101", anna_phone.getsockname()[1])[0] == 200
    boris = _answering(register, "102")

    carrier = _carrier(stack, sip_target, demo).run()

    assert carrier.returncode == 0, carrier.explain()
    assert boris.wait().returncode == 0
    assert rung(anna_phone) is None


def test_the_crm_lookup_url_names_the_manager_and_its_answer_is_cached(
    stack, sip_target, demo, api, register, crm, no_registrations
):
    customer, server = serve()
    try:
        customer.reply = Reply.of({"extension": "102", "crm_name": "Petr"})
        crm(lookup_url=f"{customer.base}/owner", budget_ms=1000, cache_ttl_s=60)
        for _ in range(2):
            boris = _answering(register, "102")
            carrier = _carrier(stack, sip_target, demo).run()
            assert carrier.returncode == 0, carrier.explain()
            assert boris.wait().returncode == 0
        (request,) = customer.got(1)
        assert len(customer.requests) == 1  # the second call used the cached answer
        assert (request.method, request.path) == ("GET", "/owner?phone=%2B79161234567")
        assert request.headers["X-Vpbx-Signature"].startswith("t=")
    finally:
        server.shutdown()
        server.server_close()


def test_a_crm_lookup_that_fails_moves_on_to_the_next_step(
    stack, sip_target, demo, api, register, crm, no_registrations
):
    customer, server = serve()
    try:
        customer.reply = Reply(status=200, body=b"{}", delay_s=3)
        crm(lookup_url=f"{customer.base}/owner", budget_ms=500, cache_ttl_s=0)
        boris = _answering(register, "102")
        started = time.monotonic()
        carrier = _carrier(stack, sip_target, demo).run()
        assert carrier.returncode == 0, carrier.explain()
        assert boris.wait().returncode == 0
        assert time.monotonic() - started < 0.5 + 2
        customer.got(1)
    finally:
        server.shutdown()
        server.server_close()


def test_the_client_lookup_endpoint_names_the_manager(api, crm):
    anna = employee(api, "101")
    _push(api, "8 916 123-45-67", anna["employee_id"])

    status, body = api("GET", f"/crm/clients/{CLIENT}")

    assert (status, body) == (
        200,
        {"phone": CLIENT, "employee_id": anna["employee_id"], "extension": "101", "name": "Anna Sales"},
    )
    assert api("GET", "/crm/clients/+79160000000")[0] == 404


def test_a_push_naming_a_stranger_is_refused_whole(api, crm):
    anna = employee(api, "101")

    status, body = api(
        "PUT",
        "/crm/clients",
        {
            "clients": [
                {"phone": "+79160000001", "employee_id": anna["employee_id"]},
                {"phone": "+79160000002", "employee_id": 999999},
            ]
        },
    )

    assert status == 422
    assert body["error"]["fields"] == {"clients.1.employee_id": ["no employee 999999 in this company"]}
    assert api("GET", "/crm/clients/+79160000001")[0] == 404
