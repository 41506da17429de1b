"""Routing documents while Redis cannot answer: every worker routes from the
newest copy any of them fetched (in Kamailio, the "routing_copies" htable),
so a change one worker has seen reaches all of them."""

from __future__ import annotations

import socket
import threading

import pytest
import redis

from vpbx.documents import document_writes, number_key
from vpbx.kamailio_adapter.documents import REDIS_PAUSE_S, CacheUnavailable, Documents
from vpbx.routing.department_state import state_key

KEY = number_key("+70000000042")


class Shared(dict):
    """The workers' common copies, as the htable keeps them."""

    def put(self, key: str, raw: bytes) -> None:
        self[key] = raw

    def forget(self, key: str) -> None:
        self.pop(key, None)


def document(version: int, rings: str) -> dict:
    return {"version": version, "number": KEY, "rings": rings}


@pytest.fixture
def client(cfg):
    client = redis.Redis.from_url(cfg.redis_url)
    yield client
    client.delete(*document_writes(KEY, document(0, "")))
    client.close()


@pytest.fixture
def unreachable():
    """A Redis client for a port nobody listens on: what a worker has while Redis is down."""
    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    yield client
    client.close()


class HangingRedis:
    """A server that takes connections and never answers: a Redis whose host
    froze, or a primary the sentinels have not replaced yet."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.received = bytearray()
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()
        self.client = redis.Redis(port=self.server.getsockname()[1], socket_timeout=0.2, socket_connect_timeout=0.2)

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.connections.append(connection)
            threading.Thread(target=self._read, args=(connection,), daemon=True).start()

    def _read(self, connection: socket.socket) -> None:
        while data := connection.recv(4096):
            self.received += data

    def attempts(self) -> int:
        """Connections the client opened: each of its tries opens one (the
        first command on it, redis-py's CLIENT SETINFO, never gets an answer)."""
        return len(self.connections)

    def close(self) -> None:
        self.client.close()
        self.server.close()
        for connection in self.connections:
            connection.close()


@pytest.fixture
def hanging():
    server = HangingRedis()
    yield server
    server.close()


def publish(client: redis.Redis, version: int, rings: str) -> None:
    client.mset(document_writes(KEY, document(version, rings)))


def test_a_worker_that_never_read_a_number_routes_it_from_the_copy_another_fetched(client, unreachable):
    shared = Shared()
    publish(client, 1, "Anna")
    assert Documents(client, shared).get(KEY).document["rings"] == "Anna"

    assert Documents(unreachable, shared).get(KEY).document["rings"] == "Anna"


def test_a_change_one_worker_has_seen_reaches_a_worker_holding_the_old_version(client, unreachable):
    shared = Shared()
    publish(client, 1, "Anna")
    stale = Documents(client, shared)
    assert stale.get(KEY).document["rings"] == "Anna"
    publish(client, 2, "Boris")
    assert Documents(client, shared).get(KEY).document["rings"] == "Boris"

    stale.redis = unreachable
    assert stale.get(KEY).document["rings"] == "Boris"


def test_a_worker_keeps_its_own_copy_when_it_is_newer_than_the_shared_one(client, unreachable):
    shared = Shared()
    publish(client, 1, "Anna")
    Documents(client, shared).get(KEY)
    newer = Documents(client)  # fetched version 2 without sharing it
    publish(client, 2, "Boris")
    assert newer.get(KEY).document["rings"] == "Boris"
    newer.shared = shared

    newer.redis = unreachable
    assert newer.get(KEY).document["rings"] == "Boris"


def test_a_deleted_number_is_forgotten_by_every_worker(client, unreachable):
    shared = Shared()
    publish(client, 1, "Anna")
    worker = Documents(client, shared)
    worker.get(KEY)
    client.delete(*document_writes(KEY, document(1, "")))

    assert worker.get(KEY).document is None
    assert KEY not in shared
    with pytest.raises(CacheUnavailable):
        Documents(unreachable, shared).get(KEY)


class Kept(dict):
    """The versions the workers keep, as the "routing_versions" htable does."""

    def put(self, key: str, version: bytes) -> None:
        self[key] = version


def test_a_worker_routes_from_its_copy_without_redis_while_that_version_is_kept(client, unreachable):
    kept = Kept()
    publish(client, 1, "Anna")
    worker = Documents(client, versions=kept)
    assert worker.get(KEY).document["rings"] == "Anna"
    assert kept[KEY] == b"1"

    publish(client, 2, "Boris")  # not told: what a host the publisher cannot reach sees
    assert worker.get(KEY).document["rings"] == "Anna"
    worker.redis = worker.reader = unreachable
    assert worker.get(KEY).version == b"1"


def test_a_version_another_worker_kept_sends_a_worker_with_an_older_copy_to_redis(client):
    kept = Kept()
    publish(client, 1, "Anna")
    stale = Documents(client, versions=kept)
    stale.get(KEY)
    publish(client, 2, "Boris")
    kept.clear()  # the publisher told this host
    assert Documents(client, versions=kept).get(KEY).document["rings"] == "Boris"
    assert kept[KEY] == b"2"

    assert stale.get(KEY).document["rings"] == "Boris"


def test_a_document_whose_department_takes_turns_is_read_every_call_though_its_version_is_kept(client):
    sales = {"id": 990042, "distribution": "round_robin", "members": []}
    kept = Kept({KEY: b"1"})
    client.mset(document_writes(KEY, {**document(1, "Sales"), "department": sales}))
    worker = Documents(client, versions=kept)
    try:
        turns = [worker.get(KEY).departments[sales["id"]].turn for _ in range(2)]
        assert turns[1] == turns[0] + 1

        client.mset(document_writes(KEY, {**document(2, "Boris"), "department": sales}))
        assert worker.get(KEY).document["rings"] == "Boris"
    finally:
        client.delete(state_key(sales["id"]))


def test_a_worker_whose_redis_hangs_waits_for_it_once_then_routes_from_copies_for_a_pause(client, hanging):
    shared = Shared()
    publish(client, 1, "Anna")
    Documents(client, shared).get(KEY)
    now = [1000.0]
    worker = Documents(hanging.client, shared)
    worker.clock = lambda: now[0]

    assert worker.get(KEY).document["rings"] == "Anna"  # after the client's timeouts
    asked = hanging.attempts()
    assert asked >= 1

    now[0] += REDIS_PAUSE_S - 0.1
    assert worker.get(KEY).document["rings"] == "Anna"
    assert hanging.attempts() == asked  # not asked again meanwhile

    now[0] += 0.2
    assert worker.get(KEY).document["rings"] == "Anna"
    assert hanging.attempts() > asked
