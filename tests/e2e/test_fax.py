"""Fax reception (seed 004, seed 000's "company voicemail and fax", R10's fax
key) on a real call: a fax machine (spandsp, T.30 over G.711 through the trunk,
Kamailio and rtpengine) sends two pages; the media app receives them and the
box's recipients get them as a PDF at a real SMTP server. Built only through
the API."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from vpbx.media.load import media_app_load
from vpbx.stack.process import wait_for

from .calls import history_line, parallel
from .fax_machine import FaxMachine, make_pages
from .media_caller import WAIT_FOR_HANGUP
from .sipp import Sipp, SippResult

NUMBER = "+74951110079"
SENDER_IDENT = "+7 495 777 0000"


@pytest.fixture
def fax_number(api, voicemail_box, made):
    """NUMBER answered as a fax machine; what it receives goes to the box's
    recipients (Anna and office@example.com)."""
    box = voicemail_box(name="E2E voicemail and fax")
    scheme = made(
        "/schemes", {"name": "E2E fax", "steps": [parallel({"kind": "fax", "voicemail_box_id": box["id"]}, timeout=15)]}
    )
    made("/numbers", {"number": NUMBER, "scheme_id": scheme["id"]})
    return box


# The carrier re-INVITEs to T.38 a second after the answer, as carriers do on
# the fax tones; the media app refuses it (488) and the fax goes on over G.711.
T38_THEN_HANGUP = (
    """
  <pause milliseconds="1000"/>
  <send retrans="500">
    <![CDATA[
      INVITE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "Caller" <sip:79161234567@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 INVITE
      [routes]
      Contact: <sip:79161234567@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 1 2 IN IP4 [local_ip]
      s=-
      c=IN IP4 [local_ip]
      t=0 0
      m=image [rtp_port] udptl t38
      a=T38FaxVersion:0
      a=T38MaxBitRate:14400
      a=T38FaxRateManagement:transferredTCF
      a=T38FaxMaxDatagram:400
      a=T38FaxUdpEC:t38UDPRedundancy
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="488"/>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      [last_Via:]
      From: "Caller" <sip:79161234567@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 ACK
      [routes]
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
"""
    + WAIT_FOR_HANGUP
)


@dataclass
class Sent:
    """How a fax machine's call to NUMBER went, on both sides of it."""

    finished: bool  # the sending machine's T.30 ended, either way, in time
    outcome: str  # how, in T.30's words
    pages: int
    call: SippResult  # the carrier's side: 0 once the media app hung up
    call_id: str


def _send(stack, sip_target, machine: FaxMachine, ending: str = WAIT_FOR_HANGUP) -> Sent:
    """``machine`` calls NUMBER through the carrier and sends its document;
    its line and SIPp are closed once the call is over."""
    sipp = Sipp(
        "uac_media.xml",
        port=stack.ports.demo_trunk,
        remote=sip_target,
        service=NUMBER,
        keys={"rtp_port": machine.port},
        values={"ending": ending},
        timeout_s=150,
        recv_timeout_s=150,
    ).start()
    try:
        finished = machine.wait(120)
        outcome, pages = machine.terminal.outcome, machine.terminal.pages
        return Sent(finished, outcome, pages, sipp.wait(), sipp.call_id())
    finally:
        sipp.stop()
        machine.close()


def _pages_of(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


def test_a_fax_sent_to_the_number_reaches_the_boxes_recipients_as_a_pdf(
    stack, cfg, sip_target, api, fax_number, mailbox, tmp_path
):
    box = fax_number
    anna = next(e for e in api("GET", "/employees")[1] if e["extension"] == "101")
    sent = _send(stack, sip_target, FaxMachine(make_pages(tmp_path, pages=2), SENDER_IDENT))
    assert sent.finished and (sent.outcome, sent.pages) == ("OK", 2), (sent.outcome, sent.pages)
    assert sent.call.returncode == 0, sent.call.explain()  # the media app hangs up once the fax is over

    mail = mailbox.wait_for(lambda m: m["Subject"].startswith("Fax from 79161234567"), timeout=20)
    assert sorted(mail.recipients) == sorted([anna["email"], "office@example.com"])
    assert "2 page(s)" in mail.message["Subject"] and box["name"] in mail.message["Subject"]
    body = mail.message.get_body(("plain",)).get_content()
    assert SENDER_IDENT in body and NUMBER in body
    [attachment] = list(mail.message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    pdf = attachment.get_content()
    assert pdf.startswith(b"%PDF") and _pages_of(pdf) == 2
    # Kept for the retention period, whatever became of the email.
    kept = list((cfg.media.data_dir / "fax" / str(box["id"])).glob("*.pdf"))
    assert [path.read_bytes() for path in kept] == [pdf]

    line = history_line(api, sent.call_id)
    assert line["status"] == "answered"
    wait_for(lambda: media_app_load(stack.ports.media_sip) == (0, 0), 5, "the media app to let go")


def test_an_ivr_menus_fax_key_takes_the_fax(stack, sip_target, api, voicemail_box, made, mailbox, tmp_path):
    box = voicemail_box(name="E2E fax by key")
    fax_key = {"kind": "fax", "voicemail_box_id": box["id"]}
    menu = made(
        "/ivr-menus",
        {
            "name": "E2E fax menu",
            "keys": {"2": fax_key, "timeout": {"kind": "voicemail", "voicemail_box_id": box["id"]}},
        },
    )
    scheme = made("/schemes", {"name": "E2E fax menu", "steps": [parallel({"kind": "ivr", "ivr_menu_id": menu["id"]})]})
    made("/numbers", {"number": NUMBER, "scheme_id": scheme["id"]})
    sent = _send(stack, sip_target, FaxMachine(make_pages(tmp_path, pages=1), SENDER_IDENT, key="2"))
    assert sent.finished and (sent.outcome, sent.pages) == ("OK", 1), (sent.outcome, sent.pages)
    assert sent.call.returncode == 0, sent.call.explain()
    mail = mailbox.wait_for(lambda m: "E2E fax by key" in m["Subject"], timeout=20)
    [attachment] = list(mail.message.iter_attachments())
    assert _pages_of(attachment.get_content()) == 1


def test_a_re_invite_to_t38_is_refused_and_the_fax_goes_on_over_g711(stack, sip_target, fax_number, mailbox, tmp_path):
    sent = _send(stack, sip_target, FaxMachine(make_pages(tmp_path, pages=1), SENDER_IDENT), T38_THEN_HANGUP)
    assert sent.call.returncode == 0, sent.call.explain()  # the 488 came, and then the media app's BYE
    assert sent.finished and (sent.outcome, sent.pages) == ("OK", 1), (sent.outcome, sent.pages)
