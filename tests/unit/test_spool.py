"""The history spool keeps, in order, the call events Redis did not take."""

import asyncio

import pytest

from vpbx.history.spool import REPLAY_CHUNK, Spool


def test_kept_batches_come_back_oldest_first_and_are_then_forgotten(tmp_path):
    spool = Spool(tmp_path / "spool" / "history.jsonl")
    assert not spool.pending()
    for n in range(3):
        assert spool.add([f'{{"n":{n}}}', f'{{"n":{n},"second":true}}']) == 0
    assert spool.add([]) == 0 and spool.pending()

    sent: list[list[str]] = []
    assert spool.drain(lambda chunk: sent.extend(chunk)) == 6

    assert sent == [[f'{{"n":{n}}}', f'{{"n":{n},"second":true}}'] for n in range(3)]
    assert not spool.pending() and spool.read() == []


def test_what_send_did_not_take_stays_for_the_next_drain(tmp_path):
    spool = Spool(tmp_path / "history.jsonl")
    for n in range(REPLAY_CHUNK + 5):
        spool.add([str(n)])
    taken: list[list[str]] = []

    def send_once(chunk):
        if taken:
            raise ConnectionError("Redis went away again")
        taken.extend(chunk)

    with pytest.raises(ConnectionError):
        spool.drain(send_once)

    assert [batch[0] for batch in spool.read()] == [str(n) for n in range(REPLAY_CHUNK, REPLAY_CHUNK + 5)]


def test_the_asyncio_drain_keeps_what_send_did_not_take_the_same_way(tmp_path):
    spool = Spool(tmp_path / "history.jsonl")
    for n in range(REPLAY_CHUNK + 5):
        spool.add([str(n)])
    taken: list[list[str]] = []

    async def send_once(chunk):
        if taken:
            raise ConnectionError("Redis went away again")
        taken.extend(chunk)

    with pytest.raises(ConnectionError):
        asyncio.run(spool.drain_async(send_once))
    assert [batch[0] for batch in spool.read()] == [str(n) for n in range(REPLAY_CHUNK, REPLAY_CHUNK + 5)]

    async def send(chunk):
        taken.extend(chunk)

    assert asyncio.run(spool.drain_async(send)) == 5
    assert [batch[0] for batch in taken] == [str(n) for n in range(REPLAY_CHUNK + 5)]
    assert not spool.pending()


def test_batches_added_while_a_replay_is_under_way_are_not_forgotten_with_it(tmp_path):
    spool = Spool(tmp_path / "history.jsonl")
    spool.add(["old"])
    batches = spool.read()
    spool.add(["new"])

    spool.forget(len(batches))

    assert spool.read() == [["new"]]


def test_a_full_spool_drops_and_counts_what_it_cannot_keep(tmp_path, caplog):
    spool = Spool(tmp_path / "history.jsonl", max_bytes=40)
    assert spool.add(["a" * 10]) == 0
    assert spool.add(["b" * 30, "c"]) == 2

    assert spool.read() == [["a" * 10]]
    assert "2 call events dropped" in caplog.text


def test_a_line_cut_short_by_a_crash_is_skipped_not_fatal(tmp_path):
    spool = Spool(tmp_path / "history.jsonl")
    spool.add(["whole"])
    with open(spool.path, "a") as fh:
        fh.write('["cut sh')
    sent: list[list[str]] = []

    assert spool.drain(sent.extend) == 1
    assert sent == [["whole"]] and not spool.pending()
