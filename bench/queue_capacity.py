"""How many callers can wait in one call queue at once, hearing its music,
on this machine without losing any of it, and what waiting costs.

Starts the "bench" stack. One number leads to a queue with no agent logged in
(so everyone waits), the standard music and no announcements. Each round, N
SIPp callers call from the carrier at once and wait HOLD seconds; each
caller's audio goes to a socket of this script's own, which notes every RTP
packet it hears. A caller lost audio when a stream's sequence numbers skip
(rtpengine numbers what it plays to each caller); the music broke when no
packet came for BREAK_S. The media app keeps each caller's place fresh every
second in Redis (media/waiting_line.py), so CPU is read from /proc for the
media app, rtpengine and Redis, and Redis's command count, across the round.
Datagrams the kernel dropped at the callers' sockets (this script's) are
counted apart: they are the bench's own limit, not the stack's. Levels run
side by side in one run and each is repeated: these machines are noisy.

    .venv/bin/python bench/queue_capacity.py --levels 50 100 200 --rounds 2 --write
"""

from __future__ import annotations

import argparse
import os
import re
import selectors
import socket
import statistics
import struct
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import redis
from bench_stack import Api, fresh_stack
from kamailio_cpu import commit, cpu_seconds, sipp
from media_capacity import busy_cores, udp_drops

from vpbx import settings as vpbx_settings
from vpbx.stack import manager

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
QUEUE_NUMBER = "+74951115553"
# No packet for this long outlasts a phone's jitter buffer: the caller hears the music stop.
BREAK_S = 0.2
# Linux's SO_TIMESTAMPNS (asm-generic/socket.h), which Python's socket module does not name.
SO_TIMESTAMPNS = 35


def configure(profile) -> int:
    api = Api(profile)
    queue = api(
        "POST",
        "/queues",
        {"name": "Bench queue", "max_wait": 3600, "max_callers": 500, "join_empty": True},
    )
    scheme = api(
        "POST",
        "/schemes",
        {
            "name": "To the queue",
            "steps": [
                {"mode": "parallel", "timeout": 600, "destinations": [{"kind": "queue", "queue_id": queue["id"]}]}
            ],
        },
    )
    api("POST", "/numbers", {"number": QUEUE_NUMBER, "scheme_id": scheme["id"]})
    return queue["id"]


class Ears:
    """One UDP socket per caller; a thread notes (arrival, SSRC, sequence) of every packet."""

    def __init__(self, count: int):
        self.sockets = []
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            # The kernel's arrival time: this thread may read a packet late when
            # the machine is busy, which would look like a break in the music.
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            self.sockets.append(sock)
        self.heard: list[list[tuple[float, int, int, int]]] = [[] for _ in range(count)]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._listen, daemon=True)

    @property
    def ports(self) -> list[int]:
        return [s.getsockname()[1] for s in self.sockets]

    def start(self) -> None:
        self.thread.start()

    def _listen(self) -> None:
        selector = selectors.DefaultSelector()
        for index, sock in enumerate(self.sockets):
            selector.register(sock, selectors.EVENT_READ, index)
        while not self.stopping.is_set():
            for key, _ in selector.select(timeout=0.2):
                sock, index = key.fileobj, key.data
                while True:
                    try:
                        packet, ancillary, _, _ = sock.recvmsg(2048, 64)  # type: ignore[union-attr]
                    except BlockingIOError:
                        break
                    if len(packet) >= 12:
                        sequence, timestamp, ssrc = struct.unpack("!HII", packet[2:12])
                        self.heard[index].append((arrival(ancillary), ssrc, sequence, timestamp))
        selector.close()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()
        for sock in self.sockets:
            sock.close()


def arrival(ancillary) -> float:
    """When the kernel received the datagram (SO_TIMESTAMPNS), in seconds."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            seconds, nanoseconds = struct.unpack("qq", data[:16])
            return seconds + nanoseconds / 1e9
    return time.time()


def listened(heard: list[tuple[float, int, int, int]]) -> dict:
    """What one caller heard: packets, those that never came (sequence gaps per
    stream), the longest silence between packets, breaks of the music, and the
    interarrival jitter (RFC 3550, 6.4.1) at the end."""
    lost, runs = 0, {}
    for _, ssrc, sequence, _ in heard:
        runs.setdefault(ssrc, []).append(sequence)
    for sequences in runs.values():
        unwrapped, offset, previous = [], 0, None
        for sequence in sequences:
            if previous is not None and sequence < previous and previous - sequence > 30000:
                offset += 1 << 16
            unwrapped.append(sequence + offset)
            previous = sequence
        lost += max(0, max(unwrapped) - min(unwrapped) + 1 - len(set(unwrapped)))
    gaps = [b[0] - a[0] for a, b in zip(heard, heard[1:], strict=False)]
    jitter = 0.0
    for a, b in zip(heard, heard[1:], strict=False):
        if a[1] == b[1]:  # the same stream: its timestamps say when each packet was due
            transit_change = (b[0] - a[0]) - ((b[3] - a[3]) & 0xFFFFFFFF) / 8000
            jitter += (abs(transit_change) - jitter) / 16
    return {
        "jitter_ms": jitter * 1000,
        "packets": len(heard),
        "lost": lost,
        "longest_gap_s": max(gaps, default=0.0),
        "breaks": sum(1 for g in gaps if g > BREAK_S),
        "seconds": heard[-1][0] - heard[0][0] if heard else 0.0,
    }


def one_round(profile, services, concurrent: int, hold_s: float, workdir: Path) -> dict:
    pids = {name: services[name].pid() for name in ("media-app", "rtpengine", "redis")}
    client = redis.Redis.from_url(vpbx_settings.load(profile.config_path).redis_url)
    commands_before = int(client.info("stats")["total_commands_processed"])
    ears = Ears(concurrent)
    own = {"callers": os.getpid()}
    drops_before = udp_drops({"media app": pids["media-app"], "rtpengine": pids["rtpengine"]} | own)
    inf = workdir / f"callers{concurrent}.csv"
    inf.write_text("SEQUENTIAL\n" + "".join(f"{port};{n:07d};\n" for n, port in enumerate(ears.ports)))
    scenario = workdir / "uac_queue_wait.xml"
    scenario.write_text(
        (BENCH / "scenarios" / "uac_queue_wait.xml").read_text().replace("{{hold_ms}}", str(int(hold_s * 1000)))
    )
    ears.start()
    before = {name: cpu_seconds(pid) for name, pid in pids.items()} | {"machine": busy_cores()}
    started = time.monotonic()
    caller = sipp(
        scenario,
        "-s",
        QUEUE_NUMBER,
        "-p",
        str(profile.ports.demo_trunk),
        "-inf",
        str(inf),
        "-m",
        str(concurrent),
        "-l",
        str(concurrent),
        "-r",
        str(concurrent),
        "-rp",
        "2000",
        "-timeout",
        f"{int(hold_s) + 120}s",
        "-timeout_error",
        remote=f"127.0.0.1:{profile.ports.sip}",
        wait=False,
    )
    output, _ = caller.communicate(timeout=hold_s + 300)
    elapsed = time.monotonic() - started
    after = {name: cpu_seconds(pid) for name, pid in pids.items()} | {"machine": busy_cores()}
    ears.stop()
    drops_after = udp_drops({"media app": pids["media-app"], "rtpengine": pids["rtpengine"]} | own)
    commands = int(client.info("stats")["total_commands_processed"]) - commands_before
    client.close()
    failed = re.search(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", output)
    calls = [listened(heard) for heard in ears.heard]
    return {
        "concurrent": concurrent,
        "failed_calls": int(failed.group(1)) if failed else None,
        "heard": sum(1 for c in calls if c["packets"]),
        "packets": sum(c["packets"] for c in calls),
        "lost": sum(c["lost"] for c in calls),
        "breaks": sum(c["breaks"] for c in calls),
        "longest_gap_ms": max((c["longest_gap_s"] for c in calls), default=0.0) * 1000,
        "jitter_ms": statistics.mean(c["jitter_ms"] for c in calls),
        "heard_s": statistics.median(c["seconds"] for c in calls),
        "media_share": (after["media-app"] - before["media-app"]) / elapsed,
        "rtpengine_share": (after["rtpengine"] - before["rtpengine"]) / elapsed,
        "redis_share": (after["redis"] - before["redis"]) / elapsed,
        "machine": (after["machine"] - before["machine"]) / elapsed,
        "redis_per_caller_s": commands / concurrent / elapsed,
        "drops": {name: drops_after[name] - drops_before[name] for name in drops_after},
        "elapsed": elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--hold-s", type=float, default=30.0, help="how long each caller waits")
    parser.add_argument("--write", action="store_true", help=f"write the table to {RESULTS}/queue_capacity.md")
    args = parser.parse_args()

    profile = fresh_stack()
    configure(profile)
    services = {s.name: s for s in manager.services(profile)}
    workdir = Path(tempfile.mkdtemp(prefix="vpbx-queue-bench-"))
    results = []
    for round_number in range(args.rounds):
        for concurrent in args.levels if round_number % 2 == 0 else list(reversed(args.levels)):
            result = one_round(profile, services, concurrent, args.hold_s, workdir)
            results.append(result)
            print(
                f"round {round_number + 1}: x{concurrent}: {result['heard']}/{concurrent} heard music "
                f"({result['failed_calls']} calls failed in SIPp), {result['packets']} packets, "
                f"{result['lost']} lost, {result['breaks']} breaks (longest silence "
                f"{result['longest_gap_ms']:.0f} ms, jitter {result['jitter_ms']:.1f} ms); "
                f"media app {result['media_share'] * 100:.1f} % of a core, "
                f"rtpengine {result['rtpengine_share'] * 100:.1f} %, Redis {result['redis_share'] * 100:.1f} % "
                f"({result['redis_per_caller_s']:.1f} commands per caller per second), "
                f"machine {result['machine']:.2f} cores busy; dropped {result['drops']}",
                flush=True,
            )
    lines = [
        f"Measured on {datetime.now(UTC).date()} at commit {commit()} ({args.rounds} rounds per level, "
        f"each caller waiting {args.hold_s:.0f} s; shares of a core are medians of the rounds):",
        "",
        "| callers waiting at once | heard music | packets heard | packets lost | breaks (> 200 ms) "
        "| longest silence | mean jitter | media app share of a core | rtpengine share | Redis share "
        "| Redis commands per caller per second | machine: cores busy of 2 | dropped at the callers' sockets |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for concurrent in args.levels:
        runs = [r for r in results if r["concurrent"] == concurrent]
        lines.append(
            f"| {concurrent} | {sum(r['heard'] for r in runs)}/{concurrent * len(runs)} | "
            f"{sum(r['packets'] for r in runs)} | {sum(r['lost'] for r in runs)} | "
            f"{sum(r['breaks'] for r in runs)} | {max(r['longest_gap_ms'] for r in runs):.0f} ms | "
            f"{statistics.mean(r['jitter_ms'] for r in runs):.1f} ms | "
            f"{statistics.median(r['media_share'] for r in runs) * 100:.1f} % | "
            f"{statistics.median(r['rtpengine_share'] for r in runs) * 100:.1f} % | "
            f"{statistics.median(r['redis_share'] for r in runs) * 100:.1f} % | "
            f"{statistics.median(r['redis_per_caller_s'] for r in runs):.1f} | "
            f"{statistics.median(r['machine'] for r in runs):.2f} | "
            f"{sum(r['drops']['callers'] for r in runs)} |"
        )
    table = "\n".join(lines)
    print("\n" + table)
    if args.write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "queue_capacity.md").write_text(
            "# Callers waiting in a call queue (`queue_capacity.py`)\n\n" + table + "\n"
        )
    manager.down(profile, say=lambda _: None)


if __name__ == "__main__":
    main()
