"""Kamailio CPU per call: vpbx's routing against minimal proxies, side by side.

Starts the "bench" stack (its own ports and run directory) and, beside it,
two more Kamailios: bench/native-proxy.cfg (routes in Kamailio's native
script) and bench/kemi-proxy.cfg (the same routes in a Python KEMI script, as
vpbx runs). Each relays a SIPp carrier's calls to an answering SIPp phone,
the same scenarios for all three, and anchors media in the same rtpengine.
The three are called at the same time: these machines are noisy, and what
slows one proxy down then slows the other two alike. vpbx
routes a number "by schedule" (a 24/7 schedule, so it is open) whose scheme
has two steps; the phone answers at step one.

CPU is utime+stime of each Kamailio's processes (main and children, the
embedded Python included) from /proc, over the round; Redis's CPU is
reported beside vpbx's, as the cost of its one round trip per call.

    .venv/bin/python bench/kamailio_cpu.py --calls 3000 --rate 100 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import redis

# bench/ is on sys.path when a script here runs.
from bench_stack import Api, credentials, fresh_stack, parent_pids

from vpbx import settings
from vpbx.stack import manager
from vpbx.stack.process import wait_for

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
SCENARIOS = BENCH.parent / "tests" / "e2e" / "scenarios"
NUMBER = "+74951119999"
NATIVE_PORT, KEMI_PORT = 6260, 6360
TICKS = os.sysconf("SC_CLK_TCK")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(root_pid: int) -> float:
    """utime+stime of a process and all its descendants."""
    children: dict[int, list[int]] = {}
    for pid, parent in parent_pids().items():
        children.setdefault(parent, []).append(pid)
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
        todo.extend(children.get(pid, []))
    return total / TICKS


def sipp(scenario: Path, *args: str, remote: str | None = None, wait: bool = True, tolerated: int = 0):
    workdir = tempfile.mkdtemp(prefix="vpbx-bench-")
    argv = (
        ["sipp"]
        + ([remote] if remote else [])
        + [
            "-sf",
            str(scenario),
            "-i",
            "127.0.0.1",
            "-nostdin",
            "-trace_err",
            "-error_file",
            f"{workdir}/errors.log",
            *args,
        ]
    )
    process = subprocess.Popen(argv, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if not wait:
        return process
    output, _ = process.communicate(timeout=3600)
    if process.returncode != 0 and failed_calls(output) > tolerated:
        raise SystemExit(f"sipp {' '.join(argv)} exited {process.returncode}:\n{output[-2000:]}")
    return output


def failed_calls(output: str) -> int:
    """SIPp's cumulative failed-call count from its final statistics screen."""
    found = re.findall(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", output)
    return int(found[-1]) if found else 1 << 30


def configure_vpbx(profile) -> dict:
    """The benchmarked number: by schedule (open 24/7), a two-step scheme."""
    api = Api(profile)
    employees = {e["extension"]: e["id"] for e in api("GET", "/employees")}
    schedule = api(
        "POST",
        "/schedules",
        {
            "name": "Always",
            "timezone": "Europe/Moscow",
            "weekly": [
                {"day": day, "start": "00:00", "end": "24:00"}
                for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
            ],
        },
    )
    scheme = api(
        "POST",
        "/schemes",
        {
            "name": "Two steps",
            "steps": [
                {
                    "mode": "parallel",
                    "timeout": 20,
                    "destinations": [{"kind": "employee", "employee_id": employees["101"]}],
                },
                {
                    "mode": "parallel",
                    "timeout": 20,
                    "destinations": [{"kind": "employee", "employee_id": employees["102"]}],
                },
            ],
        },
    )
    api(
        "POST",
        "/numbers",
        {
            "number": NUMBER,
            "mode": "by_schedule",
            "schedule_id": schedule["id"],
            "scheme_id": scheme["id"],
            "off_hours_scheme_id": scheme["id"],
        },
    )
    return credentials(profile)


def start_proxy(name: str, cfg: str, port: int, profile, defines: list[str]) -> subprocess.Popen:
    runtime = profile.run_dir / name
    runtime.mkdir(parents=True, exist_ok=True)
    argv = [
        "kamailio",
        "-f",
        str(BENCH / cfg),
        "-DD",
        "-E",
        "-Y",
        str(runtime),
        "-m",
        "128",
        "-M",
        "16",
        "-A",
        f"NATIVE_LISTEN=udp:127.0.0.1:{port}",
        "-A",
        f'NATIVE_RTPENGINE_SOCK="udp:127.0.0.1:{profile.ports.rtpengine_ng}"',
    ]
    for define in defines:
        argv += ["-A", define]
    log = open(runtime / "kamailio.log", "w")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def bound():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return True
        return process.poll() is not None

    wait_for(bound, 10, f"the {name} proxy to listen")
    if process.poll() is not None:
        raise SystemExit(f"{name} kamailio exited: {(runtime / 'kamailio.log').read_text()[-2000:]}")
    return process


def register(remote: str, phone_port: int, demo_credentials: dict | None) -> None:
    keys = [
        "-key",
        "domain",
        "demo.vpbx.test",
        "-key",
        "contact_port",
        str(phone_port),
        "-s",
        "101",
        "-m",
        "1",
        "-p",
        str(free_udp_port()),
    ]
    if demo_credentials:
        password = next(a["password"] for a in demo_credentials["accounts"] if a["login"] == "101")
        sipp(SCENARIOS / "register.xml", *keys, "-au", "101", "-ap", password, remote=remote)
    else:
        sipp(BENCH / "scenarios" / "register_plain.xml", *keys, remote=remote)


@dataclass
class Load:
    """A carrier's calls under way; finish() waits for them."""

    process: subprocess.Popen
    # Failed calls that do not stop the run (by default 1 in 200: SIPp's UAC
    # aborts a call whose 180 overtakes its 200 across proxy workers, which
    # says nothing of CPU per call).
    tolerated: int

    def finish(self) -> int:
        """The number of calls that failed."""
        output, _ = self.process.communicate(timeout=3600)
        failed = failed_calls(output)
        if self.process.returncode != 0 and failed > self.tolerated:
            argv = " ".join(map(str, self.process.args))  # type: ignore[arg-type]
            raise SystemExit(f"sipp {argv} exited {self.process.returncode}:\n{output[-2000:]}")
        return failed


def load(remote: str, source_port: int, calls: int, rate: int, hold_ms: int, tolerated: int | None = None) -> Load:
    process = sipp(
        SCENARIOS / "uac_call.xml",
        "-s",
        NUMBER,
        "-key",
        "rtp_port",
        str(free_udp_port()),
        "-p",
        str(source_port),
        "-m",
        str(calls),
        "-r",
        str(rate),
        "-d",
        str(hold_ms),
        "-timeout",
        "3600s",
        "-timeout_error",
        remote=remote,
        wait=False,
    )
    return Load(process, calls // 200 if tolerated is None else tolerated)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000, help="calls per round and proxy")
    parser.add_argument("--rate", type=int, default=100, help="calls per second")
    parser.add_argument("--hold-ms", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="leave the bench stack running")
    parser.add_argument("--write", action="store_true", help=f"write the table to {RESULTS}/kamailio_cpu.md")
    args = parser.parse_args()

    profile = fresh_stack()
    demo_credentials = configure_vpbx(profile)
    services = {s.name: s for s in manager.services(profile)}
    kamailio_pid, redis_pid = services["kamailio"].pid(), services["redis"].pid()
    proxies = [
        start_proxy("native", "native-proxy.cfg", NATIVE_PORT, profile, ['NATIVE_AOR="sip:101@demo.vpbx.test"']),
        start_proxy("kemi", "kemi-proxy.cfg", KEMI_PORT, profile, [f'KEMI_SCRIPT="{BENCH / "kemi_proxy.py"}"']),
    ]
    phone_ports = {name: free_udp_port() for name in ("native", "kemi", "vpbx")}
    phones = [
        sipp(SCENARIOS / "uas_answer.xml", "-p", str(port), "-key", "rtp_port", str(free_udp_port()), wait=False)
        for port in phone_ports.values()
    ]
    # name, address, the Kamailio whose CPU is counted, the carrier's source
    # port (vpbx admits the demo trunk's only).
    contenders = (
        ("native", f"127.0.0.1:{NATIVE_PORT}", proxies[0].pid, free_udp_port()),
        ("kemi", f"127.0.0.1:{KEMI_PORT}", proxies[1].pid, free_udp_port()),
        ("vpbx", f"127.0.0.1:{profile.ports.sip}", kamailio_pid, profile.ports.demo_trunk),
    )
    rows = []
    try:
        for name, remote, _, _ in contenders:
            register(remote, phone_ports[name], demo_credentials if name == "vpbx" else None)
        # Round 0 warms every proxy up (Python imports, caches, rtpengine) and is not kept.
        for round_number in range(args.rounds + 1):
            # The three carriers call at once, so whatever else this machine
            # does in the meantime weighs on all three alike: their ratio
            # holds still where their own figures move (bench/README.md).
            commands_before = redis_commands(profile)
            before = {name: cpu_seconds(root) for name, _, root, _ in contenders} | {"redis": cpu_seconds(redis_pid)}
            loads = {
                name: load(remote, source, args.calls, args.rate, args.hold_ms)
                for name, remote, _, source in contenders
            }
            for name, running in loads.items():
                if failed := running.finish():
                    print(f"round {round_number}: {name}: {failed} of {args.calls} calls failed", flush=True)
            roots = {name: root for name, _, root, _ in contenders} | {"redis": redis_pid}
            measured = {name: (cpu_seconds(root) - before[name]) / args.calls * 1e6 for name, root in roots.items()}
            row = (
                round_number,
                measured["native"],
                measured["kemi"],
                measured["vpbx"],
                measured["redis"],
                (measured["vpbx"] + measured["redis"]) / measured["native"],
                measured["vpbx"] / measured["kemi"],
                redis_commands_per_call(commands_before, redis_commands(profile), args.calls),
            )
            print(
                "round {}: native {:.0f}, kemi {:.0f}, vpbx {:.0f} (+ redis {:.0f}) µs/call; "
                "(vpbx+redis)/native {:.2f}, vpbx/kemi {:.2f}; redis commands per call {}".format(*row),
                flush=True,
            )
            if round_number:
                rows.append(row)
    finally:
        for phone in phones:
            phone.send_signal(signal.SIGKILL)
        for proxy in proxies:
            os.killpg(proxy.pid, signal.SIGTERM)
            proxy.wait(10)
        if not args.keep:
            manager.down(profile, say=lambda _: None)

    table = [
        f"Measured at commit {commit()} on {date.today()}: {args.calls} calls per round and proxy "
        f"at {args.rate} calls/s, held {args.hold_ms} ms; a warm-up round, then {args.rounds} rounds, "
        "the three proxies called at once.",
        "",
        "| round | native µs/call | KEMI µs/call | vpbx µs/call | Redis µs/call (vpbx) "
        "| (vpbx + Redis) / native | vpbx / KEMI | Redis commands per call |",
        "|---|---|---|---|---|---|---|---|",
        *("| {} | {:.0f} | {:.0f} | {:.0f} | {:.0f} | {:.2f} | {:.2f} | {} |".format(*row) for row in rows),
        "| median | {:.0f} | {:.0f} | {:.0f} | {:.0f} | {:.2f} | {:.2f} | {} |".format(
            *(statistics.median(r[i] for r in rows) for i in range(1, 7)),
            rows[len(rows) // 2][7],  # text: the middle round's (a median of text fails on an even count)
        ),
    ]
    table += [
        "",
        spread("(vpbx + Redis) / native", [r[5] for r in rows]),
        "",
        spread("vpbx / KEMI", [r[6] for r in rows]),
    ]
    print("\n".join(table))
    if args.write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "kamailio_cpu.md").write_text("\n".join(table) + "\n")


def spread(name: str, ratios: list[float]) -> str:
    """How far one round's ratio strays: these machines are noisy, so a
    median alone would hide how much to trust it."""
    if len(ratios) < 4:
        return f"{name}: median {statistics.median(ratios):.2f}, rounds {min(ratios):.2f} to {max(ratios):.2f}."
    first, median, third = statistics.quantiles(ratios, n=4)
    return (
        f"{name}: median {median:.2f}; the middle half of the rounds {first:.2f} to {third:.2f}; "
        f"all {len(ratios)} rounds {min(ratios):.2f} to {max(ratios):.2f}."
    )


def redis_commands(profile) -> dict[str, int]:
    """Calls per command (INFO commandstats), the INFO itself excluded."""
    cfg = settings.load(profile.config_path)
    stats = redis.Redis.from_url(cfg.redis_url).info("commandstats")
    return {name: int(v["calls"]) for name, v in stats.items() if name != "cmdstat_info"}


def redis_commands_per_call(before: dict[str, int], after: dict[str, int], calls: int) -> str:
    """Per call, by command: "get 1.00, xadd 0.01" (the history keeper's reads included)."""
    deltas = {name.removeprefix("cmdstat_"): after[name] - before.get(name, 0) for name in after}
    # "xgroup|create": a pipe would split the markdown table's cell.
    return ", ".join(f"{name.replace('|', ' ')} {n / calls:.2f}" for name, n in sorted(deltas.items()) if n)


def commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=BENCH, check=True
    ).stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
