"""Issue 18, deliverable 4: the DMS full load's parallelism chosen from preflight's measurements
(heroku2aws.postgres.parallel_load), and the DMS stand-in honouring -- and refusing, as DMS does -- MaxFullLoadSubTasks
and parallel-load ranges."""

from __future__ import annotations

import json
import time

import psycopg
import pytest

from heroku2aws.postgres import parallel_load as pl
from heroku2aws.postgres.analysis import analyze_connection
from heroku2aws.postgres.mappings import dms_table_mappings, selected_tables
from heroku2aws_rehearsal.dms_mover import ReplicationRun

SCHEMA = [
    "CREATE TABLE big (id bigint PRIMARY KEY, body text NOT NULL)",
    "CREATE TABLE pairs (region varchar(8), seq int, body text, PRIMARY KEY (region, seq))",
    "CREATE TABLE small (id int PRIMARY KEY, v text)",
    "CREATE TABLE floaty (x float8 PRIMARY KEY, body text)",
    "CREATE TABLE keyless (n int, body text)",
    "INSERT INTO big SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 40000) g",
    "INSERT INTO pairs SELECT (ARRAY['east','north','south','west'])[1 + g % 4], g, repeat('p', 300) "
    "FROM generate_series(1, 20000) g",
    "INSERT INTO small SELECT g, 'v' FROM generate_series(1, 10) g",
    "INSERT INTO floaty SELECT g / 3.0, repeat('f', 300) FROM generate_series(1, 20000) g",
    "INSERT INTO keyless SELECT g, repeat('k', 300) FROM generate_series(1, 20000) g",
    "ANALYZE",
]
TABLES = ["public.big", "public.pairs", "public.small", "public.floaty", "public.keyless"]
SEGMENT = 1_500_000  # bytes: these tables are a few MB, so the planner splits them as it would split gigabytes


def run_to_end(run: ReplicationRun, timeout: float = 60) -> ReplicationRun:
    run.start()
    end = time.monotonic() + timeout
    while run.status not in ("stopped", "failed"):
        assert time.monotonic() < end, f"run still {run.status}"
        time.sleep(0.02)
    return run


def seeded(pair):
    pair.src_exec(*SCHEMA)
    pair.tgt_exec(*[s for s in SCHEMA if s.startswith("CREATE")])
    with psycopg.connect(pair.source_url) as conn:
        analysis = analyze_connection(conn)
        plan = pl.plan_parallel_load(conn, analysis.tables, free_connections=40, instance_class="dms.t3.medium",
                                     min_segment_bytes=SEGMENT)
    return analysis.model_copy(update={"parallel_load": plan}), plan


def test_the_largest_tables_are_split_on_their_key_quantiles(pair):
    analysis, plan = seeded(pair)
    split = {r.table: r for r in plan.ranges}
    assert set(split) == {"public.big", "public.pairs"}
    assert split["public.big"].columns == ["id"] and split["public.pairs"].columns == ["region", "seq"]
    assert plan.not_split["public.floaty"].startswith("DMS cannot range on x (double precision)")
    assert plan.not_split["public.keyless"] == "no primary key or unique index on NOT NULL columns to range on"
    with psycopg.connect(pair.source_url) as conn:
        for r in plan.ranges:
            # strictly increasing (DMS would copy rows twice otherwise), and segments of about equal size
            cols = ", ".join(r.columns)
            casts = ", ".join(f"%s::{t}" for t in (["bigint"] if r.table == "public.big" else ["varchar", "int"]))
            keys = [tuple(conn.execute(f"SELECT {casts}", b).fetchone()) for b in r.boundaries]
            assert keys == sorted(set(keys))
            total = conn.execute(f"SELECT count(*) FROM {r.table}").fetchone()[0]
            edges = [None, *r.boundaries, None]
            sizes = []
            for lo, hi in zip(edges, edges[1:], strict=False):
                cond = " AND ".join([*([f"({cols}) >= ({casts})"] if lo else []), *([f"({cols}) < ({casts})"] if hi else [])])
                sizes.append(conn.execute(f"SELECT count(*) FROM {r.table} WHERE {cond or 'true'}",
                                          [*(lo or []), *(hi or [])]).fetchone()[0])
            assert sum(sizes) == total and max(sizes) < 2.5 * total / len(sizes), sizes
    # MaxFullLoadSubTasks: every unit at once (5 tables + the extra segments), under the instance's 8
    units = 5 + sum(len(r.boundaries) for r in plan.ranges)
    assert plan.load_units == units and plan.max_full_load_subtasks == min(8, units)
    # the plan's summary names every choice without a boundary value; the mapping carries them
    summary = json.dumps(plan.summary())
    assert "boundaries" not in summary and "docs.aws.amazon.com/dms" in summary
    rules = dms_table_mappings(analysis)["rules"]
    settings = [r for r in rules if r["rule-type"] == "table-settings"]
    assert [s["object-locator"]["table-name"] for s in settings] == [r.table_name for r in plan.ranges]
    assert len({r["rule-id"] for r in rules}) == len(rules)
    assert selected_tables(dms_table_mappings(analysis), TABLES) == TABLES  # selection unchanged


def test_the_stand_in_loads_the_segments_side_by_side_and_every_row_once(pair):
    analysis, plan = seeded(pair)
    mappings = json.dumps(dms_table_mappings(analysis))
    run = run_to_end(ReplicationRun(pair.source_url, pair.target_url, mappings, "full-load", "TRUNCATE_BEFORE_LOAD",
                                    full_load_settings={"MaxFullLoadSubTasks": plan.max_full_load_subtasks}))
    assert run.status == "stopped", run.last_failure_message
    assert run.subtasks_used == plan.max_full_load_subtasks
    for table in TABLES:
        order = "region, seq" if table == "public.pairs" else "1"
        assert pair.rows(pair.target_url, table, order) == pair.rows(pair.source_url, table, order), table
    stats = {s["TableName"]: s for s in run.table_statistics()}
    assert stats["big"]["FullLoadRows"] == 40000 and stats["big"]["TableState"] == "Table completed"


def test_rows_whose_range_columns_are_null_are_not_replicated_as_on_dms(pair):
    """Why the planner ranges on the key only: DMS leaves out rows with NULL range columns."""
    pair.src_exec("CREATE TABLE t (id int PRIMARY KEY, maybe int)",
                  "INSERT INTO t SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE g END FROM generate_series(1, 100) g")
    pair.tgt_exec("CREATE TABLE t (id int PRIMARY KEY, maybe int)")
    mappings = {"rules": [
        {"rule-type": "selection", "rule-id": "1", "rule-name": "1", "rule-action": "include",
         "object-locator": {"schema-name": "public", "table-name": "%"}},
        {"rule-type": "table-settings", "rule-id": "2", "rule-name": "2",
         "object-locator": {"schema-name": "public", "table-name": "t"},
         "parallel-load": {"type": "ranges", "columns": ["maybe"], "boundaries": [["30"], ["60"]]}}]}
    run = run_to_end(ReplicationRun(pair.source_url, pair.target_url, mappings, "full-load", "TRUNCATE_BEFORE_LOAD"))
    assert run.status == "stopped", run.last_failure_message
    with pair.tgt() as c:
        assert c.execute("SELECT count(*), count(maybe) FROM t").fetchone() == (90, 90)


def _with(setting: dict, table: str = "big") -> dict:
    return {"rules": [
        {"rule-type": "selection", "rule-id": "1", "rule-name": "1", "rule-action": "include",
         "object-locator": {"schema-name": "public", "table-name": "%"}},
        {"rule-type": "table-settings", "rule-id": "2", "rule-name": "split",
         "object-locator": {"schema-name": "public", "table-name": table}, "parallel-load": setting}]}


@pytest.mark.parametrize(("mappings", "settings", "message"), [
    (_with({"type": "partitions-auto"}), None, "not supported for a PostgreSQL source"),
    (_with({"type": "ranges", "columns": ["id"], "boundaries": [["5"]]}, table="%"), None, "not the wildcard"),
    (_with({"type": "ranges", "columns": ["id"], "boundaries": []}), None, "need boundaries"),
    (_with({"type": "ranges", "columns": ["id"], "boundaries": [["5", "6"]]}), None, "one value per column"),
    (_with({"type": "ranges", "columns": [f"c{i}" for i in range(11)], "boundaries": [["1"] * 11]}), None,
     "1 to 10 column names"),
    (_with({"type": "ranges", "columns": ["body"], "boundaries": [["m"]]}), None, "cannot range on body (text)"),
    (_with({"type": "ranges", "columns": ["x"], "boundaries": [["1"]]}, table="floaty"), None,
     "cannot range on x (double precision)"),
    (_with({"type": "ranges", "columns": ["nope"], "boundaries": [["1"]]}), None, "no column nope"),
    (None, {"MaxFullLoadSubTasks": 50}, "from 1 to 49"),
    (None, {"MaxFullLoadSubTasks": 0}, "from 1 to 49"),
])
def test_the_stand_in_refuses_what_dms_refuses(pair, mappings, settings, message):
    pair.src_exec(*SCHEMA[:5])
    pair.tgt_exec(*SCHEMA[:5])
    mappings = mappings or _with({"type": "none"})
    run = run_to_end(ReplicationRun(pair.source_url, pair.target_url, mappings, "full-load", "TRUNCATE_BEFORE_LOAD",
                                    full_load_settings=settings))
    assert run.status == "failed" and message in (run.last_failure_message or ""), run.last_failure_message


def test_subtasks_follow_the_instance_and_the_free_connections():
    assert pl.instance_subtask_cap("dms.t3.medium") == 8
    assert pl.instance_subtask_cap("dms.r5.xlarge") == 16
    assert pl.instance_subtask_cap("dms.r5.2xlarge") == 32
    assert pl.instance_subtask_cap("dms.r5.4xlarge") == 49  # DMS's maximum


def test_subtasks_capped_by_free_connections_and_payload_bounded(pair, monkeypatch):
    pair.src_exec(*SCHEMA)
    with psycopg.connect(pair.source_url) as conn:
        tables = analyze_connection(conn).tables
        tight = pl.plan_parallel_load(conn, tables, free_connections=8, instance_class="dms.r5.4xlarge",
                                      min_segment_bytes=SEGMENT)
        assert tight.max_full_load_subtasks == 3 and "free connections" in tight.why
        monkeypatch.setattr(pl, "PAYLOAD_BUDGET", 200)
        small = pl.plan_parallel_load(conn, tables, free_connections=40, min_segment_bytes=SEGMENT)
    assert small.ranges == [] and "past 0 KiB" in small.not_split["public.big"]
