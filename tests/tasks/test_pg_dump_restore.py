"""The dump-restore task: ``python -m heroku2aws.tasks.pg_dump_restore`` copies a database for real."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from heroku2aws.postgres.verify import verify
from heroku2aws.tasks.pg_dump_restore import copy_database

pytestmark = pytest.mark.xdist_group("pg_dump_restore")

SAMPLE = r"""
CREATE EXTENSION hstore;
CREATE TYPE status AS ENUM ('new', 'done');
CREATE DOMAIN cents AS bigint CHECK (VALUE >= 0);
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, attrs hstore, created timestamptz DEFAULT now());
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int REFERENCES customers, status status, total cents,
                     lines jsonb, tags text[], raw bytea, search tsvector);
CREATE INDEX ON orders (customer_id);
CREATE TABLE audit (at timestamptz, what text);   -- no primary key
CREATE TABLE metrics (id int, at timestamptz NOT NULL, v double precision, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE metrics_a PARTITION OF metrics FOR VALUES FROM (MINVALUE) TO ('2024-01-01 00:00+00');
CREATE TABLE metrics_b PARTITION OF metrics FOR VALUES FROM ('2024-01-01 00:00+00') TO (MAXVALUE);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.what := upper(NEW.what); RETURN NEW; END $$;
CREATE TRIGGER audit_touch BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION touch();
CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 1000;
INSERT INTO customers (name, attrs) SELECT 'c' || g, hstore('k', g::text) FROM generate_series(1, 200) g;
INSERT INTO orders (customer_id, status, total, lines, tags, raw, search)
SELECT 1 + g % 200, (ARRAY['new', 'done'])[1 + g % 2]::status, g * 7, jsonb_build_array(g, 'x'),
       ARRAY['t' || g], decode(md5(g::text), 'hex'), to_tsvector('simple', 'order number ' || g)
  FROM generate_series(1, 3000) g;
INSERT INTO audit SELECT now(), 'x' FROM generate_series(1, 10);
INSERT INTO audit SELECT now(), 'x' FROM generate_series(1, 10);
INSERT INTO metrics SELECT g, timestamptz '2023-12-01 00:00+00' + g * interval '1 hour', g / 3.0
  FROM generate_series(1, 1500) g;
SELECT setval('orders_id_seq', 5000);
SELECT lo_from_bytea(0, 'big blob');
"""


@pytest.fixture(scope="module")
def app(pgh, source):
    return pgh.new_db(source, SAMPLE)


@pytest.fixture
def shims(tmp_path):
    """pg_dump / pg_restore wrappers that record their argv and whether they got a password by env."""
    log = tmp_path / "argv.log"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("pg_dump", "pg_restore"):
        real = shutil.which(tool)
        script = bindir / tool
        script.write_text(f'#!/bin/sh\necho "{tool} $* PGPASSWORD_SET=${{PGPASSWORD:+yes}}" >> "{log}"\n'
                          f'exec "{real}" "$@"\n')
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return bindir, log


def run_task(source_url: str | None, target_url: str | None, *args: str, path_prefix: Path | None = None):
    env = {k: v for k, v in os.environ.items() if k not in ("SOURCE_DATABASE_URL", "TARGET_DATABASE_URL")}
    if source_url:
        env["SOURCE_DATABASE_URL"] = source_url
    if target_url:
        env["TARGET_DATABASE_URL"] = target_url
    if path_prefix:
        env["PATH"] = f"{path_prefix}{os.pathsep}{env['PATH']}"
    return subprocess.run([sys.executable, "-m", "heroku2aws.tasks.pg_dump_restore", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_given_a_database_when_copied_then_pg_verify_finds_it_identical(pgh, source, target, app, shims):
    db = pgh.new_db(target)
    bindir, log = shims
    r = run_task(source.url(app), target.url(db), "--jobs", "2", path_prefix=bindir)
    assert r.returncode == 0, r.stderr
    result = verify(source.url(app), target.url(db), exact_sequences=True)
    assert result.match, [t for t in result.tables if not t.match] + [s for s in result.sequences if not s.match]
    assert result.rows == 200 + 3000 + 20 + 1500
    assert {s.name for s in result.sequences} == {"public.customers_id_seq", "public.orders_id_seq"}
    assert pgh.run(target, db, "SELECT count(*) FROM pg_largeobject_metadata") == [(1,)]
    assert pgh.run(target, db, "SELECT count(*) FROM big_orders") == pgh.run(source, app,
                                                                            "SELECT count(*) FROM big_orders")
    # Progress in the structured log; no password anywhere, not even in the tools' argv.
    assert "restored table" in r.stdout and "pg_dump_restore succeeded" in r.stdout
    argv = log.read_text()
    assert "pg_dump --format=directory --jobs=2" in argv and "pg_restore --jobs=2 --no-owner --no-acl" in argv
    assert argv.count("PGPASSWORD_SET=yes") == 2
    pgh.assert_no_secret(r.stdout + r.stderr + argv, source, target)


def test_given_schema_only_when_copied_then_tables_without_rows(pgh, source, target, app):
    db = pgh.new_db(target)
    r = run_task(source.url(app), target.url(db), "--schema-only", "--jobs", "1")
    assert r.returncode == 0, r.stderr
    counts = pgh.run(target, db, "SELECT (SELECT count(*) FROM customers) + (SELECT count(*) FROM orders) "
                                 "+ (SELECT count(*) FROM metrics) + (SELECT count(*) FROM audit)")
    assert counts == [(0,)]
    tables = {r[0] for r in pgh.run(target, db, "SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') "
                                                "AND relnamespace = 'public'::regnamespace")}
    assert {"customers", "orders", "audit", "metrics", "metrics_a", "metrics_b"} <= tables
    result = verify(source.url(app), target.url(db), sequences=False)
    assert not result.match and all(t.rows_target == 0 for t in result.tables)


def test_given_sections_when_copied_around_a_load_then_indexes_come_after(pgh, source, target, app):
    """pre-data, then the rows (here: the data section, as DMS would load them), then post-data."""
    db = pgh.new_db(target)
    copy_database(source.url(app), target.url(db), jobs=2, sections=["pre-data"])
    assert pgh.run(target, db, "SELECT count(*) FROM pg_indexes WHERE tablename = 'orders'") == [(0,)]
    copy_database(source.url(app), target.url(db), jobs=2, sections=["data"])
    copy_database(source.url(app), target.url(db), jobs=2, sections=["post-data"])
    assert pgh.run(target, db, "SELECT count(*) FROM pg_indexes WHERE tablename = 'orders'") == [(2,)]
    assert verify(source.url(app), target.url(db), exact_sequences=True).match


def test_given_a_failing_copy_when_run_then_a_clear_error_and_a_non_zero_exit(pgh, source, target, app):
    r = run_task(source.url(app), None)
    assert r.returncode == 2 and "TARGET_DATABASE_URL is not set" in r.stderr

    r = run_task(source.url(app), target.url("postgres", password="wrong-password"))
    assert r.returncode == 2 and "password authentication failed" in r.stderr and "Traceback" not in r.stderr
    assert "wrong-password" not in r.stdout + r.stderr
    pgh.assert_no_secret(r.stdout + r.stderr, source, target)

    # A target that is not empty: pg_restore stops at the first error, and so does the task.
    db = pgh.new_db(target, "CREATE TABLE customers (x int)")
    r = run_task(source.url(app), target.url(db), "--jobs", "2")
    assert r.returncode == 1
    assert "pg_restore failed" in r.stderr and 'relation "customers" already exists' in r.stderr
    pgh.assert_no_secret(r.stdout + r.stderr, source, target)


def test_given_the_verify_flag_when_copied_then_a_difference_fails_the_task(pgh, source, target, app):
    db = pgh.new_db(target)
    r = run_task(source.url(app), target.url(db), "--verify")
    assert r.returncode == 0, r.stderr
    assert '"verified":true' in r.stdout.replace(" ", "")


def test_given_a_dms_load_when_post_data_runs_with_verify_then_it_vacuums_and_verifies_in_the_task(pgh, source,
                                                                                                   target, app):
    """Issue 18: after a DMS full load the post-data task analyzes the target (statistics and a visibility map before
    the foreign keys are validated) and verifies every table itself, so no Lambda compares them within 900 s.
    Sequences are left out (DMS does not carry them; the workflow sets them next)."""
    db = pgh.new_db(target)
    copy_database(source.url(app), target.url(db), jobs=2, sections=["pre-data"])
    copy_database(source.url(app), target.url(db), jobs=2, sections=["data"])  # the rows, as DMS would load them
    pgh.run(target, db, "SELECT setval('orders_id_seq', 1, false)")  # DMS leaves sequences behind
    r = run_task(source.url(app), target.url(db), "--section", "post-data", "--verify")
    assert r.returncode == 0, r.stderr
    assert '"verified":true' in r.stdout.replace(" ", "") and "target vacuumed and analyzed" in r.stdout
    assert pgh.run(target, db, "SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL FROM "
                               "pg_stat_user_tables WHERE relname = 'orders'") == [(True,)]

    db2 = pgh.new_db(target)
    copy_database(source.url(app), target.url(db2), jobs=2, sections=["pre-data"])
    copy_database(source.url(app), target.url(db2), jobs=2, sections=["data"])
    pgh.run(target, db2, "DELETE FROM audit WHERE ctid = (SELECT min(ctid) FROM audit)")  # a row DMS lost
    r = run_task(source.url(app), target.url(db2), "--section", "post-data", "--verify")
    assert r.returncode == 1 and "verification found differences in: public.audit" in r.stderr, r.stderr
