"""Redis per new call, by destination kind: commands and round trips, and who sends them.

Starts the "bench" stack and gives each destination kind a number whose
scheme rings it once: an employee, a department of each distribution (its one
member: what differs is the department's shared state, not the members), a
voicemail box and an IVR menu. A SIPp carrier calls each number N times (the
phone of employee 101 answers, or the media app), holding each call 500 ms.
Meanwhile every command Redis receives is recorded (MONITOR) and attributed
to the process that sent it, by its connection's port (/proc/net/tcp and
each process's open sockets).

A round trip is a client's commands that reach Redis within 1 ms of each
other (a pipeline, or redis-py's MULTI around one): counted for Kamailio,
whose SIP workers route each call and so sit on its hot path. The media app
and the keepers are shown as commands per call: they do not delay a call's
routing.

    .venv/bin/python bench/redis_per_kind.py --calls 50
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import redis

# bench/ is on sys.path when a script here runs.
from bench_stack import Api, credentials, fresh_stack, parent_pids, socket_inodes
from kamailio_cpu import SCENARIOS, free_udp_port, sipp

from vpbx import settings
from vpbx.kamailio_rpc import KamailioRpc
from vpbx.stack import manager

PIPELINE_GAP_S = 0.001
PHONE = "101"


def configure(profile) -> dict[str, str]:
    """One number per destination kind; returns kind -> number."""
    api = Api(profile)
    anna = next(e["id"] for e in api("GET", "/employees") if e["extension"] == PHONE)
    destinations: dict[str, dict] = {"employee": {"kind": "employee", "employee_id": anna}}
    for distribution in ("all_at_once", "in_order", "round_robin", "random", "longest_idle"):
        department = api(
            "POST",
            "/departments",
            {"name": f"Bench {distribution}", "distribution": distribution, "ring_time": 15, "members": [anna]},
        )
        destinations[f"department ({distribution})"] = {"kind": "department", "department_id": department["id"]}
    box = api("POST", "/voicemail-boxes", {"name": "Bench box", "recipients": [{"employee_id": anna}]})
    destinations["voicemail"] = {"kind": "voicemail", "voicemail_box_id": box["id"]}
    menu = api(
        "POST",
        "/ivr-menus",
        {
            "name": "Bench menu",
            "greeting": {"kind": "tts", "text": "Нажмите один."},
            "keys": {
                "1": {"kind": "voicemail", "voicemail_box_id": box["id"]},
                "timeout": {"kind": "voicemail", "voicemail_box_id": box["id"]},
            },
        },
    )
    destinations["ivr"] = {"kind": "ivr", "ivr_menu_id": menu["id"]}
    numbers = {}
    for n, (kind, destination) in enumerate(destinations.items()):
        scheme = api(
            "POST",
            "/schemes",
            {"name": f"Bench {kind}", "steps": [{"mode": "parallel", "timeout": 15, "destinations": [destination]}]},
        )
        number = f"+7495111{7000 + n}"
        api("POST", "/numbers", {"number": number, "scheme_id": scheme["id"]})
        numbers[kind] = number
    return numbers


class Recorder:
    """Every command Redis receives while running, with its client's port."""

    def __init__(self, client: redis.Redis):
        self.client = client
        self.commands: list[tuple[float, int, str]] = []
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self.client.monitor() as monitor:
            for entry in monitor.listen():
                if not self.running:
                    return
                name = entry["command"].split(" ", 1)[0].strip('"').upper()
                self.commands.append((float(entry["time"]), int(entry.get("client_port") or 0), name))

    def __enter__(self) -> Recorder:
        self.thread.start()
        time.sleep(0.2)
        return self

    def __exit__(self, *exc) -> None:
        time.sleep(0.5)  # the last commands of the last call
        self.running = False
        self.client.ping()  # wakes the monitor up to see it should stop
        self.thread.join(5)


def kamailio_roles(cfg) -> dict[int, str]:
    """Kamailio's processes by what they do (RPC core.psx): the SIP workers
    route calls; the history timer and the lookups' task workers do not."""
    roles = {}
    for process in KamailioRpc(cfg.kamailio_rpc).call("core.psx"):
        what = process["DSC"]
        if what.startswith(("udp receiver", "tcp receiver")):
            role = "SIP workers"
        elif "timer=history" in what:
            role = "history timer"
        else:
            role = "other"
        roles[int(process["PID"])] = f"kamailio: {role}"
    return roles


def owners(redis_port: int, run_dir: Path, roles: dict[int, str]) -> dict[int, str]:
    """Client port -> the process that holds the connection (Kamailio's by
    role, the media app, the keepers, the sidecar)."""
    services = {}
    for pidfile in (run_dir / "pid").glob("*.pid"):
        try:
            services[int(pidfile.read_text().split()[0])] = pidfile.stem
        except (OSError, ValueError):
            continue
    parents = parent_pids()

    def service(pid: int) -> str | None:
        while pid > 1:
            if pid in services:
                return services[pid]
            pid = parents.get(pid, 1)
        return None

    inode_port = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], fields[9]
        if int(remote.split(":")[1], 16) == redis_port:
            inode_port[inode] = int(local.split(":")[1], 16)
    ports = {}
    for pid in parents:
        name = roles.get(pid) or service(pid)
        if name is None:
            continue
        for inode in socket_inodes(pid) & inode_port.keys():
            ports[inode_port[inode]] = name
    return ports


def round_trips(commands: list[tuple[float, int, str]]) -> int:
    """Groups of one client's commands within PIPELINE_GAP_S of each other."""
    last: dict[int, float] = {}
    trips = 0
    for at, port, _ in sorted(commands):
        if at - last.get(port, -1.0) > PIPELINE_GAP_S:
            trips += 1
        last[port] = at
    return trips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50, help="calls per destination kind")
    args = parser.parse_args()

    profile = fresh_stack()
    cfg = settings.load(profile.config_path)
    numbers = configure(profile)
    accounts = credentials(profile)["accounts"]
    password = next(a["password"] for a in accounts if a["login"] == PHONE)
    phone_port = free_udp_port()
    phone = sipp(
        SCENARIOS / "uas_answer.xml", "-p", str(phone_port), "-key", "rtp_port", str(free_udp_port()), wait=False
    )
    remote = f"127.0.0.1:{profile.ports.sip}"
    rows = []
    try:
        register = ["-key", "domain", "demo.vpbx.test", "-key", "contact_port", str(phone_port), "-s", PHONE]
        sipp(SCENARIOS / "register.xml", *register, "-m", "1", "-p", str(free_udp_port()), "-au", PHONE,
             "-ap", password, remote=remote)  # fmt: skip
        for kind, number in numbers.items():
            # One call first, not counted: a worker's first call of a number reads its document.
            calls = ["-s", number, "-key", "rtp_port", str(free_udp_port()), "-p", str(profile.ports.demo_trunk)]
            sipp(SCENARIOS / "uac_call.xml", *calls, "-m", "1", "-d", "500", remote=remote, tolerated=1)
            with Recorder(redis.Redis.from_url(cfg.redis_url)) as recorder:
                calls = ["-s", number, "-key", "rtp_port", str(free_udp_port()), "-p", str(profile.ports.demo_trunk)]
                sipp(SCENARIOS / "uac_call.xml", *calls, "-m", str(args.calls), "-r", "10", "-d", "500",
                     "-timeout", "300s", remote=remote, tolerated=args.calls)  # fmt: skip
            redis_port = int(cfg.redis_url.rsplit(":", 1)[1].split("/")[0])
            by_port = owners(redis_port, profile.run_dir, kamailio_roles(cfg))
            by_service: dict[str, list] = defaultdict(list)
            for command in recorder.commands:
                by_service[by_port.get(command[1], "other")].append(command)
            rows.append((kind, by_service))
    finally:
        phone.send_signal(signal.SIGKILL)
        manager.down(profile, say=lambda _: None)

    def per_call(commands: list) -> str:
        counts = Counter(name for _, _, name in commands)
        return ", ".join(f"{name} {n / args.calls:.2f}" for name, n in sorted(counts.items())) or "none"

    print(f"\n{args.calls} calls per kind, each held 500 ms; per call:\n")
    print(
        "| destination kind | Kamailio SIP workers: round trips | their commands | Kamailio's history timer "
        "| media app | keepers and others |"
    )
    print("|---|---|---|---|---|---|")
    shown = ("kamailio: SIP workers", "kamailio: history timer", "media-app")
    for kind, by_service in rows:
        workers = by_service.get(shown[0], [])
        others = [c for name, cs in by_service.items() if name not in shown for c in cs]
        print(
            f"| {kind} | {round_trips(workers) / args.calls:.2f} | {per_call(workers)} | "
            f"{per_call(by_service.get(shown[1], []))} | {per_call(by_service.get(shown[2], []))} | "
            f"{per_call(others)} |"
        )


if __name__ == "__main__":
    main()
