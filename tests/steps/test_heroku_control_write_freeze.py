"""The write freeze that holds (issue 14, 3): one-off dynos stopped, the source database read-only at the
database level with a write probe, a writer that keeps writing refused and nothing it committed lost, and the
rollback's ``source-read-only`` compensation making the database writable again."""

from __future__ import annotations

import secrets
import threading
import time

import psycopg
import pytest
from helpers import APP, create_secret, pg_secret_doc, run_compensation, with_changes

from heroku2aws.clients.heroku import HerokuClient
from heroku2aws.contracts.errors import WriteFreezeFailed
from heroku2aws.postgres.freeze import make_read_only, make_writable, write_probe
from heroku2aws.steps.heroku_control import freeze, freeze_database
from heroku2aws_rehearsal.heroku_api import FakeHeroku

TOKEN = "HRKU-freeze-0123456789abcdef0123456789abcdef"
FORMATION = [{"type": "web", "quantity": 2, "size": "standard-2X", "command": "puma"},
             {"type": "worker", "quantity": 1, "size": "standard-1X", "command": "sidekiq"}]


# ------------------------------------------------------------------------------ one-off dynos


def test_given_one_off_dynos_when_frozen_then_they_are_stopped_as_well_as_the_formation():
    with FakeHeroku(token=TOKEN) as fake:
        fake.add_app(APP, formation=FORMATION)
        run = fake.run_one_off(APP, "rails console", "run")
        job = fake.run_one_off(APP, "rake reports:nightly", "scheduler")
        api = HerokuClient(TOKEN, fake.url)
        assert {d["name"] for d in api.dynos(APP)} == {"web.1", "web.2", "worker.1", run, job}

        result = freeze(api, APP)

        assert result.stopped_dynos == sorted([run, job])
        assert result.scaled_to_zero == ["web", "worker"]
        assert api.dynos(APP) == []
        stops = [r for r in fake.requests if r["method"] == "POST"]
        assert {r["path"] for r in stops} == {f"/apps/{APP}/dynos/{n}/actions/stop" for n in (run, job)}
        # a retried freeze finds nothing more to stop
        assert freeze(api, APP).stopped_dynos == []


# ------------------------------------------------------------------------------ the database


@pytest.fixture
def app_db(pg_cluster):
    """A database owned by a non-superuser role, as Heroku Postgres's default credential owns its database."""
    role, password = f"app_{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    db = f"frz_{secrets.token_hex(3)}"
    with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        conn.execute(f"CREATE DATABASE {db} OWNER {role}")
    url = pg_cluster.url(db, user=role, password=password)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE writes (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())")
    return {"url": url, "db": db, "role": role, "password": password}


class Writer(threading.Thread):
    """A one-off dyno: inserts a row every few ms through the freeze, reconnecting when its session ends."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop = url, threading.Event()
        self.committed: list[int] = []
        self.refused: list[int] = []
        self.errors: list[str] = []
        self.n = 0

    def run(self) -> None:
        conn = None
        while not self.stop.is_set():
            self.n += 1
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
                conn.execute("INSERT INTO writes (id) VALUES (%s)", (self.n,))
                self.committed.append(self.n)
            except psycopg.errors.ReadOnlySqlTransaction:
                self.refused.append(self.n)
            except psycopg.OperationalError as exc:  # terminated by the freeze: reconnect, as a dyno would
                self.errors.append(type(exc).__name__)
                conn = None
            time.sleep(0.003)
        if conn is not None:
            conn.close()


def _rows(url: str) -> set[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        return {r[0] for r in conn.execute("SELECT id FROM writes").fetchall()}


def test_given_a_writer_when_the_database_is_frozen_then_its_writes_are_refused_and_none_it_committed_is_lost(app_db):
    url = app_db["url"]
    writer = Writer(url)
    writer.start()
    try:
        deadline = time.monotonic() + 10
        while len(writer.committed) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(writer.committed) >= 20, "the writer never wrote"

        result = freeze_database(url)

        assert result.write_probe == "refused"
        assert result.terminated_sessions >= 1  # the writer's session, ended so it reconnects read-only
        frozen_at = len(writer.committed)
        snapshot = _rows(url)  # what a copy started now reads
        time.sleep(0.5)
        # during the freeze: every attempt refused, nothing committed
        assert len(writer.committed) == frozen_at
        assert len(writer.refused) >= 20
        assert _rows(url) == snapshot
    finally:
        writer.stop.set()
        writer.join(5)
    # every row the writer got a commit for is in what the copy reads, and nothing else is
    assert snapshot == set(writer.committed)
    assert not set(writer.refused) & snapshot


def test_given_a_frozen_database_when_made_writable_then_new_sessions_write_again(app_db):
    url = app_db["url"]
    make_read_only(url)
    assert write_probe(url) is None
    assert make_writable(url) == (True, 0)
    assert write_probe(url) is not None  # a new session can write again
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO writes (id) VALUES (-1)")
    assert make_writable(url) == (False, 0)  # idempotent: nothing left to reset


def test_given_a_role_that_does_not_own_the_database_when_frozen_then_the_copy_is_refused(pg_cluster, app_db):
    role, password = f"other_{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    with psycopg.connect(pg_cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    url = pg_cluster.url(app_db["db"], user=role, password=password)
    with pytest.raises(WriteFreezeFailed) as err:
        freeze_database(url)
    assert "the copy did not start" in str(err.value)
    assert password not in str(err.value)
    assert write_probe(app_db["url"]) is not None  # nothing was changed


def test_given_the_ledger_entry_when_rolled_back_then_the_source_is_writable_and_the_rollback_is_idempotent(
        cfg, moto, pg_cluster, app_db):
    doc = {**pg_secret_doc(pg_cluster, app_db["db"]), "username": app_db["role"], "password": app_db["password"]}
    arn = create_secret(f"heroku2aws/{APP}/source-postgres", doc)
    run_cfg = with_changes(cfg, source__postgres_secret_arn=arn)
    freeze_database(app_db["url"])

    progress = run_compensation("source-read-only", {"app": APP}, run_cfg)

    assert progress.pending == []
    assert len(progress.actions) == 1 and "writable again" in progress.actions[0]
    assert write_probe(app_db["url"]) is not None
    again = run_compensation("source-read-only", {"app": APP}, run_cfg)
    assert again.actions == [] and again.pending == []


def test_given_a_frozen_source_when_its_settings_are_read_for_the_copy_then_the_freeze_is_not_among_them(
        pg_cluster, app_db):
    from heroku2aws.postgres.common import DATABASE_SETTINGS

    with psycopg.connect(pg_cluster.url(app_db["db"]), autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {app_db['db']} SET statement_timeout = '30s'")
    make_read_only(app_db["url"])
    with psycopg.connect(pg_cluster.url(app_db["db"]), autocommit=True) as conn:
        settings = [r[0] for r in conn.execute(DATABASE_SETTINGS)]
    assert settings == ["statement_timeout=30s"]  # the copy carries the app's settings, never the freeze's
