"""DMS's LOB modes (issue 15): the stand-in truncates as DMS does under the settings given (its defaults: limited
LOB mode, 32 KB), verification catches it, and the settings preflight picks from the largest value measured copy
everything whole."""

from __future__ import annotations

import time

import psycopg
import pytest
from test_dms_cdc import wait_for

from heroku2aws.postgres.common import connect, internal_schema_filter
from heroku2aws.postgres.lobs import dms_lob_settings, measure
from heroku2aws.postgres.verify import verify
from heroku2aws_rehearsal.dms_mover import ReplicationRun

ALL = {"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "1",
                  "object-locator": {"schema-name": "public", "table-name": "%"}, "rule-action": "include"}]}

SCHEMA = """CREATE TABLE docs (id int PRIMARY KEY, body text, blob bytea, meta jsonb, note varchar(10), tags text[]);
CREATE TABLE small (id int PRIMARY KEY, v text);"""
DATA = """INSERT INTO docs VALUES
  (1, repeat('a', 100), '\\x00ff', '{"k": 1}', 'short', ARRAY['x']),
  (2, repeat('é', 30000), decode(repeat('ab', 70000), 'hex'), jsonb_build_object('big', repeat('z', 50000)), 'n', NULL),
  (3, NULL, NULL, NULL, NULL, NULL);
INSERT INTO small SELECT g, 'v' || g FROM generate_series(1, 50) g;"""


def run_to_end(run: ReplicationRun, timeout: float = 30) -> ReplicationRun:
    run.start()
    end = time.monotonic() + timeout
    while run.status not in ("stopped", "failed"):
        assert time.monotonic() < end, f"run still {run.status}"
        time.sleep(0.02)
    return run


@pytest.fixture
def lob_pair(pair):
    pair.src_exec(SCHEMA, DATA)
    pair.tgt_exec(SCHEMA)
    return pair


def _measured(url: str):
    with connect(url, label="source") as conn:
        return measure(conn, internal_schema_filter())


def test_given_large_values_when_measured_then_the_largest_per_column_as_dms_holds_it(lob_pair):
    report = _measured(lob_pair.source_url)
    sizes = {(c.table, c.column): c.largest_bytes for c in report.columns}
    assert report.complete and report.column_count == 5  # body, blob, meta, tags, small.v; varchar(10) is no LOB
    assert sizes[("public.docs", "blob")] == 70000  # bytes
    assert sizes[("public.docs", "body")] == 2 * 60000  # é is two UTF-8 bytes, and NCLOB counts twice that
    assert sizes[("public.docs", "meta")] >= 2 * 50000
    assert ("public.docs", "note") not in sizes
    settings = dms_lob_settings(report)
    assert settings["LimitedSizeLobMode"] and not settings["FullLobMode"]
    assert settings["LobMaxSize"] * 1024 >= report.largest_bytes * 1.25


def test_given_no_time_to_measure_when_settings_chosen_then_full_lob_mode(lob_pair):
    with connect(lob_pair.source_url, label="source") as conn:
        report = measure(conn, internal_schema_filter(), budget_s=0)
    assert not report.complete
    assert dms_lob_settings(report)["FullLobMode"] is True


def test_given_dms_default_lob_settings_when_loaded_then_values_truncated_and_verification_fails(lob_pair):
    """No TargetMetadata: DMS's defaults (limited LOB mode, 32 KB). The jsonb value no longer parses (its table
    fails); with the json column left out, the text and bytea values arrive cut -- and pg-verify says so."""
    run = run_to_end(ReplicationRun(lob_pair.source_url, lob_pair.target_url, ALL, "full-load", "TRUNCATE_BEFORE_LOAD"))
    assert run.status == "failed"
    assert "docs" in (run.last_failure_message or "") or any(t["TableState"] == "Table error"
                                                             for t in run.table_statistics())
    lob_pair.src_exec("ALTER TABLE docs DROP COLUMN meta")
    lob_pair.tgt_exec("ALTER TABLE docs DROP COLUMN meta", "TRUNCATE docs, small")
    run = run_to_end(ReplicationRun(lob_pair.source_url, lob_pair.target_url, ALL, "full-load", "TRUNCATE_BEFORE_LOAD"))
    assert run.status == "stopped", run.last_failure_message
    assert any("truncated to 32 KB" in w for w in run.warnings)
    with psycopg.connect(lob_pair.target_url) as c:
        assert c.execute("SELECT length(body), length(blob) FROM docs WHERE id = 2").fetchone() == (16384, 32768)
    result = verify(lob_pair.source_url, lob_pair.target_url, sequences=False)
    assert result.differences == ["public.docs"]


def test_given_the_settings_preflight_picks_when_loaded_then_everything_arrives_whole(lob_pair):
    settings = dms_lob_settings(_measured(lob_pair.source_url))
    run = run_to_end(ReplicationRun(lob_pair.source_url, lob_pair.target_url, ALL, "full-load", "TRUNCATE_BEFORE_LOAD",
                                    target_metadata=settings))
    assert run.status == "stopped", run.last_failure_message
    assert not run.warnings
    assert verify(lob_pair.source_url, lob_pair.target_url, sequences=False).match


def test_given_full_lob_mode_or_no_lob_support_when_loaded_then_whole_or_null(lob_pair):
    run = run_to_end(ReplicationRun(lob_pair.source_url, lob_pair.target_url, ALL, "full-load", "TRUNCATE_BEFORE_LOAD",
                                    target_metadata=dms_lob_settings(None)))
    assert run.status == "stopped" and verify(lob_pair.source_url, lob_pair.target_url, sequences=False).match
    run = run_to_end(ReplicationRun(lob_pair.source_url, lob_pair.target_url, ALL, "full-load", "TRUNCATE_BEFORE_LOAD",
                                    target_metadata={"SupportLobs": False}))
    assert run.status == "stopped"
    with psycopg.connect(lob_pair.target_url) as c:
        assert c.execute("SELECT count(*) FROM docs WHERE body IS NOT NULL OR meta IS NOT NULL").fetchone() == (0,)
        assert c.execute("SELECT count(note) FROM docs").fetchone() == (2,)  # varchar(10): no LOB


# DMS's LOB mode is a setting of the task (TargetMetadata), not of its full load: the changes it captures are
# applied under the same limit ("LOBs that exceed the maximum LOB size are truncated, and a warning is issued to the
# log file", AWS DMS user guide, "Setting LOB support for source databases in an AWS DMS task",
# https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Tasks.LOBSupport.html).
CDC_SCHEMA = "CREATE TABLE docs (id int PRIMARY KEY, body text, blob bytea, note varchar(10));"


@pytest.fixture
def app_pair(pair):
    """As test_dms_cdc's: the app's own roles, the source's with REPLICATION (CDC needs it)."""
    for server in (pair.src_server, pair.tgt_server):
        if not server.sql("postgres", "SELECT 1 FROM pg_roles WHERE rolname = 'app'").strip():
            server.sql("postgres", "CREATE ROLE app LOGIN PASSWORD 'app-pw'")
        server.sql("postgres", f"ALTER DATABASE {pair.db} OWNER TO app")
    pair.src_server.sql("postgres", "ALTER ROLE app REPLICATION")
    pair.source_url = pair.src_server.url(pair.db, user="app", password="app-pw")
    pair.target_url = pair.tgt_server.url(pair.db, user="app", password="app-pw")
    return pair


@pytest.mark.parametrize(("target_metadata", "expected"), [
    (None, (16384, 32768, 16384)),  # DMS's defaults: limited LOB mode, 32 KB (NCLOB: half as many characters)
    ({"SupportLobs": True, "FullLobMode": False, "LimitedSizeLobMode": True, "LobMaxSize": 64},
     (30000, 65536, 20000)),
    ({"SupportLobs": True, "FullLobMode": True, "LimitedSizeLobMode": False}, (30000, 70000, 20000)),
    ({"SupportLobs": False}, (None, None, None)),
])
def test_given_lob_settings_when_changes_are_captured_then_lobs_are_truncated_as_in_the_full_load(
        app_pair, target_metadata, expected):
    app_pair.src_exec(CDC_SCHEMA, "INSERT INTO docs VALUES (1, 'small', '\\x00', 'n')")
    app_pair.tgt_exec(CDC_SCHEMA, "INSERT INTO docs VALUES (1, 'small', '\\x00', 'n')")
    run = ReplicationRun(app_pair.source_url, app_pair.target_url, ALL, "cdc", task_id="lob-cdc",
                         target_metadata=target_metadata)
    run.start()
    try:
        wait_for(lambda: run.status == "running", what="the task to run")
        with psycopg.connect(app_pair.source_url, autocommit=True) as c:
            c.execute("INSERT INTO docs VALUES (2, repeat('é', 30000), decode(repeat('ab', 70000), 'hex'), 'short')")
            c.execute("UPDATE docs SET body = repeat('u', 20000), note = 'x' WHERE id = 1")
        assert run.cdc_caught_up(timeout=20), (run.status, run.last_failure_message)
        with psycopg.connect(app_pair.target_url) as c:
            inserted = c.execute("SELECT length(body), length(blob), note FROM docs WHERE id = 2").fetchone()
            updated = c.execute("SELECT length(body), note FROM docs WHERE id = 1").fetchone()
        assert (inserted[0], inserted[1], updated[0]) == expected
        assert (inserted[2], updated[1]) == ("short", "x")  # varchar(n) is no LOB: never cut
        truncated = None not in expected and expected != (30000, 70000, 20000)
        assert any("truncated" in w for w in run.warnings) == truncated, run.warnings
    finally:
        run.stop()
