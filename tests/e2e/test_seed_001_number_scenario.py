"""Seed 001's scenario for one number, built through the API and run on real calls:

1. a name and the number's own time zone, in which its working hours are read;
2. the working days and hours;
3. where calls go: one to three phone numbers at once (through the carrier);
4. after how many seconds nobody answering forwards the call a second time
   (the head of sales' mobile);
5. then the answering machine (voicemail);
6. out of hours: the answering machine.

The number's hours are read in Yekaterinburg (UTC+5), two hours ahead of the
company's Moscow: the moments below are open by one clock and closed by the
other, so a call proves which clock decided.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from vpbx.kamailio_adapter.worker import TEST_CLOCK_KEY

from .calls import history_line
from .media_caller import ended, leave_message, media_call, message_of
from .sip_ua import Message, parse

NUMBER = "+73432110101"
PHONES = ["+79031110001", "+79031110002", "+79031110003"]
HEAD_MOBILE = "+79031110009"
# Monday 09:30 in Yekaterinburg is 07:30 in Moscow: open by the number's hours only.
OPEN_THERE = "2026-11-23T09:30:00+05:00"
# Monday 19:00 in Yekaterinburg is 17:00 in Moscow: closed by the number's hours only.
CLOSED_THERE = "2026-11-23T19:00:00+05:00"
FIRST_RING_S = 15  # the least a step may ring


class RingingCarrier:
    """A carrier whose callees never pick up: each INVITE rings (180) until
    Kamailio cancels it. SIPp cannot be this carrier: the legs Kamailio forks
    at once share one Call-ID, which SIPp takes for one call."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.invites: list[tuple[float, str]] = []  # (when, the number dialled)
        self.cancelled = 0
        self.ringing: dict[str, Message] = {}  # by Via branch
        self.closing = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.closing.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            message = parse(data)
            branch = message.header("Via").split("branch=")[1].split(";")[0]
            if message.method == "INVITE" and branch not in self.ringing:
                self.invites.append((time.monotonic(), message.start.split(" ")[1].split("@")[0].removeprefix("sip:")))
                self.ringing[branch] = message
                self._reply(message, 180, "Ringing", peer)
            elif message.method == "CANCEL" and branch in self.ringing:
                self._reply(message, 200, "OK", peer)
                self._reply(self.ringing[branch], 487, "Request Terminated", peer)
                self.cancelled += 1

    def _reply(self, request: Message, code: int, phrase: str, peer) -> None:
        headers = [
            (name, value + (";tag=carrier" if name.lower() == "to" else ""))
            for name, value in request.headers
            if name.lower() in ("via", "from", "to", "call-id", "cseq")
        ]
        self.sock.sendto(str(Message(f"SIP/2.0 {code} {phrase}", headers)).encode(), peer)

    def close(self) -> None:
        self.closing.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def carrier():
    ringing = RingingCarrier()
    yield ringing
    ringing.close()


@pytest.fixture
def scenario(voicemail_box, trunks, made, carrier):
    """The number and its scenario; its calls out reach the ringing carrier."""
    trunks("seed 001 carrier", address="127.0.0.1", port=carrier.port, outbound=True, priority=10)
    box = voicemail_box(name="Seed 001 answering machine")
    answering_machine = {"kind": "voicemail", "voicemail_box_id": box["id"]}
    hours = made(
        "/schedules",
        {
            "name": "Seed 001 Yekaterinburg hours",
            "timezone": "Asia/Yekaterinburg",
            "weekly": [{"day": d, "start": "09:00", "end": "18:00"} for d in ("mon", "tue", "wed", "thu", "fri")],
        },
    )
    working = made(
        "/schemes",
        {
            "name": "Seed 001 working hours",
            "steps": [
                {
                    "mode": "parallel",
                    "timeout": FIRST_RING_S,
                    "destinations": [{"kind": "phone_number", "number": n} for n in PHONES],
                },
                {
                    "mode": "parallel",
                    "timeout": FIRST_RING_S,
                    "destinations": [{"kind": "phone_number", "number": HEAD_MOBILE}],
                },
                {"mode": "parallel", "timeout": 15, "destinations": [answering_machine]},
            ],
        },
    )
    closed = made(
        "/schemes",
        {
            "name": "Seed 001 out of hours",
            "steps": [{"mode": "parallel", "timeout": 15, "destinations": [answering_machine]}],
        },
    )
    made(
        "/numbers",
        {
            "number": NUMBER,
            "mode": "by_schedule",
            "schedule_id": hours["id"],
            "scheme_id": working["id"],
            "off_hours_scheme_id": closed["id"],
        },
    )
    return {"box": box}


def test_in_the_numbers_hours_three_phones_ring_at_once_then_the_mobile_then_the_answering_machine(
    stack, sip_target, db, api, scenario, carrier, clock
):
    clock.set(TEST_CLOCK_KEY, OPEN_THERE)

    sipp, audio = media_call(stack, sip_target, NUMBER)
    assert audio.started(within=2 * FIRST_RING_S + 10) is not None, "the answering machine never answered"
    leave_message(audio)
    result = ended(sipp, audio)

    assert result.returncode == 0, result.explain()
    dialled = [number for _, number in carrier.invites]
    assert sorted(dialled[:3]) == PHONES and dialled[3:] == [HEAD_MOBILE], dialled
    assert carrier.cancelled == 4  # none left ringing
    first_three = [at for at, _ in carrier.invites[:3]]
    assert max(first_three) - min(first_three) < 1  # at once
    # The second forward, the step's seconds after the first (Kamailio's timer starts as it sends them).
    assert FIRST_RING_S - 0.5 <= carrier.invites[3][0] - min(first_three) < FIRST_RING_S + 3
    assert message_of(db, sipp.call_id())["voicemail_box_id"] == scenario["box"]["id"]
    line = history_line(api, sipp.call_id())
    assert (line["status"], line["voicemail"]) == ("missed", True)
    assert sorted(leg["target"] for leg in line["legs"] if leg["step"] == 1) == [f"phone {n}" for n in PHONES]


def test_out_of_the_numbers_hours_the_answering_machine_takes_the_call_at_once(
    stack, sip_target, db, api, scenario, clock
):
    clock.set(TEST_CLOCK_KEY, CLOSED_THERE)

    sipp, audio = media_call(stack, sip_target, NUMBER)
    assert audio.started(within=5) is not None, "the answering machine did not answer at once"
    leave_message(audio)
    result = ended(sipp, audio)

    assert result.returncode == 0, result.explain()
    assert message_of(db, sipp.call_id())["voicemail_box_id"] == scenario["box"]["id"]
    line = history_line(api, sipp.call_id())
    assert [leg["target"] for leg in line["legs"]] == [f"voicemail box {scenario['box']['id']}"], line["legs"]
