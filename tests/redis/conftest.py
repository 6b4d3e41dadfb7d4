"""Redis servers and helpers for the redis-copy tests (each test starts its own servers)."""

from __future__ import annotations

import pytest
from redis_helpers import SOURCE_PASSWORD, TARGET_PASSWORD

from heroku2aws_rehearsal.servers import RedisServer


@pytest.fixture
def source():
    with RedisServer(name="test-src", password=SOURCE_PASSWORD).start() as s:
        yield s


@pytest.fixture
def target():
    with RedisServer(name="test-tgt", password=TARGET_PASSWORD).start() as s:
        yield s
