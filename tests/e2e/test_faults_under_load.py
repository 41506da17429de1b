"""Services restarted while calls keep coming (SIPp's 10 calls/s): no call the
design says survives fails, every call keeps its history line, and what waited
catches up. Each test names what the README's "Failures" says the outage costs."""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass

from vpbx import db as vpbx_db
from vpbx.kamailio_adapter.worker import history_spool_path
from vpbx.media.load import media_app_load
from vpbx.stack.process import wait_for

from .calls import parallel
from .sipp import Sipp, SippResult, free_udp_port

CALLS = 80  # 8 s at SIPp's 10 calls/s
OUTAGE_S = 3.0  # how long the service stays down: the fault itself, not a wait for an outcome


@dataclass(frozen=True)
class Line:
    status: str  # "answered" (by a person) or "missed"
    picked_up: bool  # by a person or the media app (voicemail greets a "missed" call)
    seconds: float  # from the INVITE to the end


class Load:
    """The demo trunk's carrier calling ``number`` CALLS times at SIPp's 10
    calls/s; with ``answering``, Anna's phone (101) answers every call it gets."""

    def __init__(self, stack, cfg, sip_target, number, register=None, *, scenario="uac_call.xml", values=None):
        self.cfg = cfg
        self.phone: Sipp | None = None
        if register is not None:
            phone_port = free_udp_port()
            assert register("101", phone_port)[0] == 200
            self.phone = Sipp(
                "uas_answer.xml", port=phone_port, calls=CALLS, timeout_s=60, keys={"rtp_port": free_udp_port()}
            ).start()
        self.carrier = Sipp(
            scenario,
            port=stack.ports.demo_trunk,
            remote=sip_target,
            service=number,
            calls=CALLS,
            duration_ms=300,
            timeout_s=60,
            values=values,
            keys={"rtp_port": free_udp_port()},
        ).start()
        self.ours = f"%-{self.carrier.pid}-{self.carrier.call_id_token}@%"

    def lines(self) -> dict[str, Line]:
        """This load's history lines by Call-ID (a connection of its own each
        time: a PostgreSQL restart closes any kept one)."""
        with vpbx_db.connect(self.cfg.database_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT call_id, status, answered_at, extract(epoch FROM ended_at - started_at) AS seconds "
                "FROM calls WHERE call_id LIKE %s",
                (self.ours,),
            ).fetchall()
        return {row["call_id"]: Line(row["status"], row["answered_at"] is not None, row["seconds"]) for row in rows}

    def underway(self) -> None:
        wait_for(lambda: len(self.lines()) >= 10, 15, "the first calls' history lines")

    def finished(self) -> SippResult:
        """The carrier's result, once every call has ended; the phone is let go."""
        carried = self.carrier.wait()
        if self.phone is not None:
            self.phone.stop()
        return carried

    def through_restart_of(self, service) -> SippResult:
        """Once the load is on, ``service`` stops for OUTAGE_S and starts again:
        the carrier's result, every call completed whichever way it ended."""
        self.underway()
        assert service.stop()
        time.sleep(OUTAGE_S)
        service.start()
        carried = self.finished()
        assert carried.returncode == 0, carried.explain()
        return carried

    def every_line(self) -> dict[str, Line]:
        def all_written() -> dict[str, Line] | None:
            lines = self.lines()
            return lines if len(lines) == CALLS else None

        return wait_for(all_written, 30, f"{CALLS} history lines")

    def refused(self, carried: SippResult, status: int) -> set[str]:
        """Call-IDs to which the carrier got ``status`` as the final answer."""
        found = set()
        for message in carried.messages.split("----------------------------------------------- "):
            if re.search(rf"^SIP/2\.0 {status} ", message, re.MULTILINE):
                found.add(re.search(r"^Call-ID: *(\S+)", message, re.MULTILINE | re.IGNORECASE).group(1))
        return found


def test_a_postgresql_restart_under_load_fails_no_call_and_loses_no_history_line(
    stack, cfg, sip_target, demo, register, postgres, no_registrations
):
    load = Load(stack, cfg, sip_target, demo["number"], register)
    load.through_restart_of(postgres)
    assert Counter(line.status for line in load.every_line().values()) == {"answered": CALLS}


def test_a_redis_restart_under_load_fails_no_call_and_loses_no_history_line(
    stack, cfg, sip_target, demo, register, redis_service, no_registrations
):
    """Every worker routes from the routing copies while Redis is away, and the
    call events wait in the spool."""
    load = Load(stack, cfg, sip_target, demo["number"], register)
    load.through_restart_of(redis_service)
    assert Counter(line.status for line in load.every_line().values()) == {"answered": CALLS}
    spool = history_spool_path(cfg)
    wait_for(lambda: not spool.exists(), 5, "Kamailio's spool to be emptied")


def test_an_rtpengine_restart_under_load_refuses_calls_only_while_it_is_away(
    stack, cfg, sip_target, demo, register, rtpengine, ng, no_registrations
):
    load = Load(
        stack, cfg, sip_target, demo["number"], register, scenario="uac_call_any_end.xml", values={"talk_ms": 300}
    )
    carried = load.through_restart_of(rtpengine)
    lines = load.every_line()
    refused = load.refused(carried, 503)
    assert 0 < len(refused) < CALLS - 10, carried.explain()  # the outage's calls, none before it, and not all after
    assert {call_id for call_id, line in lines.items() if line.status == "missed"} == refused
    assert lines[load.carrier.call_id(CALLS)].status == "answered"  # anchored again once rtpengine is back
    wait_for(lambda: ng.list_calls() == [], 10, "rtpengine to hold no session")


def test_a_media_app_restart_under_load_sends_callers_on_and_every_call_ends(
    stack, cfg, sip_target, demo, demo_steps, voicemail_box, media_app
):
    """A call the media app holds is hung up by it as it stops; a call routed
    to it while it is away leaves its step after 2 s of silence, not the
    step's 15 s."""
    box = voicemail_box(name="E2E under load", silence_s=3)
    demo_steps(parallel({"kind": "voicemail", "voicemail_box_id": box["id"]}, timeout=15))
    load = Load(stack, cfg, sip_target, demo["number"], scenario="uac_call_any_end.xml", values={"talk_ms": 300})
    carried = load.through_restart_of(media_app)
    lines = load.every_line()
    silent = {call_id for call_id, line in lines.items() if not line.picked_up}
    assert 0 < len(silent) < CALLS - 10, carried.explain()  # the outage's calls, none before it, and not all after
    assert load.refused(carried, 408) == silent
    assert max(lines[call_id].seconds for call_id in silent) < 15  # not the step's timeout
    assert lines[load.carrier.call_id(CALLS)].picked_up  # the media app answers again once it is back
    wait_for(lambda: media_app_load(stack.ports.media_sip) == (0, 0), 10, "the media app to let every call go")
