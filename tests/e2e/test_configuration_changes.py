"""A change made through the running sidecar applies to the very next call."""

from __future__ import annotations

from .calls import answered_call, employee, parallel, rung, silent_phone
from .sipp import free_udp_port


def test_the_next_call_follows_a_scheme_changed_through_the_api(
    stack, api, register, sip_target, demo, demo_steps, no_registrations
):
    anna, boris_port = silent_phone(), free_udp_port()
    anna_port = anna.getsockname()[1]
    assert register("101", anna_port)[0] == 200
    assert register("102", boris_port)[0] == 200

    demo_steps(parallel(employee(api, "102"), timeout=20))
    invite = answered_call(stack, sip_target, demo["number"], boris_port)
    assert invite.startswith(f"INVITE sip:102@127.0.0.1:{boris_port}")
    assert not rung(anna)
    anna.close()

    demo_steps(parallel(employee(api, "101"), timeout=20))
    boris = silent_phone(boris_port)
    invite = answered_call(stack, sip_target, demo["number"], anna_port)
    assert invite.startswith(f"INVITE sip:101@127.0.0.1:{anna_port}")
    assert not rung(boris)
    boris.close()
