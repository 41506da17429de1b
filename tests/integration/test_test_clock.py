"""Only the test profile's workers let the test suite pin the routing clock."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest
import redis

from vpbx.config.demo import DEMO_NUMBER
from vpbx.documents import number_key
from vpbx.kamailio_adapter.worker import TEST_CLOCK_KEY, Worker


@pytest.fixture
def pinned(cfg):
    client = redis.Redis.from_url(cfg.redis_url)
    client.set(TEST_CLOCK_KEY, "2001-01-01T12:00:00+00:00")
    yield
    client.delete(TEST_CLOCK_KEY)
    client.close()


@pytest.mark.parametrize("profile, pinned_is_used", [("test", True), ("dev", False), ("production", False)])
def test_the_pinned_clock_is_read_by_the_test_profile_only(cfg, pinned, profile, pinned_is_used):
    worker = Worker(replace(cfg, profile=profile))
    worker.connect()

    read, clock = worker._document(number_key(DEMO_NUMBER))

    assert read.document["number"] == DEMO_NUMBER
    assert (clock == datetime(2001, 1, 1, 12, tzinfo=UTC)) is pinned_is_used
