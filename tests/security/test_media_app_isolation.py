"""The media app looks up every object of a call within the company Kamailio
names (X-Vpbx-Company): a box, menu or scheme id of another company finds
nothing, and a request naming no company is refused."""

from __future__ import annotations

import asyncio

import pytest

from vpbx.media import sip
from vpbx.media.app import MediaApp
from vpbx.media.store import Store

INVITE = (
    "INVITE sip:{user}@127.0.0.1:5970 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5960;branch=z9hG4bKabc\r\n"
    "From: <sip:+79161234567@127.0.0.1>;tag=1\r\nTo: <sip:{user}@127.0.0.1>\r\n"
    "Call-ID: isolation@test\r\nCSeq: 1 INVITE\r\n{company}Content-Length: 0\r\n\r\n"
)


@pytest.fixture
def two_boxes(db, demo):
    demo_company = db.execute(
        "SELECT id FROM companies WHERE sip_domain = %s", (demo["accounts"][0]["domain"],)
    ).fetchone()["id"]
    other = db.execute("""INSERT INTO companies (name, sip_domain, timezone)
                          VALUES ('Other', 'other-media.vpbx.test', 'Europe/Kyiv') RETURNING id""").fetchone()["id"]
    box = db.execute(
        "INSERT INTO voicemail_boxes (company_id, name) VALUES (%s, 'Private') RETURNING id", (demo_company,)
    ).fetchone()["id"]
    yield box, demo_company, other
    db.execute("DELETE FROM voicemail_boxes WHERE id = %s", (box,))
    db.execute("DELETE FROM companies WHERE id = %s", (other,))


def test_a_box_is_found_only_within_its_own_company(cfg, two_boxes):
    box, owner, other = two_boxes

    async def look():
        store = Store(cfg.database_url)
        await store.open()
        try:
            return await store.box(box, owner), await store.box(box, other)
        finally:
            await store.close()

    mine, theirs = asyncio.run(look())

    assert mine is not None and mine.id == box
    assert theirs is None


@pytest.mark.parametrize(
    "company_header, refusal",
    [
        ("", "was not routed here by a company's plan"),
        ("X-Vpbx-Company: {other}\r\n", "no voicemail box"),
    ],
)
def test_the_media_app_refuses_a_node_outside_the_company_it_was_routed_for(cfg, two_boxes, company_header, refusal):
    box, _, other = two_boxes
    request = sip.parse(INVITE.format(user=f"voicemail-{box}", company=company_header.format(other=other)).encode())

    async def node():
        app = MediaApp(cfg)
        await app.store.open()
        try:
            await app._node(request)
        finally:
            await app.store.close()

    with pytest.raises(LookupError, match=refusal):
        asyncio.run(node())
