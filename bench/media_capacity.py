"""How many voicemail recordings and IVR calls at once the media app takes on
this machine without losing audio, and what each costs in CPU.

Starts the "bench" stack. One number goes straight to a voicemail box, another
to an IVR menu whose key 1 leads to a box. Each round starts N callers at
once (SIPp); each waits for the prompts, sends 7.05 s of speech
(236 RTP packets of PCMA, SIPp's g711a.pcap) and then #, and the media app
hangs up. Every message must hold all 236 packets, end by #, and last 7.05 s
(± one packet): anything less is lost audio. CPU is read from /proc for the
media app and rtpengine, from getrusage for SIPp (the callers), and for the
whole machine from /proc/stat, across the round, and so are the datagrams the
kernel dropped at the media app's and rtpengine's sockets: whichever runs out
first is what breaks. What the callers hear is not counted: rtpengine plays
the prompts itself (ng "play media"), its "query" counts only the packets it
receives, and SIPp discards what it receives. Levels run side by side in one
run and each is repeated, because these machines are noisy.

    .venv/bin/python bench/media_capacity.py --levels 10 20 40 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import statistics
import tempfile
import time
import wave
from pathlib import Path

from aiosmtpd.controller import Controller
from bench_stack import Api, fresh_stack, socket_inodes
from kamailio_cpu import cpu_seconds, sipp

from vpbx import db
from vpbx import settings as vpbx_settings
from vpbx.media.prompts import PromptLibrary
from vpbx.stack.process import running_pid

BENCH = Path(__file__).resolve().parent
VOICEMAIL_NUMBER = "+74951115551"
IVR_NUMBER = "+74951115552"
GREETING = "Говорите после сигнала."
MENU = "Нажмите один."
SENT_PACKETS = 236
SENT_SECONDS = 7.05
_RECORDED = re.compile(r"(\S+): recording into box \d+ ended by (\S+): [\d.]+ s of speech, (\d+) packets")


def prompt_seconds(cfg, text: str) -> float:
    """How long the media app's rendering of ``text`` plays (the same file: the cache key is the text)."""
    path = asyncio.run(PromptLibrary(cfg.media.data_dir / "prompts").speech(text, "ru"))
    with wave.open(str(path)) as prompt:
        return prompt.getnframes() / prompt.getframerate()


BEEP_SECONDS = 0.4


def busy_cores() -> float:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def callers_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def udp_drops(pids: dict[str, int]) -> dict[str, int]:
    """Datagrams the kernel dropped because a process did not read its UDP
    sockets fast enough (/proc/net/udp's last column), summed per process:
    where audio is lost when no CPU has run out."""
    inodes = {inode: name for name, pid in pids.items() for inode in socket_inodes(pid)}
    drops = dict.fromkeys(pids, 0)
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[9] in inodes:
            drops[inodes[fields[9]]] += int(fields[-1])
    return drops


class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


def configure(profile) -> None:
    api = Api(profile)
    anna = next(e["id"] for e in api("GET", "/employees") if e["extension"] == "101")
    prompt = api("POST", "/prompts", {"name": "Speak after the tone", "kind": "tts", "text": GREETING})
    box = api(
        "POST",
        "/voicemail-boxes",
        {
            "name": "Bench box",
            "recipients": [{"employee_id": anna}],
            "greeting_prompt_id": prompt["id"],
            "silence_s": 10,
        },
    )
    to_box = api(
        "POST",
        "/schemes",
        {
            "name": "To the box",
            "steps": [
                {
                    "mode": "parallel",
                    "timeout": 15,
                    "destinations": [{"kind": "voicemail", "voicemail_box_id": box["id"]}],
                }
            ],
        },
    )
    api("POST", "/numbers", {"number": VOICEMAIL_NUMBER, "scheme_id": to_box["id"]})
    menu = api(
        "POST",
        "/ivr-menus",
        {
            "name": "Bench menu",
            "greeting": {"kind": "tts", "text": MENU},
            "keys": {
                "1": {"kind": "voicemail", "voicemail_box_id": box["id"]},
                "timeout": {"kind": "voicemail", "voicemail_box_id": box["id"]},
            },
        },
    )
    to_menu = api(
        "POST",
        "/schemes",
        {
            "name": "To the menu",
            "steps": [
                {"mode": "parallel", "timeout": 15, "destinations": [{"kind": "ivr", "ivr_menu_id": menu["id"]}]}
            ],
        },
    )
    api("POST", "/numbers", {"number": IVR_NUMBER, "scheme_id": to_menu["id"]})


def scenario(workdir: Path, kind: str, wait_ms: int) -> Path:
    text = (BENCH / "scenarios" / "uac_voicemail.xml").read_text()
    # IVR: key 1 half a second into the menu's greeting, which stops it.
    keys = (
        ""
        if kind == "voicemail"
        else '<pause milliseconds="500"/>\n  <nop><action><exec play_pcap_audio='
        '"/usr/share/sip-tester/dtmf_2833_1.pcap"/></action></nop>'
    )
    path = workdir / f"uac_{kind}.xml"
    path.write_text(text.replace("{{keys}}", keys).replace("{{wait_ms}}", str(wait_ms)))
    return path


def one_round(profile, cfg, kind: str, concurrent: int, wait_ms: int, workdir: Path, arrival_s: int = 1) -> dict:
    media_pid = running_pid(profile.run_dir / "pid" / "media-app.pid", "vpbx")
    rtpengine_pid = running_pid(profile.run_dir / "pid" / "rtpengine.pid", "rtpengine")
    log = profile.log_dir / "media-app.log"
    log_offset = log.stat().st_size
    token = f"{kind}{concurrent}x{int(time.time())}"
    servers = {"media app": media_pid, "rtpengine": rtpengine_pid}
    drops_before = udp_drops(servers)
    before = (cpu_seconds(media_pid), cpu_seconds(rtpengine_pid), callers_cpu(), busy_cores())
    started = time.monotonic()
    caller = sipp(
        scenario(workdir, kind, wait_ms),
        "-s",
        VOICEMAIL_NUMBER if kind == "voicemail" else IVR_NUMBER,
        "-p",
        str(profile.ports.demo_trunk),
        "-mp",
        "36000",
        "-m",
        str(concurrent),
        "-l",
        str(concurrent),
        "-r",
        str(concurrent),
        "-rp",
        str(arrival_s * 1000),
        "-timeout",
        "300s",
        "-timeout_error",
        "-cid_str",
        f"%u-{token}@%s",
        remote=f"127.0.0.1:{profile.ports.sip}",
        wait=False,
    )
    output, _ = caller.communicate(timeout=600)
    failed = re.search(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", output)
    elapsed = time.monotonic() - started
    after = (cpu_seconds(media_pid), cpu_seconds(rtpengine_pid), callers_cpu(), busy_cores())
    drops = {name: n - drops_before[name] for name, n in udp_drops(servers).items()}
    with log.open() as handle:
        handle.seek(log_offset)
        recorded = {
            m.group(1): (m.group(2), int(m.group(3))) for m in _RECORDED.finditer(handle.read()) if token in m.group(1)
        }
    with db.connect(cfg.database_url) as conn:
        durations = [
            r["duration_ms"] / 1000
            for r in conn.execute("SELECT duration_ms FROM voicemail_messages WHERE call_id LIKE %s", (f"%-{token}@%",))
        ]
    packets = [p for _, p in recorded.values()]
    # A message ended by # lacks its first packets: its recording began after
    # the caller started speaking, on the schedule of a beep that came late.
    missing = [SENT_PACKETS - p for ended_by, p in recorded.values() if ended_by == "#"]
    complete = sum(1 for (ended_by, p) in recorded.values() if ended_by == "#" and p == SENT_PACKETS)
    return {
        "kind": kind,
        "concurrent": concurrent,
        "messages": len(durations),
        "complete": complete,
        "failed_calls": int(failed.group(1)) if failed else None,
        "lost_packets": SENT_PACKETS * concurrent - sum(packets),
        "duration_ok": sum(1 for d in durations if abs(d - SENT_SECONDS) <= 0.03),
        "media_ms_per_call": (after[0] - before[0]) * 1000 / concurrent,
        "rtpengine_ms_per_call": (after[1] - before[1]) * 1000 / concurrent,
        "media_core_share": (after[0] - before[0]) / elapsed,
        "rtpengine_core_share": (after[1] - before[1]) / elapsed,
        "callers_core_share": (after[2] - before[2]) / elapsed,
        "machine_busy_cores": (after[3] - before[3]) / elapsed,
        "late_mean_ms": statistics.mean(missing) * 20 if missing else 0.0,
        "late_max_ms": max(missing, default=0) * 20,
        "media_drops": drops["media app"],
        "rtpengine_drops": drops["rtpengine"],
        "elapsed_s": elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", type=int, nargs="+", default=[10, 20, 40])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--arrival-s", type=int, default=1, help="the callers of a round arrive over this many seconds (1: at once)"
    )
    args = parser.parse_args()

    profile = fresh_stack()
    cfg = vpbx_settings.load(profile.config_path)
    # Every message is emailed, as in production: a local SMTP server takes the mail.
    mail = Controller(Sink(), hostname="127.0.0.1", port=profile.ports.smtp)
    mail.start()
    configure(profile)
    margin = 0.8  # the prompts' own latency and SIPp's scheduling
    greeting = prompt_seconds(cfg, GREETING)
    wait_voicemail = int((greeting + BEEP_SECONDS + margin) * 1000)
    # The menu is cut short by the key 0.5 s in; then the box's greeting and beep.
    wait_ivr = wait_voicemail
    workdir = Path(tempfile.mkdtemp(prefix="vpbx-media-bench-"))

    results = []
    for round_number in range(args.rounds):
        for concurrent in args.levels:
            for kind in ("voicemail", "ivr") if round_number % 2 == 0 else ("ivr", "voicemail"):
                wait = wait_voicemail if kind == "voicemail" else wait_ivr
                result = one_round(profile, cfg, kind, concurrent, wait, workdir, args.arrival_s)
                results.append(result)
                print(
                    f"round {round_number + 1}: {kind:9} x{concurrent:3}: {result['complete']}/{concurrent} "
                    f"complete ({result['failed_calls']} calls failed in SIPp), "
                    f"{result['lost_packets']} packets lost (recordings began {result['late_mean_ms']:.0f} ms late "
                    f"on average, at most {result['late_max_ms']} ms), "
                    f"media app {result['media_ms_per_call']:.1f} ms CPU/call "
                    f"({result['media_core_share'] * 100:.1f} % of a core), "
                    f"rtpengine {result['rtpengine_ms_per_call']:.1f} ms/call "
                    f"({result['rtpengine_core_share'] * 100:.1f} %), "
                    f"callers (SIPp) {result['callers_core_share'] * 100:.1f} %, "
                    f"machine {result['machine_busy_cores']:.2f} cores busy; "
                    f"datagrams dropped at the media app's sockets {result['media_drops']}, "
                    f"at rtpengine's {result['rtpengine_drops']}",
                    flush=True,
                )

    mail.stop()
    print(
        "\n| kind | callers at once | messages complete | packets lost | recording began late: mean, most "
        "| dropped at the media app's sockets "
        "| at rtpengine's | media app CPU per call | media app share of a core "
        "| rtpengine CPU per call | rtpengine share | callers' (SIPp) share | machine: cores busy of 2 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for kind in ("voicemail", "ivr"):
        for concurrent in args.levels:
            runs = [r for r in results if r["kind"] == kind and r["concurrent"] == concurrent]
            print(
                f"| {kind} | {concurrent} | {sum(r['complete'] for r in runs)}/{concurrent * len(runs)} | "
                f"{sum(r['lost_packets'] for r in runs)} | "
                f"{statistics.mean(r['late_mean_ms'] for r in runs):.0f} ms, "
                f"{max(r['late_max_ms'] for r in runs)} ms | "
                f"{sum(r['media_drops'] for r in runs)} | {sum(r['rtpengine_drops'] for r in runs)} | "
                f"{statistics.median(r['media_ms_per_call'] for r in runs):.1f} ms | "
                f"{statistics.median(r['media_core_share'] for r in runs) * 100:.1f} % | "
                f"{statistics.median(r['rtpengine_ms_per_call'] for r in runs):.1f} ms | "
                f"{statistics.median(r['rtpengine_core_share'] for r in runs) * 100:.1f} % | "
                f"{statistics.median(r['callers_core_share'] for r in runs) * 100:.1f} % | "
                f"{statistics.median(r['machine_busy_cores'] for r in runs):.2f} |"
            )


if __name__ == "__main__":
    main()
