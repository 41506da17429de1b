"""/api/v1/voicemail-messages: list, listen, mark heard, delete; seen by role
as history is; and the retention sweep that deletes old messages and recordings."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import timedelta

import pytest

from vpbx.media.store import Store
from vpbx.media.voicemail_retention import sweep
from vpbx.notify import links

from ...clock import NOW
from .conftest import error_fields


@pytest.fixture
def leave(cfg, db):
    """Leave a message in a box, as the media app stores one: its row and its WAV."""
    left = []

    def _leave(box: dict, company_id: int, received_at=NOW, caller: str = "+79161234567") -> dict:
        file_name = f"voicemail/{company_id}/{uuid.uuid4().hex}.wav"
        path = cfg.media.data_dir / file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF")
        row = db.execute(
            """INSERT INTO voicemail_messages (company_id, voicemail_box_id, box_name, call_id, caller, called,
                                               received_at, duration_ms, file_name)
               VALUES (%s, %s, %s, %s, %s, '+74951234567', %s, 4200, %s) RETURNING id""",
            (company_id, box["id"], box["name"], f"{uuid.uuid4().hex}@test", caller, received_at, file_name),
        ).fetchone()
        left.append(row["id"])
        return {"id": row["id"], "path": path}

    yield _leave
    db.execute("DELETE FROM voicemail_messages WHERE id = ANY(%s)", (left,))


@pytest.fixture
def box(post):
    return post("voicemail-boxes", {"name": "Messages API", "extra_email": "desk@example.com"})


def test_messages_list_newest_first_with_a_link_that_plays_them(client, admin, cfg, box, company_id, leave):
    older = leave(box, company_id, NOW - timedelta(hours=2))
    newer = leave(box, company_id, NOW - timedelta(hours=1))

    response = client.get(f"/api/v1/voicemail-messages?voicemail_box_id={box['id']}", headers=admin)

    assert response.status_code == 200, response.get_json()
    messages = response.get_json()
    assert [m["id"] for m in messages] == [newer["id"], older["id"]]
    first = messages[0]
    assert (first["box_name"], first["caller"], first["duration_seconds"], first["heard"]) == (
        "Messages API",
        "+79161234567",
        4.2,
        False,
    )
    assert links.verify(first["url"].rsplit("/", 1)[1], cfg.media.link_secret) == newer["id"]


def test_a_message_is_marked_heard_and_new_again(client, admin, box, company_id, leave):
    message = leave(box, company_id)
    url = f"/api/v1/voicemail-messages/{message['id']}"

    heard = client.patch(url, headers=admin, json={"heard": True}).get_json()
    again = client.patch(url, headers=admin, json={"heard": True}).get_json()
    new = client.get(f"/api/v1/voicemail-messages?voicemail_box_id={box['id']}&heard=false", headers=admin)
    unheard = client.patch(url, headers=admin, json={"heard": False}).get_json()

    assert heard["heard"] is True and heard["heard_at"] is not None
    assert again["heard_at"] == heard["heard_at"]  # the first time it was heard stays
    assert new.get_json() == []
    assert (unheard["heard"], unheard["heard_at"]) == (False, None)
    bad = client.patch(url, headers=admin, json={"heard": "maybe"})
    assert bad.status_code == 422 and "heard" in error_fields(bad)


def test_deleting_a_message_deletes_its_recording(client, admin, box, company_id, leave):
    message = leave(box, company_id)

    response = client.delete(f"/api/v1/voicemail-messages/{message['id']}", headers=admin)

    assert response.status_code == 204
    assert not message["path"].exists()
    assert client.get(f"/api/v1/voicemail-messages/{message['id']}", headers=admin).status_code == 404


def test_a_limited_user_sees_only_the_messages_of_their_boxes(
    client, admin, post, company_id, leave, make_employee, token_for
):
    ivan = make_employee(role="limited", email="ivan@example.com")
    his = post("voicemail-boxes", {"name": "Ivan's box", "recipients": [{"employee_id": ivan["id"]}]})
    other = post("voicemail-boxes", {"name": "Not Ivan's", "extra_email": "desk@example.com"})
    mine, not_mine = leave(his, company_id), leave(other, company_id)
    headers = token_for(ivan["id"])

    listed = client.get("/api/v1/voicemail-messages", headers=headers).get_json()

    assert [m["id"] for m in listed] == [mine["id"]]
    assert client.get(f"/api/v1/voicemail-messages/{not_mine['id']}", headers=headers).status_code == 404
    assert client.delete(f"/api/v1/voicemail-messages/{not_mine['id']}", headers=headers).status_code == 404
    assert not_mine["path"].exists()
    # An administrator sees both.
    ids = {m["id"] for m in client.get("/api/v1/voicemail-messages", headers=admin).get_json()}
    assert {mine["id"], not_mine["id"]} <= ids


def test_another_company_sees_none_of_the_messages(client, other_company, box, company_id, leave):
    message = leave(box, company_id)
    headers = other_company["headers"]

    assert message["id"] not in {m["id"] for m in client.get("/api/v1/voicemail-messages", headers=headers).get_json()}
    assert client.get(f"/api/v1/voicemail-messages/{message['id']}", headers=headers).status_code == 404
    assert (
        client.patch(f"/api/v1/voicemail-messages/{message['id']}", headers=headers, json={"heard": True}).status_code
        == 404
    )


def test_the_retention_sweep_deletes_old_messages_and_old_recordings_only(cfg, db, box, company_id, leave):
    """Swept at a pinned moment: the message 91 days old goes with its
    recording, the one 89 days old stays, and so does its recording; a
    recording no message names any more goes by its age; faxes received
    (media/nodes/fax.py) go by theirs."""
    at = NOW  # nothing else the suite stores is 90 days old
    old = leave(box, company_id, at - timedelta(days=91))
    kept = leave(box, company_id, at - timedelta(days=89))
    orphan = cfg.media.data_dir / f"voicemail/{company_id}/{uuid.uuid4().hex}.wav"
    orphan.write_bytes(b"RIFF")
    old_fax, kept_fax = (cfg.media.data_dir / f"fax/{box['id']}/{uuid.uuid4().hex}.pdf" for _ in range(2))
    old_fax.parent.mkdir(parents=True, exist_ok=True)
    for fax in (old_fax, kept_fax):
        fax.write_bytes(b"%PDF")
    for path, age in ((old["path"], 91), (kept["path"], 89), (orphan, 91), (old_fax, 91), (kept_fax, 89)):
        stamp = (at - timedelta(days=age)).timestamp()
        os.utime(path, (stamp, stamp))

    async def swept():
        store = Store(cfg.database_url)
        await store.open()
        try:
            return await sweep(store, cfg.media.data_dir, 90, at)
        finally:
            await store.close()

    messages, recordings = asyncio.run(swept())

    remaining = db.execute(
        "SELECT id FROM voicemail_messages WHERE id = ANY(%s)", ([old["id"], kept["id"]],)
    ).fetchall()
    assert [r["id"] for r in remaining] == [kept["id"]]
    assert (old["path"].exists(), kept["path"].exists(), orphan.exists()) == (False, True, False)
    assert (old_fax.exists(), kept_fax.exists()) == (False, True)
    kept_fax.unlink()
    assert messages >= 1 and recordings >= 2
