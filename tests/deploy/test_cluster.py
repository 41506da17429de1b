"""The playbook on a two-node site (127.0.1.21 and .22, each a Kamailio, an
rtpengine and vpbx's services; PostgreSQL and Redis on the first): phones are
reached through whichever node they registered on, and a node's Kamailio
going down leaves the other taking calls with every registration."""

from __future__ import annotations

from vpbx.kamailio_rpc import KamailioRpc
from vpbx.stack.process import wait_for

from ..e2e import sip_log
from ..e2e.sipp import free_udp_port
from .ansible_run import host_root, playbook, supervisorctl
from .calls import carrier_call, demo_credentials, register
from .conftest import NODE_1, NODE_2

DEMO_TRUNK_PORT = 5299  # the test inventory's site_demo_trunk_port
DOMAIN = "demo.vpbx.test"


def _rpc(node: str) -> KamailioRpc:
    return KamailioRpc(host_root(node) / "var/lib/vpbx/kamailio/runtime/kamailio_rpc.sock", timeout=2)


def _paths(node: str, login: str) -> set[str]:
    """The Path of each of the account's contacts in the node's memory."""
    paths = set()
    for domain in _rpc(node).call("ul.dump")["Domains"]:
        for aor in domain["Domain"]["AoRs"]:
            if aor["Info"]["AoR"] == f"{login}@{DOMAIN}":
                paths |= {contact["Contact"]["Path"] for contact in aor["Info"]["Contacts"]}
    return paths


def _top_via_host(message: str) -> str:
    return sip_log.header(message, "Via").split()[1].split(";")[0].split(":")[0]


def test_a_clean_deploy_of_two_nodes(cluster):
    assert cluster.returncode == 0, cluster.explain()
    assert cluster.stats[NODE_1]["failed"] == cluster.stats[NODE_2]["failed"] == 0


def test_the_second_run_changes_nothing_on_either_node(cluster):
    again = playbook("test-cluster", name="test-cluster-second")

    assert again.returncode == 0, again.explain()
    assert again.changed == [], again.explain()


def test_a_phone_registered_on_one_node_is_called_through_it_from_the_other(cluster):
    demo = demo_credentials(NODE_1)
    phone_port = free_udp_port()
    assert register(NODE_1, demo, "101", phone_port) == 200
    # Node 2 knows the registration (DMQ), with node 1 as the way to the phone.
    wait_for(lambda: _paths(NODE_2, "101") == {f"<sip:{NODE_1}:5060;lr>"}, 10, "node 2 to learn 101's contact")

    call = carrier_call(NODE_2, DEMO_TRUNK_PORT, phone_port)

    assert call.answered, call.explain()
    # Node 2 routed it; node 1, where the phone's pinhole is, handed it over.
    assert _top_via_host(call.invite_at_phone()) == NODE_1
    assert sip_log.sdp_media(call.invite_at_phone())[0] in (NODE_1, NODE_2)  # an rtpengine of the site


def test_with_one_kamailio_down_the_other_takes_calls_and_keeps_every_registration(cluster):
    demo = demo_credentials(NODE_1)
    on_node_1, on_node_2 = free_udp_port(), free_udp_port()
    assert register(NODE_1, demo, "102", on_node_1) == 200
    wait_for(lambda: _paths(NODE_2, "102"), 10, "node 2 to learn 102's contact")

    assert "stopped" in supervisorctl(NODE_1, "stop", "vpbx-kamailio").stdout
    try:
        # The phone re-registers through the node still up (as a phone with
        # both nodes in DNS does); node 2 still holds its node 1 contact too.
        assert register(NODE_2, demo, "102", on_node_2) == 200
        assert _paths(NODE_2, "102") == {f"<sip:{NODE_1}:5060;lr>", f"<sip:{NODE_2}:5060;lr>"}
        for _ in range(3):
            call = carrier_call(NODE_2, DEMO_TRUNK_PORT, on_node_2)
            assert call.answered, call.explain()
    finally:
        assert "started" in supervisorctl(NODE_1, "start", "vpbx-kamailio").stdout

    # Back up, node 1 asks node 2 for the registrations it missed.
    wait_for(lambda: f"<sip:{NODE_2}:5060;lr>" in _paths(NODE_1, "102"), 20, "node 1 to learn 102's new contact")
    call = carrier_call(NODE_1, DEMO_TRUNK_PORT, on_node_2)
    assert call.answered, call.explain()
    assert _top_via_host(call.invite_at_phone()) == NODE_2
