"""Does a stalled webhook slow other calls down? Ordinary calls' setup time, with
and without a webhook number under load whose server never answers in time.

Starts the "bench" stack. The demo number rings a registered SIPp phone that
answers at once; a second number asks a webhook at a local HTTP server that
stalls far past the webhook's budget (its breaker is off, so every call waits
the full budget in one of Kamailio's async task workers), then falls back to
the same phone. Each round times the ordinary calls (SIPp's response time
from INVITE to 200 OK) alone, then again while the webhook number takes its
own stream of calls; rounds alternate the order, because these machines are noisy.

    .venv/bin/python bench/webhook_isolation.py --calls 400 --rate 20 --webhook-rate 10 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench_stack import Api, credentials, fresh_stack
from kamailio_cpu import SCENARIOS, free_udp_port, register, sipp

from vpbx import db
from vpbx import settings as vpbx_settings
from vpbx.config.trunks import reload_kamailio, save_trunk
from vpbx.kamailio_rpc import KamailioRpc
from vpbx.stack import manager

BENCH = Path(__file__).resolve().parent
WEBHOOK_NUMBER = "+74951114444"


def stalling_server(stall_s: float) -> ThreadingHTTPServer:
    class Stall(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(stall_s)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Stall)
    server.daemon_threads = True
    server.handle_error = lambda request, address: None  # vpbx hung up long ago: expected
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def configure(profile, url: str, budget_ms: int, webhook_caller_port: int) -> str:
    """The webhook number, and a second carrier trunk (the webhook stream's own
    source port); returns the demo number (the ordinary one)."""
    config = vpbx_settings.load(profile.config_path)
    with db.connect(config.database_url) as conn:
        save_trunk(conn, name="bench webhook caller", address="127.0.0.1", port=webhook_caller_port)
    reload_kamailio(KamailioRpc(config.kamailio_rpc, timeout=2.0))
    api = Api(profile)
    anna = next(e["id"] for e in api("GET", "/employees") if e["extension"] == "101")
    ring_anna = [{"mode": "parallel", "timeout": 20, "destinations": [{"kind": "employee", "employee_id": anna}]}]
    fallback = api("POST", "/schemes", {"name": "Fallback", "steps": ring_anna})
    hook = api(
        "POST",
        "/webhooks",
        {
            "name": "stalling",
            "url": url,
            "budget_ms": budget_ms,
            "breaker_failures": 0,
            "fallback_scheme_id": fallback["id"],
        },
    )
    scheme = api(
        "POST",
        "/schemes",
        {
            "name": "Ask the webhook",
            "steps": [
                {"mode": "parallel", "timeout": 20, "destinations": [{"kind": "webhook", "webhook_id": hook["id"]}]}
            ],
        },
    )
    api("POST", "/numbers", {"number": WEBHOOK_NUMBER, "scheme_id": scheme["id"]})
    return credentials(profile)["number"]


def timed_calls(remote: str, source_port: int, number: str, calls: int, rate: int, wait: bool = True):
    """SIPp calls to ``number`` from a trunk's port; with ``wait``, their setup times in ms."""
    args = [
        "-s",
        number,
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
        "200",
        "-timeout",
        "600s",
        "-timeout_error",
        "-trace_rtt",
        "-rtt_freq",
        "1",
    ]
    process = sipp(BENCH / "scenarios" / "uac_timed.xml", *args, remote=remote, wait=False)
    return process if not wait else setup_times(process)


def setup_times(process) -> list[float]:
    output, _ = process.communicate(timeout=900)
    if process.returncode != 0:
        raise SystemExit(f"sipp exited {process.returncode}:\n{output[-2000:]}")
    # SIPp names the file after the scenario's path: it lands beside the scenario.
    workdir = Path(process.args[process.args.index("-error_file") + 1]).parent
    times = []
    for path in [*workdir.glob(f"*_{process.pid}_rtt.csv"), *(BENCH / "scenarios").glob(f"*_{process.pid}_rtt.csv")]:
        text = path.read_text()
        path.unlink()
        for line in text.splitlines():
            fields = line.split(";")
            try:
                times.append(float(fields[1]))
            except (IndexError, ValueError):
                continue  # the header
    return times


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400, help="ordinary calls per measurement")
    parser.add_argument("--rate", type=int, default=20, help="ordinary calls per second")
    parser.add_argument("--webhook-rate", type=int, default=10, help="webhook-number calls per second")
    parser.add_argument("--budget-ms", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="leave the bench stack running")
    args = parser.parse_args()

    server = stalling_server(stall_s=30)
    profile = fresh_stack()
    webhook_caller = free_udp_port()
    number = configure(profile, f"http://127.0.0.1:{server.server_address[1]}/route", args.budget_ms, webhook_caller)
    carrier = profile.ports.demo_trunk
    remote = f"127.0.0.1:{profile.ports.sip}"
    phone_port = free_udp_port()
    phone = sipp(
        SCENARIOS / "uas_answer.xml", "-p", str(phone_port), "-key", "rtp_port", str(free_udp_port()), wait=False
    )
    register(remote, phone_port, credentials(profile))
    duration_s = args.calls / args.rate
    rows = []

    def loaded() -> tuple[list[float], list[float]]:
        # The webhook stream starts first and outlasts the ordinary calls.
        lead_s = args.budget_ms / 1000 + 1
        webhook_calls = int(args.webhook_rate * (duration_s + 2 * lead_s))
        stream = timed_calls(remote, webhook_caller, WEBHOOK_NUMBER, webhook_calls, args.webhook_rate, wait=False)
        time.sleep(lead_s)
        ordinary = timed_calls(remote, carrier, number, args.calls, args.rate)
        return ordinary, setup_times(stream)

    try:
        for round_number in range(1, args.rounds + 1):
            if round_number % 2:
                alone = timed_calls(remote, carrier, number, args.calls, args.rate)
                beside, webhook = loaded()
            else:
                beside, webhook = loaded()
                alone = timed_calls(remote, carrier, number, args.calls, args.rate)
            row = (
                round_number,
                statistics.median(alone),
                percentile(alone, 0.95),
                statistics.median(beside),
                percentile(beside, 0.95),
                statistics.median(beside) / statistics.median(alone),
                percentile(beside, 0.95) / percentile(alone, 0.95),
                statistics.median(webhook),
                len(webhook),
            )
            rows.append(row)
            print(
                "round {}: alone p50 {:.1f} p95 {:.1f} ms; beside the stalled webhook p50 {:.1f} p95 {:.1f} ms; "
                "ratios {:.2f} {:.2f}; webhook calls p50 {:.0f} ms ({} calls)".format(*row),
                flush=True,
            )
    finally:
        phone.kill()
        server.shutdown()
        if not args.keep:
            manager.down(profile, say=lambda _: None)

    print(
        f"\n{args.calls} ordinary calls per measurement at {args.rate} cps; webhook number at "
        f"{args.webhook_rate} cps, budget {args.budget_ms} ms, server stalling 30 s, breaker off"
    )
    print(
        "| round | alone p50 ms | alone p95 ms | beside p50 ms | beside p95 ms | p50 ratio | p95 ratio "
        "| webhook calls p50 ms | webhook calls |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| {} | {:.1f} | {:.1f} | {:.1f} | {:.1f} | {:.2f} | {:.2f} | {:.0f} | {} |".format(*row))
    medians = [statistics.median(r[i] for r in rows) for i in range(1, 9)]
    print("| median | {:.1f} | {:.1f} | {:.1f} | {:.1f} | {:.2f} | {:.2f} | {:.0f} | {:.0f} |".format(*medians))


if __name__ == "__main__":
    sys.exit(main())
