"""Two throw-away PostgreSQL clusters (a "Heroku" source, an "RDS" target) and a fresh database pair per test."""

from __future__ import annotations

import itertools

import psycopg
import pytest

from heroku2aws_rehearsal.servers import PostgresServer

_ids = itertools.count()


@pytest.fixture(scope="session")
def clusters():
    """One source and one target cluster for the whole directory (each test gets its own databases)."""
    with PostgresServer(name="dms-src").start() as src, PostgresServer(name="dms-tgt").start() as tgt:
        yield src, tgt


class Pair:
    def __init__(self, src: PostgresServer, tgt: PostgresServer, db: str) -> None:
        self.src_server, self.tgt_server, self.db = src, tgt, db
        self.source_url = src.url(db)
        self.target_url = tgt.url(db)

    def src(self) -> psycopg.Connection:
        return psycopg.connect(self.source_url, autocommit=True)

    def tgt(self) -> psycopg.Connection:
        return psycopg.connect(self.target_url, autocommit=True)

    def src_exec(self, *statements: str) -> None:
        with self.src() as c:
            for s in statements:
                c.execute(s)

    def tgt_exec(self, *statements: str) -> None:
        with self.tgt() as c:
            for s in statements:
                c.execute(s)

    def rows(self, url: str, table: str, order: str = "1") -> list[str]:
        """Every row as text, over the source's copied (non-generated) columns."""
        with psycopg.connect(self.source_url) as c:
            cols = [r[0] for r in c.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                "AND NOT attisdropped AND attgenerated = '' ORDER BY attnum", (table,)).fetchall()]
        with psycopg.connect(url) as c:
            return [r[0] for r in c.execute(
                f"SELECT ROW({', '.join(cols)})::text FROM {table} ORDER BY {order}").fetchall()]


@pytest.fixture
def pair(clusters):
    src, tgt = clusters
    db = f"t{next(_ids)}"
    admins = [psycopg.connect(server.url("postgres"), autocommit=True) for server in (src, tgt)]
    for admin in admins:
        admin.execute(f"CREATE DATABASE {db}")
    yield Pair(src, tgt, db)
    leftovers = []
    for admin in admins:
        # No slot may survive a test: a leftover would hold WAL on the source forever.
        slots = [r[0] for r in admin.execute("SELECT slot_name FROM pg_replication_slots WHERE database = %s",
                                             (db,)).fetchall()]
        leftovers += slots
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (db,))
        for slot in slots:
            admin.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
        admin.execute(f"DROP DATABASE {db} WITH (FORCE)")
        admin.close()
    assert not leftovers, f"replication slot(s) left behind: {leftovers}"
