"""What the step tests share: one PostgreSQL cluster with TLS and two Redis (session-wide); the hosted zone and
the frozen Heroku app of the rollback's tests (tests/helpers.py; a test module's own fixture of the same name wins)."""

from __future__ import annotations

import pytest
from helpers import frozen_heroku, heroku_cfg, plain_cname, zone  # noqa: F401 (fixtures: the rollback's tests)


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
