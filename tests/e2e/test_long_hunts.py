"""A call rings every member of a long hunt: more phones, one after another,
than Kamailio's default of 12 branches per transaction."""

from __future__ import annotations

import pytest

from . import sip_log
from .calls import carrier_call, history_line, parallel
from .sipp import Sipp, free_udp_port

MEMBERS = 14  # past Kamailio's default max_branches (12)


@pytest.fixture
def hunt(api, register, demo_steps):
    """An in-order department of 14 new employees, each registered at a port of its own."""
    created = []
    for n in range(MEMBERS):
        status, member = api("POST", "/employees", {"name": f"Hunter {n + 1}", "extension": str(401 + n)})
        assert status == 201, member
        created.append(member)
    ports = []
    for member in created:
        port = free_udp_port()
        status, _ = register(member["extension"], port, password=member["sip_password"])
        assert status == 200
        ports.append(port)
    status, department = api(
        "POST",
        "/departments",
        {"name": "Long hunt", "distribution": "in_order", "ring_time": 10, "members": [m["id"] for m in created]},
    )
    assert status == 201, department
    demo_steps(parallel({"kind": "department", "department_id": department["id"]}, timeout=30))
    yield created, ports
    api("DELETE", f"/departments/{department['id']}")
    for member in created:
        api("DELETE", f"/employees/{member['id']}")


def test_the_fourteenth_member_of_a_hunt_rings_when_the_thirteen_before_are_busy(stack, sip_target, demo, api, hunt):
    members, ports = hunt
    busy = [Sipp("uas_reject.xml", port=p, values={"code": 486, "phrase": "Busy Here"}).start() for p in ports[:-1]]
    last = Sipp("uas_answer.xml", port=ports[-1], keys={"rtp_port": free_udp_port()}).start()

    caller = carrier_call(stack, sip_target, demo["number"], timeout_s=60, recv_timeout_s=40)
    carrier = caller.run()
    results = [phone.wait() for phone in busy] + [last.wait()]

    assert carrier.returncode == 0, carrier.explain()
    for result in results:
        assert result.returncode == 0, result.explain()
        assert len([m for m in sip_log.received(result.messages) if m.startswith("INVITE ")]) == 1
    line = history_line(api, caller.call_id())
    assert [(leg["target"], leg["answered"]) for leg in line["legs"]] == [
        (f"employee {m['extension']} {m['name']}", m is members[-1]) for m in members
    ]
    assert line["status"] == "answered"
