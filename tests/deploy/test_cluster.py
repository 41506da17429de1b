"""The playbook on a two-node site (127.0.1.21 and .22, each a Kamailio, an
rtpengine, vpbx's services, a Redis server and a sentinel; PostgreSQL on the
first; a third sentinel on .23): phones are reached through whichever node
they registered on, a node's Kamailio going down leaves the other taking
calls with every registration, a frozen Redis primary is replaced by its
replica without a call failing or losing its history line, and with one
media app down menu calls into either node are served by the other's."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import threading
from types import SimpleNamespace

import pytest
import redis
from redis.sentinel import Sentinel

from vpbx.kamailio_rpc import KamailioRpc
from vpbx.stack.process import wait_for

from ..e2e import sip_log
from ..e2e.media_caller import ended, leave_message, media_call
from ..e2e.sipp import free_udp_port
from .ansible_run import host_root, playbook, supervisorctl
from .calls import (
    CarrierCall,
    Phone,
    api,
    carrier_call,
    carrier_call_over,
    demo_credentials,
    history_line,
    menu_on_the_demo_number,
    register,
)
from .conftest import NODE_1, NODE_2, WITNESS

DEMO_TRUNK_PORT = 5299  # the test inventory's site_demo_trunk_port
# What media_call needs of a stack: the carrier's port.
CARRIER = SimpleNamespace(ports=SimpleNamespace(demo_trunk=DEMO_TRUNK_PORT))
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


def _aors(node: str) -> list[str]:
    """Every account with a contact in the node's memory."""
    return [aor["Info"]["AoR"] for domain in _rpc(node).call("ul.dump")["Domains"] for aor in domain["Domain"]["AoRs"]]


def _top_via_host(message: str) -> str:
    return sip_log.header(message, "Via").split()[1].split(";")[0].split(":")[0]


def test_a_clean_deploy_of_two_nodes(cluster):
    assert cluster.returncode == 0, cluster.explain()
    assert cluster.stats[NODE_1]["failed"] == cluster.stats[NODE_2]["failed"] == 0


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


def _redis_primary() -> str:
    """The Redis primary's address, as the witness host's sentinel names it."""
    return Sentinel([(WITNESS, 26379)], socket_timeout=1).discover_master("vpbx")[0]


def _listener_pid(address: str, port: int) -> int:
    listing = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True, check=True)
    line = next(line for line in listing.stdout.splitlines() if f"{address}:{port}" in line)
    return int(line.split("pid=")[1].split(",")[0])


def _redis_role(address: str) -> list:
    password = (host_root(NODE_1).parent / "credentials" / "redis_password").read_text().strip()
    return redis.Redis(host=address, password=password, socket_timeout=2, decode_responses=True).role()


def test_a_frozen_redis_primary_is_replaced_by_its_replica_and_no_call_fails_or_loses_its_line(cluster):
    demo = demo_credentials(NODE_1)
    phone_port = free_udp_port()
    assert register(NODE_1, demo, "101", phone_port) == 200
    wait_for(lambda: _paths(NODE_2, "101"), 10, "node 2 to learn 101's contact")
    old_primary = _redis_primary()
    replica = NODE_2 if old_primary == NODE_1 else NODE_1

    # Calls keep entering both nodes, one after another, while the primary
    # hangs (as a host that stops answering does) and the sentinels replace it.
    calls: list[CarrierCall] = []
    stop = threading.Event()

    def keep_calling() -> None:
        while not stop.is_set():
            node = (NODE_1, NODE_2)[len(calls) % 2]
            calls.append(carrier_call(node, DEMO_TRUNK_PORT, phone_port, hold_ms=300))

    caller = threading.Thread(target=keep_calling)
    frozen = _listener_pid(old_primary, 6379)
    caller.start()
    try:
        wait_for(lambda: len(calls) >= 2, 30, "two calls before the freeze")
        os.kill(frozen, signal.SIGSTOP)
        wait_for(lambda: _redis_primary() == replica, 30, "the sentinels to promote the replica")
        promoted_at = len(calls)
        wait_for(lambda: len(calls) >= promoted_at + 4, 60, "four calls after the promotion")
    finally:
        stop.set()
        os.kill(frozen, signal.SIGCONT)
        caller.join(30)

    failed = [call for call in calls if not call.answered]
    assert not failed, "\n".join(call.explain() for call in failed)
    # Every call's line reached PostgreSQL: through the new primary, or from
    # the spool of events the frozen one did not take.
    admin = api(NODE_1, demo["admin_api_token"])
    for call in calls:
        assert history_line(admin, call.call_id)["status"] == "answered"
    # Back, the old primary is made a replica of the new one. Until the
    # sentinels do so (seconds), a client whose connection outlived the freeze
    # reads what the old primary held: the tests after this one need the site settled.
    wait_for(lambda: _redis_role(old_primary)[:2] == ["slave", replica], 30, "the old primary to follow the new one")
    wait_for(lambda: _redis_role(old_primary)[3] == "connected", 30, "the old primary to have synced")


def _psql(node: str, sql: str) -> str:
    """A query on the node's PostgreSQL, through its Unix socket as postgres."""
    socket_dir = host_root(node) / "var/lib/vpbx/postgresql"
    command = ["runuser", "-u", "postgres", "--", "/usr/lib/postgresql/15/bin/psql", "-h", str(socket_dir)]
    command += ["-d", "vpbx", "-qAtc", sql]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def test_the_postgresql_replica_streams_what_the_api_writes_on_the_primary(cluster):
    assert _psql(NODE_1, "SELECT state FROM pg_stat_replication") == "streaming"
    assert _psql(NODE_2, "SELECT pg_is_in_recovery()") == "t"
    admin = api(NODE_1, demo_credentials(NODE_1)["admin_api_token"])
    anna = next(e for e in admin("GET", "/employees")[1] if e["extension"] == "101")
    status, box = admin(
        "POST", "/voicemail-boxes", {"name": "Replicated box", "recipients": [{"employee_id": anna["id"]}]}
    )
    assert status == 201, box

    query = f"SELECT name FROM voicemail_boxes WHERE id = {int(box['id'])}"
    wait_for(lambda: _psql(NODE_2, query) == "Replicated box", 10, "the replica to have the new box")


def test_with_one_rtpengine_down_new_calls_are_anchored_on_the_other(cluster):
    demo = demo_credentials(NODE_1)
    phone_port = free_udp_port()
    assert register(NODE_1, demo, "102", phone_port) == 200
    wait_for(lambda: _paths(NODE_2, "102"), 10, "node 2 to learn 102's contact")

    assert "stopped" in supervisorctl(NODE_2, "stop", "vpbx-rtpengine").stdout
    try:
        # Each node finds the dead one on its first offer to it (timed out,
        # retried on the other) and leaves it out of the next calls.
        for node in (NODE_1, NODE_2, NODE_1, NODE_2, NODE_1, NODE_2):
            call = carrier_call(node, DEMO_TRUNK_PORT, phone_port)
            assert call.answered, call.explain()
            assert sip_log.sdp_media(call.invite_at_phone())[0] == NODE_1
    finally:
        assert "started" in supervisorctl(NODE_2, "start", "vpbx-rtpengine").stdout


def _kamailio_pid(node: str) -> int:
    return int(supervisorctl(node, "pid", "vpbx-kamailio").stdout)


@pytest.mark.timeout(600)
def test_the_rolling_upgrade_under_calls_into_both_nodes_drops_none(cluster):
    # The contacts earlier tests left (101 and 102, each from a port of its
    # own, nobody listening now) would each get a branch of every call to
    # "Ring everyone", relayed over the node they registered through and rung
    # there until tm gives up: 30 s a draining node would wait for.
    for node in (NODE_1, NODE_2):
        for aor in _aors(node):
            _rpc(node).call("ul.rm", "location", aor)
    demo = demo_credentials(NODE_1)
    phone = Phone(demo, "101", (NODE_1, NODE_2))
    phone.keep_registered()
    wait_for(lambda: _paths(NODE_2, "101"), 10, "node 2 to learn 101's contact")
    before = {node: _kamailio_pid(node) for node in (NODE_1, NODE_2)}

    # The carrier keeps calling, one call after another, each held 2 s: each
    # node in turn is drained with a call on it. The phone refreshes its
    # registration before each call, as one with both nodes in its list does.
    calls: list[CarrierCall] = []
    stop = threading.Event()

    def keep_calling() -> None:
        while not stop.is_set():
            phone.keep_registered()
            nodes = (NODE_1, NODE_2) if len(calls) % 2 == 0 else (NODE_2, NODE_1)
            calls.append(carrier_call_over(nodes, DEMO_TRUNK_PORT, phone.port, hold_ms=2000))

    caller = threading.Thread(target=keep_calling)
    caller.start()
    try:
        wait_for(lambda: len(calls) >= 1, 30, "a call before the upgrade")
        # A node whose calls outlast a minute fails the play, naming them.
        upgrade = playbook(
            "test-cluster", "-e", "kamailio_drain_timeout_s=60", name="test-cluster-upgrade", play="upgrade.yml"
        )
        upgraded_at = len(calls)
        wait_for(lambda: len(calls) >= upgraded_at + 2, 60, "two calls after the upgrade")
    finally:
        stop.set()
        caller.join(60)

    assert upgrade.returncode == 0, upgrade.explain()
    # The play ran every role again on both nodes: all it changed is the drain,
    # the restarts and taking calls again. This is the cluster's second run:
    # the site's playbook changes nothing else (the single host's second run
    # asserts changed=0 outright).
    own_tasks = ("Drain this node", "Restart them under", "Take new calls on this node again")
    assert [task for task in upgrade.changed if not any(own in task for own in own_tasks)] == [], upgrade.explain()
    after = {node: _kamailio_pid(node) for node in (NODE_1, NODE_2)}
    assert all(after[node] != before[node] for node in after), (before, after)
    failed = [call for call in calls if not call.answered]
    assert not failed, "\n".join(call.explain() for call in failed)
    # Each node refused new calls while it drained; the other one took them,
    # and the phone moved its registration away from it.
    assert {node for call in calls for node in call.refused_by} == {NODE_1, NODE_2}, [c.refused_by for c in calls]
    assert set(phone.registered_through[1:]) == {NODE_1, NODE_2}, phone.registered_through
    admin = api(NODE_1, demo["admin_api_token"])
    for call in calls:
        assert history_line(admin, call.call_id)["status"] == "answered"


def _media_up(node: str, host: str):
    """Whether ``node``'s Kamailio lets ``host``'s rtpengine take new calls (its media app heard)."""
    reply = _rpc(node).call("htable.get", "media_up", host)
    return reply["item"]["value"] if reply else None


def _menu_call(node: str) -> tuple[str, str]:
    """A carrier call into ``node`` to the demo number's menu: it hears the
    greeting, presses 1, leaves a message. (Call-ID, the rtpengine's address in the answer.)"""
    sipp, audio = media_call(CARRIER, f"{node}:5060", "+74951112233", timeout_s=60)
    if audio.started(within=15) is None:
        result = ended(sipp, audio)
        raise AssertionError(f"the greeting never came (call into {node})\n{result.explain()}")
    try:
        audio.press("1")
        leave_message(audio)
    finally:
        result = ended(sipp, audio)
    assert result.returncode == 0, result.explain()
    answer = sip_log.first(sip_log.received(result.messages), "SIP/2.0 200")
    return sipp.call_id(), sip_log.sdp_media(answer)[0]


def test_with_one_media_app_down_menu_calls_into_either_node_are_served_by_the_other(cluster):
    admin = api(NODE_1, demo_credentials(NODE_1)["admin_api_token"])
    menu_on_the_demo_number(admin, f"Cluster menu {secrets.token_hex(3)}")
    for node in (NODE_1, NODE_2):
        wait_for(lambda node=node: _media_up(node, NODE_1) == _media_up(node, NODE_2) == 1, 10, "both media apps heard")
    # Whichever rtpengine a call is anchored in, the media app beside it serves it.
    served = [_menu_call(node) for node in (NODE_1, NODE_2)]

    assert "stopped" in supervisorctl(NODE_1, "stop", "vpbx-media").stdout
    try:
        for node in (NODE_1, NODE_2):
            wait_for(lambda node=node: _media_up(node, NODE_1) == 0, 10, f"{node} to find node 1's media app silent")
        # Every new call is anchored in node 2's rtpengine, served by its media app.
        for node in (NODE_1, NODE_2):
            call_id, anchored_in = _menu_call(node)
            assert anchored_in == NODE_2, f"a call into {node} was anchored in {anchored_in}"
            served.append((call_id, anchored_in))
    finally:
        assert "started" in supervisorctl(NODE_1, "start", "vpbx-media").stdout

    for node in (NODE_1, NODE_2):
        wait_for(lambda node=node: _media_up(node, NODE_1) == 1, 30, f"{node} to hear node 1's media app again")
    for call_id, _ in served:
        line = history_line(admin, call_id)
        assert (line["status"], line["voicemail"]) == ("missed", True), line
