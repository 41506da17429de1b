"""Attacks on a running stack: the SIP edge, tenant isolation, outbound HTTP
and the admin API. Each test reproduces a probe an attacker on the network
would send and asserts it is refused, and that nothing reached a listener
the attacker aimed at (always on loopback)."""

from __future__ import annotations

# The end-to-end fixtures (Kamailio RPC, the stack's API, SIP targets) serve here too.
from ..e2e.conftest import (  # noqa: F401
    api,
    carrier,
    demo_steps,
    ng,
    no_registrations,
    register,
    rpc,
    sip_phone,
    sip_target,
)
