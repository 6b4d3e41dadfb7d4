"""The streaming copy (issue 18): ``python -m heroku2aws.tasks.pg_copy`` streams, indexes and verifies each table as
it lands; everything ``pg_dump_restore`` carried still arrives (types, partitions, triggers, views, large objects,
sequences, database settings) and Heroku's own objects still stay behind."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from heroku2aws.postgres.verify import verify
from heroku2aws.tasks.pg_copy import StreamCopy, copy_and_verify
from heroku2aws.tasks.pg_dump_restore import TaskError

pytestmark = pytest.mark.xdist_group("pg_dump_restore")

SAMPLE = r"""
CREATE EXTENSION hstore;
CREATE TYPE status AS ENUM ('new', 'done');
CREATE DOMAIN cents AS bigint CHECK (VALUE >= 0);
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, code char(12), attrs hstore,
                        created timestamptz DEFAULT now(), UNIQUE (name) DEFERRABLE INITIALLY DEFERRED);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int REFERENCES customers, status status, total cents,
                     lines jsonb, tags text[], raw bytea, search tsvector,
                     total_x2 bigint GENERATED ALWAYS AS (total * 2) STORED);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE INDEX orders_big ON orders (total) WHERE total > 1000;
CREATE INDEX orders_lines ON orders USING gin (lines);
ALTER TABLE orders CLUSTER ON orders_customer;
CREATE TABLE "Mixed Case" ("Id" int PRIMARY KEY, "the value" numeric(10, 2), during tstzrange,
                           EXCLUDE USING gist (during WITH &&));
CREATE TABLE audit (at timestamptz, what text);   -- no primary key
CREATE TABLE metrics (id int, at timestamptz NOT NULL, v double precision, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE metrics_a PARTITION OF metrics FOR VALUES FROM (MINVALUE) TO ('2024-01-01 00:00+00');
CREATE TABLE metrics_b PARTITION OF metrics FOR VALUES FROM ('2024-01-01 00:00+00') TO (MAXVALUE);
CREATE TABLE empty_one (id int PRIMARY KEY);
CREATE TABLE no_columns ();
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.what := upper(NEW.what); RETURN NEW; END $$;
CREATE TRIGGER audit_touch BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION touch();
CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 1000;
CREATE MATERIALIZED VIEW order_totals AS SELECT customer_id, sum(total) AS t FROM orders GROUP BY 1;
COMMENT ON INDEX orders_customer IS 'who ordered';
INSERT INTO customers (name, code, attrs) SELECT 'c' || g, 'k' || g, hstore('k', g::text) FROM generate_series(1, 200) g;
INSERT INTO orders (customer_id, status, total, lines, tags, raw, search)
SELECT 1 + g % 200, (ARRAY['new', 'done'])[1 + g % 2]::status, g * 7, jsonb_build_object('g', g, 'pad', repeat('x', 300)),
       ARRAY['t' || g], decode(md5(g::text), 'hex'), to_tsvector('simple', 'order number ' || g)
  FROM generate_series(1, 30000) g;
INSERT INTO "Mixed Case" SELECT g, g / 7.0, tstzrange(now() + g * interval '1 hour', now() + (g + 1) * interval '1 hour')
  FROM generate_series(1, 50) g;
INSERT INTO audit SELECT now(), 'x' FROM generate_series(1, 20);
INSERT INTO metrics SELECT g, timestamptz '2023-12-01 00:00+00' + g * interval '1 hour', g / 3.0
  FROM generate_series(1, 1500) g;
SELECT setval('orders_id_seq', 50000);
SELECT lo_from_bytea(0, convert_to(repeat('big blob ', 300000), 'UTF8'));
REFRESH MATERIALIZED VIEW order_totals;
"""

HEROKU = r"""
CREATE SCHEMA _heroku;
CREATE TABLE _heroku.internal (x int);
INSERT INTO _heroku.internal VALUES (1);
CREATE FUNCTION _heroku.create_ext() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE EVENT TRIGGER log_create_ext ON ddl_command_end EXECUTE FUNCTION _heroku.create_ext();
"""


@pytest.fixture(scope="module")
def app(pgh, source):
    db = pgh.new_db(source, HEROKU + SAMPLE)
    pgh.run(source, db, f"ALTER DATABASE {db} SET timezone = 'America/New_York'")
    return db


def run_task(source_url: str | None, target_url: str | None, *args: str, path_prefix: Path | None = None):
    env = {k: v for k, v in os.environ.items() if k not in ("SOURCE_DATABASE_URL", "TARGET_DATABASE_URL")}
    if source_url:
        env["SOURCE_DATABASE_URL"] = source_url
    if target_url:
        env["TARGET_DATABASE_URL"] = target_url
    if path_prefix:
        env["PATH"] = f"{path_prefix}{os.pathsep}{env['PATH']}"
    return subprocess.run([sys.executable, "-m", "heroku2aws.tasks.pg_copy", *args], env=env,
                          capture_output=True, text=True, timeout=180)


@pytest.fixture
def psql_shim(tmp_path):
    """A psql wrapper that records its argv and whether its password came by environment."""
    log = tmp_path / "argv.log"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    import shutil

    real = shutil.which("psql")
    script = bindir / "psql"
    script.write_text(f'#!/bin/sh\necho "psql $* PGPASSWORD_SET=${{PGPASSWORD:+yes}}" >> "{log}"\nexec "{real}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return bindir, log


def test_given_a_database_when_streamed_then_identical_and_verified_table_by_table(pgh, source, target, app,
                                                                                  psql_shim):
    db = pgh.new_db(target)
    bindir, log = psql_shim
    # Small limits: orders (~12 MB) goes through psql in ranges; the rest through psycopg.
    r = run_task(source.url(app), target.url(db), "--jobs", "2", "--split-mb", "4", path_prefix=bindir)
    assert r.returncode == 0, r.stderr
    result = verify(source.url(app), target.url(db), exact_sequences=True)
    assert result.match, result.differences
    assert {t.name for t in result.tables} >= {"public.customers", "public.orders", 'public."Mixed Case"',
                                                "public.metrics_a", "public.order_totals"}
    # Each table indexed and verified as it landed (the log says so, table by table), the rest at the end.
    out = r.stdout
    assert re.search(r"copied table public\.orders: .* in \d+ ranges", out)
    assert out.index("verified table public.customers") < out.index("verified the rest")
    assert "verified table public.orders: match" in out and "pg_copy succeeded" in out
    assert '"verified": true' in out or '"verified":true' in out
    # What pg_dump_restore carried: indexes (partial, GIN, CLUSTER ON, a comment), deferrable unique, exclusion,
    # partitions' keys, triggers, views, large objects, sequences, settings; Heroku's objects left out.
    q = ("SELECT indexrelid::regclass::text, indisclustered FROM pg_index WHERE indrelid = 'orders'::regclass "
         "ORDER BY 1")
    assert pgh.run(target, db, q) == pgh.run(source, app, q)
    assert pgh.run(target, db, "SELECT obj_description('orders_customer'::regclass)") == [("who ordered",)]
    defs = ("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2")
    assert pgh.run(target, db, defs) == pgh.run(source, app, defs)
    assert pgh.run(target, db, "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal") == [("audit_touch",)]
    assert pgh.run(target, db, "SELECT count(*) FROM big_orders") == pgh.run(source, app,
                                                                            "SELECT count(*) FROM big_orders")
    assert pgh.run(target, db, "SELECT evtname FROM pg_event_trigger") == []
    assert pgh.run(target, db, "SELECT count(*) FROM pg_namespace WHERE nspname = '_heroku'") == [(0,)]
    assert pgh.run(target, db, "SELECT octet_length(lo_get(oid)) FROM pg_largeobject_metadata") == [(2_700_000,)]
    # No password anywhere, not in psql's argv either: psql got it by environment.
    argv = log.read_text()
    assert "COPY" in argv and argv.count("psql ") == argv.count("PGPASSWORD_SET=yes")
    pgh.assert_no_secret(r.stdout + r.stderr + argv, source, target)


def test_given_a_difference_when_verified_then_the_task_fails_naming_the_table(pgh, source, target, app,
                                                                                monkeypatch):
    """The verdict is real: a table that lands different (here a trigger on the target drops rows as they
    arrive) fails the copy, named."""
    db = pgh.new_db(target)
    copier = StreamCopy(source.url(app), target.url(db), jobs=2)
    original = copier.table_copied

    def tamper(t):
        if t.name == "customers":
            pgh.run(target, db, "UPDATE customers SET name = name || '!' WHERE id = 7")
        original(t)

    monkeypatch.setattr(copier, "table_copied", tamper)
    summary = copier.run()
    assert summary["verified"] is False
    assert summary["differences"] == ["public.customers"]


def test_given_a_fault_mid_stream_when_copying_then_the_error_names_the_table_and_nothing_partial_commits(
        pgh, source, target, app):
    db = pgh.new_db(target)
    # A check on the target that one row breaks: the range holding it fails, the others are stopped.
    copier = StreamCopy(source.url(app), target.url(db), jobs=2, split_bytes=4 << 20, small_bytes=0)
    original = copier.plan_units

    def plan(tables, major):
        pgh.run(target, db, "ALTER TABLE orders ADD CONSTRAINT no_big CHECK (total < 7 * 25000)")
        return original(tables, major)

    copier.plan_units = plan  # type: ignore[method-assign]
    with pytest.raises(TaskError) as caught:
        copier.run()
    message = str(caught.value)
    assert re.search(r"copy of table public\.orders \(range \d+/\d+\) failed", message), message
    assert 'violates check constraint "no_big"' in message and "partly copied" in message
    pgh.assert_no_secret(message, source, target)
    # The failing range's rows are not on the target (its transaction never committed).
    (n,) = pgh.run(target, db, "SELECT count(*) FROM orders WHERE total >= 7 * 25000")[0]
    assert n == 0


def test_given_bad_configuration_when_run_then_exit_2_without_secrets(pgh, source, target, app):
    r = run_task(source.url(app), None)
    assert r.returncode == 2 and "TARGET_DATABASE_URL is not set" in r.stderr
    r = run_task(source.url(app), target.url("postgres", password="wrong-password"))
    assert r.returncode == 2 and "password authentication failed" in r.stderr and "Traceback" not in r.stderr
    assert "wrong-password" not in r.stdout + r.stderr
    pgh.assert_no_secret(r.stdout + r.stderr, source, target)


def test_given_a_non_empty_target_when_copied_then_the_schema_step_fails_by_name(pgh, source, target, app):
    db = pgh.new_db(target, "CREATE TABLE customers (x int)")
    with pytest.raises(TaskError) as caught:
        copy_and_verify(source.url(app), target.url(db), jobs=2)
    assert "pg_restore (pre-data) failed" in str(caught.value)
    assert 'relation "customers" already exists' in str(caught.value)


def test_given_the_target_connection_dropped_mid_stream_when_copying_then_it_fails_fast_naming_the_table(
        pgh, source, target):
    """A dropped target connection while rows flow: the task fails (it used to wait forever on the source's psql,
    blocked writing into a pipe nobody read any more), naming the table; the rest is stopped."""
    import threading
    import time

    app = pgh.new_db(source, "CREATE TABLE big (id bigint PRIMARY KEY, pad text NOT NULL); "
                             "INSERT INTO big SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 600000) g; "
                             "CREATE TABLE other (id int PRIMARY KEY); INSERT INTO other SELECT generate_series(1, 10)")
    db = pgh.new_db(target)
    dropped: dict = {}

    def drop() -> None:
        end = time.monotonic() + 60
        while time.monotonic() < end and not dropped:
            rows = pgh.run(target, "postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                               f"WHERE datname = '{db}' AND application_name = 'heroku2aws-pg-copy' "
                                               "AND query LIKE 'COPY %big% FROM STDIN%' AND state = 'active'")
            if any(r[0] for r in rows):
                dropped["yes"] = True
            time.sleep(0.01)

    watcher = threading.Thread(target=drop, daemon=True)
    watcher.start()
    outcome: dict = {}

    def run() -> None:
        try:
            copy_and_verify(source.url(app), target.url(db), jobs=2)
        except TaskError as exc:
            outcome["error"] = exc

    copier = threading.Thread(target=run, daemon=True)  # a hang fails the test instead of stalling it
    copier.start()
    copier.join(timeout=90)
    watcher.join(timeout=5)
    assert dropped, "the copy of big was never seen streaming"
    assert not copier.is_alive(), "the copy hung after its target connection dropped"
    assert "error" in outcome
    message = str(outcome["error"])
    assert "copy of table public.big failed: psql on the target" in message, message
    pgh.assert_no_secret(message, source, target)
    assert pgh.run(target, db, "SELECT count(*) FROM big") == [(0,)]
