"""Throw-away PostgreSQL clusters for the Postgres tests: each test module gets its own pair.

``source`` plays Heroku Postgres and ``target`` RDS: two clusters, as in a migration. The ``pgh``
helpers create databases from SQL and give their URLs (scram over TCP with random passwords, so a
password leaking into any output is caught by ``pgh.assert_no_secret``).
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from heroku2aws_rehearsal.servers import PostgresServer

_names = itertools.count(1)


@pytest.fixture(scope="module")
def servers():
    """Both clusters of this module, started side by side (initdb is most of a test module's set-up)."""
    pair = [PostgresServer(name="t-source", ssl=False), PostgresServer(name="t-target", ssl=False)]
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda s: s.start(), pair))
        yield pair
    finally:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda s: s.stop(), pair))


@pytest.fixture(scope="module")
def source(servers):
    return servers[0]


@pytest.fixture(scope="module")
def target(servers):
    return servers[1]


class PgHelpers:
    @staticmethod
    def run(server: PostgresServer, db: str, sql: str) -> list[tuple]:
        """Run SQL (one or more statements) as the superuser; the rows of the last one."""
        with psycopg.connect(server.url(db), autocommit=True) as conn:
            cur = conn.execute(sql)
            return cur.fetchall() if cur.description else []

    def new_db(self, server: PostgresServer, sql: str | None = None, *, template: str | None = None,
               name: str | None = None) -> str:
        """Create a database (from ``template`` if given, then run ``sql`` in it); return its name."""
        name = name or f"db{next(_names)}"
        self.run(server, "postgres", f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        if sql:
            self.run(server, name, sql)
        return name

    def same_db(self, source: PostgresServer, target: PostgresServer, sql: str) -> tuple[str, str]:
        """The same database (same name, same SQL) on both servers; returns its name."""
        name = self.new_db(source, sql)
        self.new_db(target, sql, name=name)
        return name

    @staticmethod
    def assert_no_secret(text: str, *servers: PostgresServer) -> None:
        for s in servers:
            assert s.password not in text, "a password leaked into the output"


@pytest.fixture(scope="session")
def pgh() -> PgHelpers:
    return PgHelpers()
