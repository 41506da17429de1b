"""The playbook on one loopback host (127.0.1.11, production ports, its own
directories): a clean deploy, a second run that changes nothing, a check run,
and the deployed stack taking a real call."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from types import SimpleNamespace

from vpbx.stack.process import wait_for

from ..e2e import sip_log
from ..e2e.media_caller import ended, leave_message, media_call
from ..e2e.sipp import free_udp_port
from .ansible_run import host_root, playbook, supervisorctl
from .calls import api, carrier_call, demo_credentials, history_line, menu_on_the_demo_number, register
from .conftest import SINGLE_HOST

SERVICES = {
    "vpbx-postgresql",
    "vpbx-redis",
    "vpbx-rtpengine",
    "vpbx-kamailio",
    "vpbx-media",
    "vpbx-cache-keeper",
    "vpbx-history-keeper",
    "vpbx-sidecar",
}
DEMO_TRUNK_PORT = 5199  # the test inventory's site_demo_trunk_port
# What media_call needs of a stack: the carrier's port.
CARRIER = SimpleNamespace(ports=SimpleNamespace(demo_trunk=DEMO_TRUNK_PORT))


def _running() -> set[str]:
    status = supervisorctl(SINGLE_HOST, "status").stdout
    return {line.split()[0] for line in status.splitlines() if " RUNNING " in line}


def _get(path: str, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://{SINGLE_HOST}:8080{path}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_a_clean_deploy_runs_every_service_under_the_supervisor(single_host):
    assert single_host.returncode == 0, single_host.explain()
    assert single_host.stats[SINGLE_HOST]["failed"] == 0
    # No systemd here (ansible_service_mgr is not systemd): supervisord runs them.
    try:
        wait_for(lambda: _running() == SERVICES, 30, "every service RUNNING")
    finally:
        print(supervisorctl(SINGLE_HOST, "status").stdout)


def test_the_second_run_changes_nothing(single_host):
    again = playbook("test-single-host", name="single-host-second")

    assert again.returncode == 0, again.explain()
    assert again.changed == [], again.explain()
    assert again.stats[SINGLE_HOST]["changed"] == 0


def test_a_check_run_with_diff_changes_nothing_and_fails_nothing(single_host):
    checked = playbook("test-single-host", "--check", "--diff", name="single-host-check")

    assert checked.returncode == 0, checked.explain()
    assert checked.changed == [], checked.explain()


def test_the_rendered_units_pass_systemd_analyze_verify(single_host):
    units = sorted((host_root(SINGLE_HOST) / "etc/systemd/system").glob("vpbx-*.service"))
    assert {unit.stem for unit in units} == SERVICES

    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *map(str, units)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.strip() == "", result.stderr  # warnings too (a bad directive is only a warning)


def test_status_answers_on_the_hosts_address_with_every_component_up(single_host):
    status, body = wait_for(lambda: (r := _get("/status"))[0] == 200 and r, 30, "/status to answer 200")

    assert body["status"] == "ok"
    assert {name for name, component in body["components"].items() if component["up"]} == {
        "kamailio",
        "postgresql",
        "redis",
        "rtpengine",
        "media_app",
        "history_keeper",
        "cache_keeper",
    }


def test_the_bootstrap_operator_token_is_the_one_kept_with_the_secrets(single_host):
    token = "vpbx_" + (host_root(SINGLE_HOST).parent / "credentials/operator_token").read_text().strip()

    assert _get("/api/v1/trunks", token)[0] == 200
    assert _get("/api/v1/trunks", token[:-1] + "x")[0] == 401


def test_a_carrier_call_reaches_a_phone_registered_on_the_deployed_host(single_host):
    demo = demo_credentials(SINGLE_HOST)
    phone_port = free_udp_port()
    assert register(SINGLE_HOST, demo, "101", phone_port) == 200

    call = carrier_call(SINGLE_HOST, DEMO_TRUNK_PORT, phone_port)

    assert call.answered, call.explain()
    # The deployed rtpengine anchors the media, on the host's own address.
    assert sip_log.sdp_media(call.invite_at_phone())[0] == SINGLE_HOST

    def written():
        status, lines = _get(f"/api/v1/calls?call_id={call.call_id}", demo["admin_api_token"])
        assert status == 200, lines
        return lines[0] if lines and lines[0]["ended_at"] else None

    line = wait_for(written, 15, "the call's history line")
    assert line["status"] == "answered"
    assert [leg["target"] for leg in line["legs"] if leg["answered"]] == ["employee 101 Anna Sales"]


def test_a_menu_call_hears_its_greeting_and_leaves_a_message_on_the_deployed_host(single_host):
    # rtpengine (its own user) plays the media app's prompt files.
    admin = api(SINGLE_HOST, demo_credentials(SINGLE_HOST)["admin_api_token"])
    menu_on_the_demo_number(admin, "Deployed menu")

    sipp, audio = media_call(CARRIER, f"{SINGLE_HOST}:5060", "+74951112233")
    try:
        assert audio.started(within=15) is not None, "the menu's greeting never came"
        audio.press("1")
        leave_message(audio)
    finally:
        result = ended(sipp, audio)

    assert result.returncode == 0, result.explain()
    line = history_line(admin, sipp.call_id())
    assert (line["status"], line["voicemail"]) == ("missed", True)
