"""A media app that has begun to stop answers no new call: it hangs up the
calls it holds, and a call arriving meanwhile goes on as if it were gone
(Kamailio's 2 s timer for the media app), instead of being answered only to
be hung up in turn."""

from __future__ import annotations

import asyncio

from vpbx.media import sip
from vpbx.media.app import MediaApp

INVITE = (
    "INVITE sip:voicemail-1@127.0.0.1:5970 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5960;branch=z9hG4bKstop{n}\r\n"
    "From: <sip:+79161234567@127.0.0.1>;tag=1\r\nTo: <sip:voicemail-1@127.0.0.1>\r\n"
    "Call-ID: stopping-{n}@test\r\nCSeq: 1 INVITE\r\nX-Vpbx-Company: 1\r\nContent-Length: 0\r\n\r\n"
)


def _offered(cfg, stopping: bool) -> tuple[int, int]:
    """Offer one new call; how many calls the app took up, and how many messages it sent."""

    async def offer():
        app = MediaApp(cfg)
        app.stopping = stopping
        sent = []
        app.send = lambda message, address: sent.append(message)  # type: ignore[method-assign]
        app.on_invite(sip.parse(INVITE.format(n=int(stopping)).encode()), app.kamailio)
        taken = len(app.tasks)
        for task in list(app.tasks):
            task.cancel()
        await asyncio.gather(*app.tasks, return_exceptions=True)
        return taken, len(sent)

    return asyncio.run(offer())


def test_a_stopping_media_app_takes_up_no_new_call(cfg):
    assert _offered(cfg, stopping=False)[0] == 1  # the same INVITE, before the app stops
    assert _offered(cfg, stopping=True) == (0, 0)
