"""Full load: what DMS copies, how it reports it, and how it fails."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from heroku2aws_rehearsal.dms_mover import ReplicationRun, parse_table_mappings, select_tables, to_wire
from heroku2aws_rehearsal.servers import free_port

SCHEMA = [
    "CREATE TYPE mood AS ENUM ('happy', 'sad', 'meh')",
    """CREATE TABLE customers (id bigserial PRIMARY KEY, name text NOT NULL, profile jsonb, avatar bytea,
        balance numeric(14, 4), tags text[], created_at timestamptz NOT NULL DEFAULT now(), feeling mood)""",
    """CREATE TABLE orders (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        customer_id bigint NOT NULL REFERENCES customers (id), total numeric, placed_at timestamptz, items int[],
        note text, total_x2 numeric GENERATED ALWAYS AS (total * 2) STORED)""",
    "CREATE TABLE events (at timestamptz, kind text, payload jsonb)",           # no primary key
    "CREATE TABLE audit_log (id serial PRIMARY KEY, msg text)",
    """CREATE TABLE measurements (id int, city text, value float8, PRIMARY KEY (id, city))
        PARTITION BY LIST (city)""",
    "CREATE TABLE measurements_a PARTITION OF measurements FOR VALUES IN ('a')",
    "CREATE TABLE measurements_b PARTITION OF measurements FOR VALUES IN ('b')",
]

DATA = [
    r"""INSERT INTO customers (name, profile, avatar, balance, tags, created_at, feeling)
        SELECT 'customer ' || g || CASE WHEN g % 7 = 0 THEN E' tab\there\nnewline \\ backslash é ✓' ELSE '' END,
               CASE WHEN g % 5 = 0 THEN NULL ELSE jsonb_build_object('n', g, 'nested', jsonb_build_object('a',
                    jsonb_build_array(1, 'two', null, g * 1.5)), 'quote', 'it''s "q"') END,
               CASE WHEN g % 3 = 0 THEN NULL ELSE decode(lpad(to_hex(g), 8, '0') || '00ff0a09', 'hex') END,
               (g * 1234.5678)::numeric(14, 4),
               CASE WHEN g % 4 = 0 THEN NULL ELSE ARRAY['t' || g, NULL, 'with,comma', 'with "quote"'] END,
               timestamptz '2024-01-01 00:00:00+00' + g * interval '37 minutes',
               (ARRAY['happy', 'sad', 'meh'])[1 + g % 3]::mood
        FROM generate_series(1, 3000) g""",
    """INSERT INTO orders (customer_id, total, placed_at, items, note)
        SELECT 1 + g % 3000, round((g * 3.14159)::numeric, 2),
               CASE WHEN g % 11 = 0 THEN '-infinity'::timestamptz ELSE now() - g * interval '1 hour' END,
               ARRAY[g, g + 1, NULL], CASE WHEN g % 2 = 0 THEN NULL ELSE repeat('x', g % 50) END
        FROM generate_series(1, 20000) g""",
    """INSERT INTO events SELECT now() - g * interval '1 minute', 'kind' || (g % 4),
        jsonb_build_object('g', g) FROM generate_series(1, 5000) g""",
    "INSERT INTO events SELECT at, kind, payload FROM events LIMIT 10",           # duplicate rows, no PK
    "INSERT INTO audit_log (msg) SELECT 'm' || g FROM generate_series(1, 100) g",
    """INSERT INTO measurements SELECT g, CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END, g / 3.0
        FROM generate_series(1, 1000) g""",
]

ALL = {"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "1",
                  "object-locator": {"schema-name": "public", "table-name": "%"}, "rule-action": "include"}]}

TABLES = ["customers", "orders", "events", "audit_log", "measurements", "measurements_a", "measurements_b"]
ORDER = {"events": "at, kind, payload::text", "measurements": "id, city", "measurements_a": "id",
         "measurements_b": "id"}


def seed(pair, target_schema: bool = False) -> None:
    pair.src_exec(*SCHEMA, *DATA, "ANALYZE")
    if target_schema:
        pair.tgt_exec(*SCHEMA)


def run_to_end(run: ReplicationRun, timeout: float = 30) -> ReplicationRun:
    run.start()
    end = time.monotonic() + timeout
    while run.status not in ("stopped", "failed"):
        assert time.monotonic() < end, f"run still {run.status}"
        time.sleep(0.02)
    return run


def same_rows(pair, table: str) -> None:
    order = ORDER.get(table, "id")
    src = pair.rows(pair.source_url, table, order)
    tgt = pair.rows(pair.target_url, table, order)
    assert len(src) == len(tgt), f"{table}: {len(src)} rows on the source, {len(tgt)} on the target"
    assert src == tgt, f"{table}: rows differ"


def test_full_load_drop_and_create_moves_every_row(pair):
    seed(pair)
    run = ReplicationRun(pair.source_url, pair.target_url, json.dumps(ALL), "full-load", "DROP_AND_CREATE", "t1")
    assert run.status == "ready"
    run_to_end(run)
    assert run.status == "stopped", run.last_failure_message
    assert run.stop_reason == "Stop Reason FULL_LOAD_ONLY_FINISHED"
    assert run.last_failure_message is None

    # Parent and partitions are all selected: every row once, in the partitions; the parent holds none.
    for table in ("customers", "orders", "events", "audit_log", "measurements_a", "measurements_b"):
        same_rows(pair, table)
    with pair.tgt() as c:
        assert c.execute("SELECT count(*) FROM measurements").fetchone()[0] == 0
        # Columns and primary key only, like DMS: no defaults, no sequences, the enum type maps to text.
        assert c.execute("SELECT count(*) FROM pg_sequences").fetchone()[0] == 0
        cols = dict(c.execute("SELECT column_name, data_type FROM information_schema.columns "
                              "WHERE table_name = 'customers'").fetchall())
        assert cols["feeling"] == "text" and cols["profile"] == "jsonb" and cols["tags"] == "ARRAY"
        assert c.execute("SELECT count(*) FROM information_schema.columns WHERE column_default IS NOT NULL "
                         "AND table_schema = 'public'").fetchone()[0] == 0
        pk = c.execute("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                       "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'orders'::regclass AND i.indisprimary"
                       ).fetchall()
        assert pk == [("id",)]
        # The generated column is not copied (DMS reads it as an ordinary column on PostgreSQL: not created).
        assert "total_x2" not in [r[0] for r in c.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'orders'").fetchall()]
        # Awkward values survive exactly.
        row = c.execute("SELECT name, avatar, tags, balance FROM customers WHERE id = 7").fetchone()
        assert row[0] == "customer 7 tab\there\nnewline \\ backslash é ✓"
        assert row[1] == bytes.fromhex("0000000700ff0a09")
        assert row[2] == ["t7", None, "with,comma", 'with "quote"']
        assert row[3] == Decimal("8641.9746")

    stats = run.stats()
    assert stats["FullLoadProgressPercent"] == 100
    assert stats["TablesLoaded"] == len(TABLES)
    assert stats["TablesLoading"] == stats["TablesQueued"] == stats["TablesErrored"] == 0
    for key in ("StartDate", "FreshStartDate", "StopDate", "FullLoadStartDate", "FullLoadFinishDate"):
        assert key in stats
    assert stats["StartDate"] <= stats["FullLoadStartDate"] <= stats["FullLoadFinishDate"] <= stats["StopDate"]
    assert stats["ElapsedTimeMillis"] > 0
    json.dumps(to_wire(stats))
    json.dumps(to_wire(run.table_statistics()))

    by_name = {t["TableName"]: t for t in run.table_statistics()}
    assert sorted(by_name) == sorted(TABLES)
    assert by_name["customers"]["FullLoadRows"] == 3000
    assert by_name["orders"]["FullLoadRows"] == 20000
    assert by_name["events"]["FullLoadRows"] == 5010
    assert by_name["measurements"]["FullLoadRows"] == 0
    assert by_name["measurements_a"]["FullLoadRows"] + by_name["measurements_b"]["FullLoadRows"] == 1000
    assert all(t["TableState"] == "Table completed" and t["SchemaName"] == "public" for t in by_name.values())
    assert all(t["FullLoadErrorRows"] == 0 and t["Inserts"] == 0 for t in by_name.values())
    run.stop()  # idempotent after the end
    assert run.status == "stopped" and run.stop_reason == "Stop Reason FULL_LOAD_ONLY_FINISHED"


def test_partitioned_parent_alone_carries_all_its_rows(pair):
    seed(pair)
    mappings = {"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "1",
                           "object-locator": {"schema-name": "public", "table-name": "measurements"},
                           "rule-action": "include"}]}
    run = run_to_end(ReplicationRun(pair.source_url, pair.target_url, mappings, "full-load", "DROP_AND_CREATE"))
    assert run.status == "stopped", run.last_failure_message
    same_rows(pair, "measurements")
    assert [t["TableName"] for t in run.table_statistics()] == ["measurements"]


def test_exclusion_rules_win(pair):
    seed(pair)
    mappings = {"rules": [
        {"rule-type": "selection", "rule-id": "1", "rule-name": "all", "rule-action": "include",
         "object-locator": {"schema-name": "%", "table-name": "%"}},
        {"rule-type": "selection", "rule-id": "2", "rule-name": "no-audit", "rule-action": "exclude",
         "object-locator": {"schema-name": "public", "table-name": "audit%"}},
        {"rule-type": "selection", "rule-id": "3", "rule-name": "no-measurements", "rule-action": "exclude",
         "object-locator": {"schema-name": "public", "table-name": "measure%"}},
        {"rule-type": "transformation", "rule-id": "4", "rule-name": "ignored", "rule-action": "lowercase",
         "rule-target": "table", "object-locator": {"schema-name": "%", "table-name": "%"}},
    ]}
    run = run_to_end(ReplicationRun(pair.source_url, pair.target_url, mappings, "full-load", "DROP_AND_CREATE"))
    assert run.status == "stopped", run.last_failure_message
    assert sorted(t["TableName"] for t in run.table_statistics()) == ["customers", "events", "orders"]
    with pair.tgt() as c:
        present = {r[0] for r in c.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert present == {"customers", "events", "orders"}
    assert run.stats()["TablesLoaded"] == 3


def test_selection_rule_matching():
    rules = parse_table_mappings({"rules": [
        {"rule-type": "selection", "rule-id": "1", "rule-name": "1", "rule-action": "include",
         "object-locator": {"schema-name": "public", "table-name": "%"}},
        {"rule-type": "selection", "rule-id": "2", "rule-name": "2", "rule-action": "exclude",
         "object-locator": {"schema-name": "public", "table-name": "tmp_%"}},
        {"rule-type": "selection", "rule-id": "3", "rule-name": "3", "rule-action": "include",
         "object-locator": {"schema-name": "billing", "table-name": "invoices"}},
    ]})
    tables = [("public", "a"), ("public", "tmp_x"), ("public", "tmpx"), ("billing", "invoices"), ("billing", "b"),
              ("other", "a")]
    assert select_tables(rules, tables) == [("public", "a"), ("public", "tmpx"), ("billing", "invoices")]


def test_truncate_before_load_as_an_ordinary_user_in_dependency_order(pair):
    seed(pair, target_schema=True)
    # A target user who is no superuser: foreign keys stay checked, so tables load parents first.
    pair.tgt_exec("CREATE ROLE loader LOGIN PASSWORD 'loader-pw'",
                  "GRANT ALL ON SCHEMA public TO loader", "GRANT ALL ON ALL TABLES IN SCHEMA public TO loader",
                  "INSERT INTO customers (id, name) VALUES (1, 'stale'), (999999, 'gone')",
                  "INSERT INTO orders (customer_id, total) VALUES (999999, 1)",
                  "INSERT INTO events (kind) VALUES ('stale')")
    target = pair.tgt_server.url(pair.db, user="loader", password="loader-pw")
    run = run_to_end(ReplicationRun(pair.source_url, target, ALL, "full-load", "TRUNCATE_BEFORE_LOAD"))
    assert run.status == "stopped", run.last_failure_message
    for table in ("customers", "orders", "events", "audit_log", "measurements"):
        same_rows(pair, table)
    with pair.tgt() as c:
        # Sequences are not moved: the target's own are untouched.
        assert c.execute("SELECT last_value, is_called FROM customers_id_seq").fetchone() == (1, False)


def test_do_nothing_appends(pair):
    seed(pair, target_schema=True)
    pair.tgt_exec("INSERT INTO events (kind) VALUES ('already there')")
    mappings = {"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "1", "rule-action": "include",
                           "object-locator": {"schema-name": "public", "table-name": "events"}}]}
    run = run_to_end(ReplicationRun(pair.source_url, pair.target_url, mappings, "full-load"))
    assert run.status == "stopped", run.last_failure_message
    with pair.tgt() as c:
        assert c.execute("SELECT count(*) FROM events").fetchone()[0] == 5011


def test_missing_target_table_fails_the_task_and_names_the_table(pair):
    seed(pair, target_schema=True)
    pair.tgt_exec("DROP TABLE audit_log")
    run = run_to_end(ReplicationRun(pair.source_url, pair.target_url, ALL, "full-load", "DO_NOTHING"))
    assert run.status == "failed"
    assert run.stop_reason == "Stop Reason FATAL_ERROR"
    assert "public.audit_log" in run.last_failure_message
    assert "does not exist on the target" in run.last_failure_message
    stats = run.stats()
    assert stats["TablesErrored"] == 1 and stats["TablesLoaded"] == len(TABLES) - 1
    assert stats["FullLoadProgressPercent"] < 100
    by_name = {t["TableName"]: t for t in run.table_statistics()}
    assert by_name["audit_log"]["TableState"] == "Table error"
    assert by_name["orders"]["TableState"] == "Table completed"
    same_rows(pair, "orders")   # the other tables were still loaded, as DMS does


def test_type_mismatch_is_a_table_error_and_rolls_that_table_back(pair):
    seed(pair, target_schema=True)
    pair.tgt_exec("ALTER TABLE audit_log ALTER COLUMN msg TYPE int USING 0")
    run = run_to_end(ReplicationRun(pair.source_url, pair.target_url, ALL, "full-load", "DO_NOTHING"))
    assert run.status == "failed"
    assert "public.audit_log" in run.last_failure_message
    with pair.tgt() as c:
        assert c.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0


def test_unreachable_source_fails_fast_with_a_clear_message():
    port = free_port()
    run = ReplicationRun(f"postgresql://app:s3cr3t-pw@127.0.0.1:{port}/app", "postgresql://x:y@127.0.0.1:1/x", ALL,
                         "full-load", "DROP_AND_CREATE")
    started = time.monotonic()
    run_to_end(run, timeout=15)
    assert time.monotonic() - started < 12
    assert run.status == "failed" and run.stop_reason == "Stop Reason FATAL_ERROR"
    assert f"127.0.0.1:{port}/app" in run.last_failure_message
    assert "source endpoint" in run.last_failure_message
    assert "s3cr3t-pw" not in run.last_failure_message


def test_unreachable_target_and_bad_password(pair):
    seed(pair)
    run = run_to_end(ReplicationRun(pair.source_url, f"postgresql://a:b@127.0.0.1:{free_port()}/x", ALL,
                                    "full-load", "DROP_AND_CREATE"))
    assert run.status == "failed" and "target endpoint" in run.last_failure_message
    bad = pair.src_server.url(pair.db, password="wrong-password")
    run = run_to_end(ReplicationRun(bad, pair.target_url, ALL, "full-load"))
    assert run.status == "failed" and "password authentication failed" in run.last_failure_message
    assert "wrong-password" not in run.last_failure_message


def test_bad_mappings_and_empty_selection_fail(pair):
    seed(pair)
    run = run_to_end(ReplicationRun(pair.source_url, pair.target_url, "{not json", "full-load"))
    assert run.status == "failed" and "not valid JSON" in run.last_failure_message
    nothing = {"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "1", "rule-action": "include",
                          "object-locator": {"schema-name": "public", "table-name": "no_such_%"}}]}
    run = run_to_end(ReplicationRun(pair.source_url, pair.target_url, nothing, "full-load"))
    assert run.status == "failed" and "No tables were found" in run.last_failure_message


def test_stop_during_the_full_load(pair):
    pair.src_exec("CREATE TABLE big (id int PRIMARY KEY, pad text)",
                  "INSERT INTO big SELECT g, repeat('p', 200) FROM generate_series(1, 150000) g")
    run = ReplicationRun(pair.source_url, pair.target_url, ALL, "full-load", "DROP_AND_CREATE")
    run.start()
    end = time.monotonic() + 20
    while not (0 < run.stats()["FullLoadProgressPercent"] < 100):   # progress moves by rows
        assert time.monotonic() < end and run.status != "stopped"
        time.sleep(0.005)
    stats = run.stats()
    assert stats["TablesLoading"] == 1 and stats["TablesLoaded"] == 0
    assert 0 < run.table_statistics()[0]["FullLoadRows"] < 150000
    assert run.table_statistics()[0]["TableState"] == "Full load"
    run.stop()
    assert run.status == "stopped" and run.stop_reason == "Stop Reason NORMAL"
    assert run.table_statistics()[0]["TableState"] != "Table completed"


def test_rejects_unknown_migration_type():
    with pytest.raises(ValueError):
        ReplicationRun("postgresql://a", "postgresql://b", ALL, "sideways")
