"""Run SIPp scenarios from tests/e2e/scenarios against the test stack."""

from __future__ import annotations

import secrets
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from vpbx.stack.process import wait_for

SCENARIOS = Path(__file__).parent / "scenarios"


# A port for SIPp to bind is picked where no other socket lands on its own:
# below the kernel's ephemeral range (32768-60999 on Debian), whose ports any
# process's next socket may take between our check and SIPp's bind (seen as
# SIPp's "Unable to bind main socket"), and above every profile's fixed and
# RTP ports (stack/profile.py and the Ansible defaults stop below 26000).
TEST_PORTS = range(26000, 32768)


def free_udp_port() -> int:
    for _ in range(100):
        port = TEST_PORTS[secrets.randbelow(len(TEST_PORTS))]
        if not udp_port_in_use(port):
            return port
    raise RuntimeError(f"no free UDP port in {TEST_PORTS}")


def udp_port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


@dataclass
class SippResult:
    returncode: int
    output: str
    messages: str
    errors: str

    def explain(self) -> str:
        return (
            f"sipp exited {self.returncode}\n--- output ---\n{self.output[-3000:]}"
            f"\n--- errors ---\n{self.errors[-3000:]}\n--- messages ---\n{self.messages[-6000:]}"
        )


class Sipp:
    """One SIPp process. ``values`` fill {{name}} placeholders in the scenario
    (for attributes SIPp parses at load time); ``keys`` become ``-key`` keywords."""

    def __init__(
        self,
        scenario: str,
        *,
        port: int,
        remote: str | None = None,
        service: str | None = None,
        keys: dict[str, object] | None = None,
        values: dict[str, object] | None = None,
        auth: tuple[str, str] | None = None,
        duration_ms: int | None = None,
        calls: int = 1,
        timeout_s: int = 30,
        local_ip: str = "127.0.0.1",
        recv_timeout_s: int = 10,
        concurrent: int | None = None,
        stray_provisionals: bool | None = None,
    ):
        self.workdir = Path(tempfile.mkdtemp(prefix="vpbx-sipp-"))
        text = (SCENARIOS / scenario).read_text()
        for name, value in (values or {}).items():
            text = text.replace("{{" + name + "}}", str(value))
        self.scenario = self.workdir / scenario
        self.scenario.write_text(text)
        self.port = port
        self.local_ip = local_ip
        self.argv = (
            ["sipp"]
            + ([remote] if remote else [])
            + [
                # -i only sets the address SIPp writes into Via, Contact and SDP: it
                # still listens on every local address (no -bind_local).
                "-sf",
                str(self.scenario),
                "-i",
                local_ip,
                "-p",
                str(port),
                "-m",
                str(calls),
                "-nostdin",
                "-trace_msg",
                "-message_file",
                str(self.workdir / "messages.log"),
                "-trace_err",
                "-error_file",
                str(self.workdir / "errors.log"),
                "-timeout",
                f"{timeout_s}s",
                "-timeout_error",
                "-recv_timeout",
                str(recv_timeout_s * 1000),
            ]
        )
        # SIPp's Call-IDs ("<n>-<pid>@<ip>") repeat once pids wrap; a token makes
        # each process's calls unique, as real Call-IDs are.
        self.call_id_token = secrets.token_hex(4)
        self.argv += ["-cid_str", f"%u-%p-{self.call_id_token}@%s"]
        if service:
            self.argv += ["-s", service]
        if auth:
            self.argv += ["-au", auth[0], "-ap", auth[1]]
        if duration_ms is not None:
            self.argv += ["-d", str(duration_ms)]
        if concurrent is not None:  # at most this many calls at once (-l 1: one after another)
            self.argv += ["-l", str(concurrent)]
        for key, value in (keys or {}).items():
            self.argv += ["-key", key, str(value)]
        # A phone's 180 relayed by one Kamailio worker may reach the caller after
        # its 200 relayed by another (tm sends a reply once it has released the
        # transaction's lock): a calling UA ignores it, where SIPp would abort
        # the call on an unexpected message. Callers ignore what they do not
        # expect (messages.log still shows it); phones still abort on it.
        if stray_provisionals if stray_provisionals is not None else scenario.startswith(("uac_", "phone_")):
            self.argv += ["-default_behaviors", "all,-abortunexp"]
        self.timeout_s = timeout_s
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def call_id(self, call_number: int = 1) -> str:
        """SIPp's [call_id] for the n-th call of this process."""
        return f"{call_number}-{self.pid}-{self.call_id_token}@{self.local_ip}"

    def start(self) -> Sipp:
        self.process = subprocess.Popen(
            self.argv,
            cwd=self.workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        wait_for(lambda: udp_port_in_use(self.port) or self.process.poll() is not None, 5, f"sipp to bind {self.port}")
        return self

    def wait(self) -> SippResult:
        try:
            output, _ = self.process.communicate(timeout=self.timeout_s + 10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        return SippResult(self.process.returncode, output, self._read("messages.log"), self._read("errors.log"))

    def run(self) -> SippResult:
        return self.start().wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.communicate()

    def _read(self, name: str) -> str:
        path = self.workdir / name
        return path.read_text(errors="replace") if path.exists() else ""
