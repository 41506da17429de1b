"""Fax reception (seed 004 "fax reception", seed 000 "company voicemail and
fax", R10's fax key): the media app answers as a fax machine (spandsp, over
the caller's G.711 audio: vpbx.media.fax), then emails what it received as
a PDF to the voicemail box's recipients.

The caller's audio reaches the terminal from the call's own RTP socket, and
what the terminal sends goes out in place of comfort noise, 20 ms at a time,
through rtpengine. A call that ends mid-fax still delivers the pages that
came. The PDF is kept under the data directory for the voicemail retention
period (vpbx.media.voicemail_retention), so a mail server's failure loses
nothing.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime
from pathlib import Path

from ...notify import fax_email, mail
from ..call import MediaCall, first_done
from ..fax import OK, FaxTerminal, FaxUnavailable
from ..store import Box
from .context import NodeContext

log = logging.getLogger(__name__)

WHAT = "voicemail box"
FAX_DIR = "fax"  # under the data directory: <box id>/<name>.pdf
# The longest fax taken: about 30 pages at 9600 bit/s.
MAX_FAX_S = 20 * 60


async def find(ctx: NodeContext, box_id: int, company_id: int) -> Box | None:
    return await ctx.store.box(box_id, company_id)


async def run(call: MediaCall, box: Box, ctx: NodeContext) -> None:
    directory = ctx.data_dir / FAX_DIR / str(box.id)
    directory.mkdir(parents=True, exist_ok=True)
    name = uuid.uuid4().hex
    tiff, pdf = directory / f"{name}.tif", directory / f"{name}.pdf"
    try:
        terminal = FaxTerminal(calling=False, ident=call.called, payload_type=call.answer.payload_type)
    except FaxUnavailable as exc:
        log.error("%s: no fax can be received: %s", call.call_id, exc)
        return
    received_at = ctx.now()
    terminal.receive_into(tiff)
    audio = call.answer.payload_type
    call.rtp.listener = lambda payload_type, payload: terminal.heard(payload) if payload_type == audio else None
    call.transmit = terminal.next_frame
    try:
        await first_done({"fax": _finished(terminal), "gone": call.ended.wait()}, MAX_FAX_S)
    finally:
        call.rtp.listener = None
        call.transmit = None
        pages, complete, outcome, ident = (
            terminal.pages,
            terminal.completion == OK,
            terminal.outcome,
            terminal.remote_ident,
        )
        terminal.close()  # spandsp closes the TIFF it wrote
    log.info("%s: fax to box %s: %s page(s), %s", call.call_id, box.id, pages, outcome)
    if pages == 0:
        tiff.unlink(missing_ok=True)
        return
    ctx.background(_deliver(call, box, ctx, tiff, pdf, pages, complete, ident, received_at))


async def _finished(terminal: FaxTerminal) -> None:
    # spandsp says so from inside a call of ours (heard, next_frame): looked at every 100 ms.
    while not terminal.done:
        await asyncio.sleep(0.1)


async def _deliver(
    call: MediaCall,
    box: Box,
    ctx: NodeContext,
    tiff: Path,
    pdf: Path,
    pages: int,
    complete: bool,
    ident: str,
    received_at: datetime,
) -> None:
    """The PDF of the pages received, kept and emailed to the box's recipients."""
    converted = await asyncio.create_subprocess_exec(
        "tiff2pdf", "-o", str(pdf), str(tiff), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, errors = await converted.communicate()
    if converted.returncode != 0:
        # The TIFF stays: the fax is not lost, only not made a PDF.
        log.error("%s: fax %s not made a PDF: %s", call.call_id, tiff, errors.decode(errors="replace").strip())
        return
    tiff.unlink(missing_ok=True)
    recipients = await ctx.store.recipients(box)
    if not recipients:
        log.warning("%s: fax kept at %s: box %s has no recipient with an email", call.call_id, pdf, box.id)
        return
    smtp = ctx.smtp
    email = fax_email.compose(
        fax_email.NewFax(
            box_name=box.name,
            caller=call.caller,
            called=call.called,
            sender_ident=ident,
            received_at=received_at,
            timezone=box.timezone,
            pages=pages,
            complete=complete,
            pdf=pdf.read_bytes(),
        ),
        smtp.sender,
        recipients,
    )
    try:
        await asyncio.to_thread(mail.send, smtp, email, recipients)
    except Exception as exc:  # smtplib raises OSError and its own SMTPException kinds
        log.error("%s: fax email to %s failed (the fax is kept at %s): %s", call.call_id, recipients, pdf, exc)
        return
    log.info("%s: fax emailed to %s", call.call_id, ", ".join(recipients))
