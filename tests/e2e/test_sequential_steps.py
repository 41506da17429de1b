"""A scheme's steps ring one after another: the next when the previous fails or times out."""

from __future__ import annotations

import socket
import time

import pytest

from . import sip_log
from .calls import carrier_call, employee, history_line, parallel, rung, silent_phone
from .sipp import Sipp, free_udp_port


@pytest.fixture
def two_steps(api, demo_steps):
    """The demo scheme rings Anna (101) first, then Boris (102): restored afterwards."""
    demo_steps(parallel(employee(api, "101"), timeout=15), parallel(employee(api, "102"), timeout=20))


def _carrier_call(stack, sip_target, demo) -> Sipp:
    return carrier_call(stack, sip_target, demo["number"], timeout_s=60, recv_timeout_s=40)


def test_busy_on_step_one_rings_step_two_at_once(stack, sip_target, demo, api, register, two_steps, no_registrations):
    anna_port, boris_port = free_udp_port(), free_udp_port()
    assert register("101", anna_port)[0] == 200
    assert register("102", boris_port)[0] == 200
    anna = Sipp("uas_reject.xml", port=anna_port, values={"code": 486, "phrase": "Busy Here"}).start()
    boris = Sipp("uas_answer.xml", port=boris_port, keys={"rtp_port": free_udp_port()}).start()

    caller = _carrier_call(stack, sip_target, demo)
    carrier = caller.run()
    busy, answered = anna.wait(), boris.wait()

    assert carrier.returncode == 0, carrier.explain()
    assert busy.returncode == 0, busy.explain()
    assert answered.returncode == 0, answered.explain()
    assert sip_log.first(sip_log.received(answered.messages), "INVITE ").startswith(
        f"INVITE sip:102@127.0.0.1:{boris_port}"
    )
    # History: one line, a call to Boris who answered at step 2, forwarded from Anna.
    line = history_line(api, caller.call_id())
    assert (line["direction"], line["called"], line["status"], line["employee_label"], line["forwarded"]) == (
        "incoming",
        demo["number"],
        "answered",
        "employee 102 Boris Support",
        True,
    )
    assert [(leg["step"], leg["target"], leg["answered"]) for leg in line["legs"]] == [
        (1, "employee 101 Anna Sales", False),
        (2, "employee 102 Boris Support", True),
    ]
    assert line["talk_seconds"] >= 0.3


def test_no_answer_on_step_one_rings_step_two_after_its_timeout(
    stack, sip_target, demo, register, two_steps, no_registrations
):
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # Anna's phone never replies
    silent.bind(("127.0.0.1", 0))
    boris_port = free_udp_port()
    assert register("101", silent.getsockname()[1])[0] == 200
    assert register("102", boris_port)[0] == 200
    boris = Sipp(
        "uas_answer.xml", port=boris_port, keys={"rtp_port": free_udp_port()}, timeout_s=60, recv_timeout_s=40
    ).start()

    carrier = _carrier_call(stack, sip_target, demo).start()
    silent.settimeout(10)
    silent.recv(65535)  # Anna's phone is rung...
    anna_rung = time.monotonic()
    answered = boris.wait()  # ...and Boris answers once her step has timed out
    boris_rung = time.monotonic()
    carrier_result = carrier.wait()
    silent.close()

    assert carrier_result.returncode == 0, carrier_result.explain()
    assert answered.returncode == 0, answered.explain()
    # Boris's SIPp ends after the whole call (0.3 s of it); his INVITE came after
    # Anna's 15 s step, not before.
    assert 15 <= boris_rung - anna_rung < 25


def test_the_first_to_answer_wins_and_the_other_phone_is_cancelled_with_the_reason(
    stack, sip_target, demo, api, register, no_registrations
):
    anna_port, boris_port = free_udp_port(), free_udp_port()
    assert register("101", anna_port)[0] == 200
    assert register("102", boris_port)[0] == 200
    ringing = Sipp("uas_ring_until_cancelled.xml", port=boris_port).start()
    answering = Sipp("uas_answer.xml", port=anna_port, keys={"rtp_port": free_udp_port()}).start()

    caller = _carrier_call(stack, sip_target, demo)
    carrier = caller.run()
    answered, cancelled = answering.wait(), ringing.wait()

    assert carrier.returncode == 0, carrier.explain()
    assert answered.returncode == 0, answered.explain()
    assert cancelled.returncode == 0, cancelled.explain()
    cancel = sip_log.first(sip_log.received(cancelled.messages), "CANCEL ")
    # RFC 3326: the text is optional, and tm leaves it out when the losing
    # phone's 180 reached it only after the winner's 200 (its CANCEL waited).
    assert sip_log.header(cancel, "Reason") in ('SIP;cause=200;text="Call completed elsewhere"', "SIP;cause=200")
    # Both rang in one step; the line names the one whose branch answered.
    line = history_line(api, caller.call_id())
    assert (line["employee_label"], line["forwarded"]) == ("employee 101 Anna Sales", False)
    assert sorted((leg["target"], leg["answered"]) for leg in line["legs"]) == [
        ("employee 101 Anna Sales", True),
        ("employee 102 Boris Support", False),
    ]


def test_a_caller_who_hangs_up_while_step_one_rings_ends_the_plan(
    stack, sip_target, demo, api, register, two_steps, no_registrations
):
    anna_port = free_udp_port()
    boris = silent_phone()  # step 2's phone
    assert register("101", anna_port)[0] == 200
    assert register("102", boris.getsockname()[1])[0] == 200
    anna = Sipp("uas_ring_until_cancelled.xml", port=anna_port).start()

    caller = Sipp(
        "uac_cancel.xml",
        port=stack.ports.demo_trunk,
        remote=sip_target,
        service=demo["number"],
        keys={"rtp_port": free_udp_port()},
    )
    carrier = caller.run()
    cancelled = anna.wait()

    assert carrier.returncode == 0, carrier.explain()
    assert cancelled.returncode == 0, cancelled.explain()
    # Had failure_route gone on to step 2, its INVITE would have left before the
    # 487 the carrier has already ACKed: it would be waiting on this socket.
    assert not rung(boris)
    boris.close()
    line = history_line(api, caller.call_id())
    assert (line["status"], line["end_reason"], line["employee_id"]) == ("missed", "caller_cancelled", None)
    assert [leg["target"] for leg in line["legs"]] == ["employee 101 Anna Sales"]
