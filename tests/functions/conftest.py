"""Fixtures for the stage 1-3 function tests: a Lambda context, moto, the production input."""

from __future__ import annotations

import json

import pytest
from fn_helpers import ROOT, FakeLambdaContext


@pytest.fixture
def context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def production_input() -> dict:
    return json.loads((ROOT / "events" / "production.json").read_text())


@pytest.fixture(scope="session")
def pg_cluster():
    """One PostgreSQL cluster with TLS (as Heroku Postgres) for every test here; each test module uses
    its own databases and roles in it."""
    from heroku2aws_rehearsal.servers import PostgresServer

    with PostgresServer(name="fn-tests", ssl=True).start() as server:
        yield server


@pytest.fixture(scope="session")
def tls_redis():
    """A TLS Redis with a password (as Heroku Redis)."""
    from heroku2aws_rehearsal.servers import RedisServer

    with RedisServer(name="heroku-redis", tls=True, password="src-redis-pass-4e7f").start() as server:
        yield server


@pytest.fixture(scope="session")
def plain_redis():
    """A plain Redis with a password (as ElastiCache)."""
    from heroku2aws_rehearsal.servers import RedisServer

    with RedisServer(name="elasticache", password="tgt-redis-pass-9a3c").start() as server:
        yield server
