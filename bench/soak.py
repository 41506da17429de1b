"""Soak: many calls through the whole stack, then what is left behind and how
much memory each process grew by, per 10,000 calls.

A SIPp carrier calls a number whose two-step scheme rings one registered
SIPp phone, which answers; each call is held, then the carrier hangs up.
After every chunk of calls (and a pause for timers to fire) it reads:

- leftovers: rtpengine sessions, Kamailio transactions and dialogs, calls
  without a history line;
- memory: Kamailio's shared memory in use, the resident size of every other
  service (Kamailio's workers' private memory is summed), Redis's own count.

Nothing here asserts; it prints a Markdown table for bench/README.md.
"""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

import psycopg
import redis
from bench_stack import fresh_stack
from kamailio_cpu import SCENARIOS, configure_vpbx, free_udp_port, load, register, sipp

from vpbx import settings as vpbx_settings
from vpbx.kamailio_rpc import KamailioRpc
from vpbx.media.ng import NgClient
from vpbx.stack import manager

SETTLE_S = 40  # longer than tm's wait timer and rtpengine's delete handling


def rss_kib(pid: int) -> int:
    """Resident memory of a process and its descendants, in KiB (private pages
    would be fairer to Kamailio's forks; its shared memory is read separately)."""
    total = 0
    todo = [pid]
    seen = set()
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
        todo.extend(children.get(current, []))
    return total


def snapshot(profile, cfg, rpc: KamailioRpc, ng: NgClient) -> dict:
    stats = rpc.call("stats.fetch", "tmx.inuse_transactions", "dialog.active_dialogs", "shmem.used_size")
    with psycopg.connect(cfg.database_url) as conn:  # a fresh stack: every line is the soak's
        row = conn.execute("SELECT count(*) FROM calls").fetchone()
        lines = row[0] if row else 0
    memory = {}
    for service in manager.services(profile):
        pid = service.pid()
        if pid:
            memory[service.name] = rss_kib(pid)
    used = redis.Redis.from_url(cfg.redis_url).info("memory")["used_memory"]
    # Kamailio's processes' private memory (pkg), what a leak in a worker grows;
    # their RSS also counts the shared memory each has touched so far.
    pkg = sum(int(process["used"]) for process in rpc.call("pkg.stats"))
    return {
        "sessions": len(ng.list_calls()),
        "transactions": int(stats["tmx.inuse_transactions"]),
        "dialogs": int(stats["dialog.active_dialogs"]),
        "shm_kib": int(stats["shmem.used_size"]) // 1024,
        "pkg_kib": pkg // 1024,
        "redis_kib": used // 1024,
        "history_lines": lines,
        "rss_kib": memory,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--chunk", type=int, default=10000, help="calls between two readings")
    parser.add_argument("--rate", type=int, default=100, help="calls per second")
    parser.add_argument("--hold-ms", type=int, default=500)
    parser.add_argument("--keep", action="store_true", help="leave the bench stack running")
    args = parser.parse_args()

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    if subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout:
        commit += " with uncommitted changes"
    profile = fresh_stack()
    cfg = vpbx_settings.load(profile.config_path)
    rpc = KamailioRpc(cfg.kamailio_rpc, timeout=2.0)
    ng = NgClient(cfg.rtpengine_ng.host, cfg.rtpengine_ng.port)
    remote = f"127.0.0.1:{profile.ports.sip}"
    try:
        demo = configure_vpbx(profile)
        phone_port = free_udp_port()
        register(remote, phone_port, demo)
        phone = sipp(
            SCENARIOS / "uas_answer.xml",
            "-p",
            str(phone_port),
            "-key",
            "rtp_port",
            str(free_udp_port()),
            wait=False,
        )
        readings = [("start", 0, 0, snapshot(profile, cfg, rpc, ng))]
        done = failed = 0
        while done < args.calls:
            chunk = min(args.chunk, args.calls - done)
            # Every failure is counted and reported, none stops the soak.
            failed += load(remote, profile.ports.demo_trunk, chunk, args.rate, args.hold_ms, tolerated=chunk).finish()
            done += chunk
            time.sleep(SETTLE_S)
            readings.append((f"after {done:,}", done, failed, snapshot(profile, cfg, rpc, ng)))
        phone.terminate()
        print_table(commit, args, readings)
    finally:
        if not args.keep:
            manager.down(profile, say=lambda _: None)


def print_table(commit: str, args, readings) -> None:
    names = sorted(readings[0][3]["rss_kib"])
    print(
        f"Soak at commit {commit}: {args.calls:,} calls at {args.rate}/s, held {args.hold_ms} ms, "
        f"read every {args.chunk:,} calls after {SETTLE_S} s\n"
    )
    print("| reading | failed calls | history lines | rtpengine sessions | transactions | dialogs |")
    print("|---|---|---|---|---|---|")
    for label, _, failed, r in readings:
        print(
            f"| {label} | {failed} | {r['history_lines']:,} | {r['sessions']} | {r['transactions']} | {r['dialogs']} |"
        )
    print()
    print(
        "| reading | Kamailio shm KiB | Kamailio pkg KiB | Redis used KiB | "
        + " | ".join(f"{n} RSS KiB" for n in names)
        + " |"
    )
    print("|---|---|---|---|" + "---|" * len(names))
    for label, _, _, r in readings:
        cells = " | ".join(f"{r['rss_kib'].get(n, 0):,}" for n in names)
        print(f"| {label} | {r['shm_kib']:,} | {r['pkg_kib']:,} | {r['redis_kib']:,} | {cells} |")
    # The first chunk includes warming up (caches, shared memory pages first
    # touched, timers' tables filling); the last one is the steady state.
    for title, (before, after) in (
        ("first chunk", (readings[0], readings[1])),
        ("last chunk", (readings[-2], readings[-1])),
    ):
        per = 10000 / max(after[1] - before[1], 1)
        b, a = before[3], after[3]
        growth = [
            f"Kamailio shm {(a['shm_kib'] - b['shm_kib']) * per:+,.0f}",
            f"Kamailio pkg {(a['pkg_kib'] - b['pkg_kib']) * per:+,.0f}",
            f"Redis {(a['redis_kib'] - b['redis_kib']) * per:+,.0f}",
        ] + [f"{n} {(a['rss_kib'].get(n, 0) - b['rss_kib'].get(n, 0)) * per:+,.0f}" for n in names]
        print(f"\nGrowth per 10,000 calls over the {title}, KiB: " + ", ".join(growth))


if __name__ == "__main__":
    main()
