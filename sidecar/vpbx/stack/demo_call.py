"""A first call on a stack, with no softphone (``vpbx demo call``).

SIPp plays both ends with the scenarios the end-to-end tests use: Anna's
phone (101) registers with her password and answers, and the demo carrier
calls the demo number from the trunk's source port. Then the call's history
line, once the history keeper wrote it. Signalling and media go through
Kamailio and rtpengine as any call's do; neither end sends sound.
"""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from .. import db
from .. import settings as vpbx_settings
from .manager import credentials_file
from .profile import REPO_ROOT, Profile

SCENARIOS = REPO_ROOT / "tests" / "e2e" / "scenarios"
PHONE = "101"


class DemoCallFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class DemoCall:
    call_id: str
    line: dict  # the history line: status, employee_label, ring and talk seconds


def _free_udp_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def _sipp(profile: Profile, scenario: str, port: int, workdir: Path, *args: str) -> list[str]:
    name = f"{scenario.removesuffix('.xml')}-{port}"
    return [
        "sipp",
        f"{profile.address}:{profile.ports.sip}",
        "-sf",
        str(SCENARIOS / scenario),
        "-i",
        profile.address,
        "-p",
        str(port),
        "-m",
        "1",
        "-nostdin",
        "-trace_err",
        "-error_file",
        str(workdir / f"{name}.errors"),
        "-timeout",
        "60s",
        "-timeout_error",
        *args,
    ]


def _run(argv: list[str], workdir: Path, timeout: float, failure: str) -> None:
    """Run one SIPp to its end; DemoCallFailed with its errors if it failed."""
    if subprocess.run(argv, capture_output=True, text=True, timeout=timeout).returncode != 0:
        errors = "\n".join(p.read_text(errors="replace")[-2000:] for p in sorted(workdir.glob("*.errors")))
        raise DemoCallFailed(f"{failure}:\n{errors}")


def place(profile: Profile, *, talk_seconds: float = 3.0, say: Callable[[str], None] = print) -> DemoCall:
    """Register 101, have the carrier call the demo number, and read the history line."""
    demo = json.loads(credentials_file(profile).read_text())
    anna = next(a for a in demo["accounts"] if a["login"] == PHONE)
    cfg = vpbx_settings.load(profile.config_path)
    with tempfile.TemporaryDirectory(prefix="vpbx-demo-call-") as tmp:
        workdir = Path(tmp)
        contact = _free_udp_port(profile.address)
        phone = subprocess.Popen(
            _sipp(profile, "uas_answer.xml", contact, workdir, "-key", "rtp_port", str(_free_udp_port("127.0.0.1"))),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _run(
                _sipp(
                    profile,
                    "register.xml",
                    _free_udp_port(profile.address),
                    workdir,
                    "-s",
                    PHONE,
                    "-au",
                    PHONE,
                    "-ap",
                    anna["password"],
                    "-key",
                    "domain",
                    anna["domain"],
                    "-key",
                    "contact_port",
                    str(contact),
                ),
                workdir,
                30,
                f"{PHONE} did not register",
            )
            say(f"{PHONE} ({anna['name']}) registered from {profile.address}:{contact}")
            call_id = f"{secrets.token_hex(8)}@vpbx-demo-call"
            say(f"the demo carrier calls {demo['number']} from port {cfg.demo_trunk_port}")
            started = time.monotonic()
            _run(
                _sipp(
                    profile,
                    "uac_call.xml",
                    cfg.demo_trunk_port,
                    workdir,
                    "-s",
                    demo["number"],
                    "-cid_str",
                    call_id,
                    "-d",
                    str(int(talk_seconds * 1000)),
                    "-key",
                    "rtp_port",
                    str(_free_udp_port("127.0.0.1")),
                ),
                workdir,
                90,
                f"the call to {demo['number']} was not answered",
            )
            say(f"answered and hung up after {time.monotonic() - started:.1f} s")
            phone.wait(timeout=30)
        finally:
            if phone.poll() is None:
                phone.kill()
                phone.wait()
    line = _history_line(cfg.database_url, call_id)
    say(
        f"history: {line['status']} by {line['employee_label']}, rang {line['ring_s']:.1f} s, "
        f"talked {line['talk_s']:.1f} s (Call-ID {call_id})"
    )
    return DemoCall(call_id, line)


def _history_line(database_url: str, call_id: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with db.connect(database_url) as conn:
                row = conn.execute(
                    """SELECT status, employee_label,
                              extract(epoch FROM answered_at - started_at)::float AS ring_s,
                              extract(epoch FROM ended_at - answered_at)::float AS talk_s
                         FROM calls WHERE call_id = %s AND ended_at IS NOT NULL""",
                    (call_id,),
                ).fetchone()
        except psycopg.Error:
            row = None
        if row is not None:
            return dict(row)
        if time.monotonic() > deadline:
            raise DemoCallFailed(f"no history line for {call_id} after {timeout:.0f} s: is the history keeper up?")
        time.sleep(0.2)
