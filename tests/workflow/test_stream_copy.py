"""The dump-restore strategy's streaming copy in the whole workflow (issue 18): its verdict is the verification
(the "Verify the copy" step does not compare the tables again), and a fault in the middle of the stream -- the
target's connection dropped while a table's rows are flowing -- rolls back and leaves the target empty."""

from __future__ import annotations

import threading
import time

from workflow_helpers import assert_rolled_back, heroku_app

BIG = "stream_fault_big"


def test_the_copy_task_verifies_and_the_verify_step_does_not_repeat_it(world, rehearse):
    report = rehearse(overrides={"database.strategy": "dump-restore"})
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    postgres = report["verification"]["postgres"]
    assert postgres["match"] is True and postgres["verified_by"] == "copy task", postgres
    assert postgres["tables"] is None  # not counted again: the task's log has the figures


def _drop_the_copy_mid_stream(world, done: dict, deadline: float = 200) -> None:
    """Terminate the target's COPY of the big table once its rows are flowing (a dropped connection)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end and not done.get("stop"):
        out = world.target_pg.sql("postgres", (
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'app' "
            f"AND application_name = 'heroku2aws-pg-copy' AND query LIKE 'COPY %{BIG}% FROM STDIN%' "
            "AND state = 'active'"))
        if "t" in out.split():
            done["dropped"] = True
            return
        time.sleep(0.02)


def test_a_fault_mid_stream_rolls_back_and_the_target_is_emptied(world, rehearse):
    world.source_pg.sql("app", f"CREATE TABLE {BIG} (id bigint PRIMARY KEY, pad text NOT NULL); "
                               f"INSERT INTO {BIG} SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 1500000) g; "
                               f"ALTER TABLE {BIG} OWNER TO app")
    done: dict = {}
    watcher = threading.Thread(target=_drop_the_copy_mid_stream, args=(world, done), daemon=True)
    try:
        before = heroku_app(world)
        watcher.start()
        report = rehearse(overrides={"database.strategy": "dump-restore"})
    finally:
        done["stop"] = True
        watcher.join(timeout=10)
        world.source_pg.sql("postgres", "ALTER DATABASE app RESET default_transaction_read_only")
        world.source_pg.sql("app", f"DROP TABLE IF EXISTS {BIG}")
    assert done.get("dropped"), "the copy of the big table was never seen streaming"
    assert_rolled_back(world, report, before)
    assert "Dump and restore Postgres" in report["cause"] or "Dump and restore Postgres" in str(report.get("states"))
    # The rollback emptied the target: none of the app's tables (the big one included) is left.
    left = world.target_pg.sql("app", "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                      "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')")
    assert left.strip() == "0", left
