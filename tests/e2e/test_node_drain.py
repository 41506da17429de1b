"""A node drained before it is stopped (`vpbx node drain`, the rolling upgrade
in ansible/upgrade.yml): carriers and phones get 503 with Retry-After for
anything new, its keepalive too, while the call already on it goes on to its
end; taken back, it takes calls again."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vpbx import node_drain

from . import raw_sip
from .calls import history_line
from .sip_ua import UserAgent, offer

VPBX = [sys.executable, "-m", "vpbx.cli"]


def _drain(stack, timeout_s: float) -> subprocess.CompletedProcess:
    command = [*VPBX, "node", "drain", "--config", str(stack.config_path), "--timeout", str(timeout_s)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def _answered(carrier: UserAgent, phone: UserAgent, number: str):
    call = carrier.invite(number, offer(9, None), from_user="+79991234567")
    answered = phone.answer(phone.wait_request("INVITE"), offer(9, None))
    carrier.answered(call)
    phone.acked(answered)
    return call


@pytest.fixture
def undrained(rpc):
    yield
    node_drain.end(rpc)


def test_a_draining_node_refuses_what_is_new_and_lets_its_call_end(
    stack, cfg, api, demo, carrier, sip_phone, rpc, undrained
):
    phone = sip_phone("101")
    up = _answered(carrier, phone, demo["number"])

    # The call stays up: the drain gives up after its timeout, and says so.
    timed_out = _drain(stack, 1)
    assert timed_out.returncode == 1, timed_out.stdout + timed_out.stderr
    assert "1 call(s) still up" in timed_out.stderr
    assert up.call_id in timed_out.stderr  # which one the drain waits for
    assert node_drain.draining(rpc)

    new = carrier.invite(demo["number"], offer(9, None), from_user="+79991234568")
    refused = carrier.refused(new)
    assert refused.status == 503, refused
    assert refused.header("Retry-After") == "30"
    assert 'text="Node draining"' in refused.header("Reason")
    keepalive, sock = raw_sip.request("OPTIONS", f"sip:{cfg.sip.host}:{cfg.sip.port}")
    assert raw_sip.exchange((cfg.sip.host, cfg.sip.port), keepalive, sock).split(" ", 2)[1] == "503"

    # The call on the node is not touched: its BYE goes through.
    carrier.hang_up_on(up, phone)
    drained = _drain(stack, 10)
    assert drained.returncode == 0, drained.stdout + drained.stderr
    assert "calls on this node: 0" in drained.stdout
    assert history_line(api, up.call_id)["status"] == "answered"

    node_drain.end(rpc)
    assert not node_drain.draining(rpc)
    carrier.hang_up_on(_answered(carrier, phone, demo["number"]), phone)
