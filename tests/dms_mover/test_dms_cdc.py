"""full-load-and-cdc and cdc: changes made on the source keep arriving on the target, exactly once."""

from __future__ import annotations

import random
import threading
import time

import psycopg
import pytest

from heroku2aws_rehearsal.dms_mover import ReplicationRun


def wait_for(predicate, timeout: float = 20.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


SCHEMA = [
    """CREATE TABLE accounts (id serial PRIMARY KEY, balance int NOT NULL, note text, doc jsonb, data bytea,
        tags text[], updated_at timestamptz DEFAULT now())""",
    "CREATE TABLE ledger (at timestamptz DEFAULT now(), account int, amount numeric)",   # no primary key
    "CREATE TABLE pairs (a int, b text)",
    "ALTER TABLE pairs REPLICA IDENTITY FULL",
    "CREATE TABLE docs (body json, n int)",                 # json has no equality operator
    "ALTER TABLE docs REPLICA IDENTITY FULL",
    "CREATE TABLE big_notes (id int PRIMARY KEY, body text, n int)",
    "CREATE TABLE measurements (id int, city text, v float8, PRIMARY KEY (id, city)) PARTITION BY LIST (city)",
    "CREATE TABLE measurements_a PARTITION OF measurements FOR VALUES IN ('a')",
    "CREATE TABLE measurements_b PARTITION OF measurements FOR VALUES IN ('b')",
    "CREATE TABLE skipped (id int PRIMARY KEY)",
]
DATA = [
    """INSERT INTO accounts (balance, note, doc, data, tags)
        SELECT g, 'n' || g, jsonb_build_object('g', g), decode(md5(g::text), 'hex'), ARRAY['x', g::text]
        FROM generate_series(1, 60000) g""",
    "INSERT INTO ledger (account, amount) SELECT g, g * 1.5 FROM generate_series(1, 2000) g",
    "INSERT INTO pairs SELECT g % 10, 'p' || (g % 10) FROM generate_series(1, 50) g",
    """INSERT INTO docs SELECT json_build_object('n', g, 'list', json_build_array(g, 'x')), g
        FROM generate_series(1, 20) g""",
    # A value big enough to be TOASTed: an UPDATE that leaves it alone does not send it.
    "INSERT INTO big_notes SELECT g, (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 400) i), 0 "
    "FROM generate_series(1, 5) g",
    "INSERT INTO measurements SELECT g, CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END, g FROM generate_series(1, 100) g",
]
MAPPINGS = {"rules": [
    {"rule-type": "selection", "rule-id": "1", "rule-name": "1", "rule-action": "include",
     "object-locator": {"schema-name": "public", "table-name": "%"}},
    {"rule-type": "selection", "rule-id": "2", "rule-name": "2", "rule-action": "exclude",
     "object-locator": {"schema-name": "public", "table-name": "measurements_%"}},
    {"rule-type": "selection", "rule-id": "3", "rule-name": "3", "rule-action": "exclude",
     "object-locator": {"schema-name": "public", "table-name": "skipped"}},
]}


@pytest.fixture
def app_pair(pair):
    """The source and target as the app's own (non-superuser) roles, as the rehearsal connects."""
    for server in (pair.src_server, pair.tgt_server):
        exists = server.sql("postgres", "SELECT 1 FROM pg_roles WHERE rolname = 'app'").strip()
        if not exists:
            server.sql("postgres", "CREATE ROLE app LOGIN PASSWORD 'app-pw'")
        server.sql("postgres", f"ALTER DATABASE {pair.db} OWNER TO app")
    pair.src_server.sql("postgres", "ALTER ROLE app REPLICATION")
    pair.source_url = pair.src_server.url(pair.db, user="app", password="app-pw")
    pair.target_url = pair.tgt_server.url(pair.db, user="app", password="app-pw")
    return pair


def table_text(url: str, table: str, cols: str, order: str) -> list[str]:
    with psycopg.connect(url) as c:
        return [r[0] for r in c.execute(f"SELECT ROW({cols})::text FROM {table} ORDER BY {order}").fetchall()]


COMPARE = {
    "accounts": ("id, balance, note, doc, data, tags, updated_at", "id"),
    "ledger": ("at, account, amount", "account, amount, at"),
    "pairs": ("a, b", "a, b"),
    "docs": ("body::text, n", "n"),
    "big_notes": ("id, body, n", "id"),
    "measurements": ("id, city, v", "id, city"),
}


def assert_same(pair, tables=COMPARE) -> None:
    for table, (cols, order) in tables.items():
        src = table_text(pair.source_url, table, cols, order)
        tgt = table_text(pair.target_url, table, cols, order)
        assert len(src) == len(tgt), f"{table}: {len(src)} source rows, {len(tgt)} target rows"
        assert src == tgt, f"{table}: rows differ"


class Writer(threading.Thread):
    """The app keeps writing: inserts, updates, deletes in small transactions."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.halt, self.commits, self.error = url, threading.Event(), 0, None

    def run(self) -> None:
        rnd = random.Random(7)
        try:
            with psycopg.connect(self.url, autocommit=True) as c:
                while not self.halt.is_set():
                    with c.transaction():
                        c.execute("INSERT INTO accounts (balance, note, doc, tags) VALUES (%s, 'w', '{\"w\": 1}', "
                                  "ARRAY['w'])", (rnd.randint(1, 9),))
                        c.execute("UPDATE accounts SET balance = balance + 1, updated_at = now() WHERE id = %s",
                                  (rnd.randint(1, 60000),))
                        c.execute("DELETE FROM accounts WHERE id = %s", (rnd.randint(1, 60000),))
                        c.execute("INSERT INTO ledger (account, amount) VALUES (%s, 1)", (rnd.randint(1, 99),))
                    self.commits += 1
        except Exception as exc:  # noqa: BLE001
            self.error = exc


def test_full_load_and_cdc_loses_and_doubles_nothing(app_pair):
    pair = app_pair
    with psycopg.connect(pair.source_url, autocommit=True) as c:
        for s in SCHEMA + DATA:
            c.execute(s)
    writer = Writer(pair.source_url)
    writer.start()
    wait_for(lambda: writer.commits > 20, what="the writer to start")
    run = ReplicationRun(pair.source_url, pair.target_url, MAPPINGS, "full-load-and-cdc", "DROP_AND_CREATE", "cdc1")
    run.start()
    assert run.wait(timeout=30) == "running", run.last_failure_message
    commits_at_load_end = writer.commits
    time.sleep(0.3)
    writer.halt.set()
    writer.join()
    assert writer.error is None
    assert writer.commits > commits_at_load_end   # changes arrived both during and after the load

    stats = run.stats()
    assert stats["FullLoadProgressPercent"] == 100 and run.status == "running" and run.stop_reason is None
    assert stats["TablesLoaded"] == 6 and "FullLoadFinishDate" in stats and "StopDate" not in stats

    with psycopg.connect(pair.source_url, autocommit=True) as c:
        # The source app's own UPDATE / DELETE on a table without a primary key keep working ...
        c.execute("UPDATE ledger SET amount = amount WHERE false")
        # REPLICA IDENTITY FULL: duplicate rows, only one of each touched.
        c.execute("DELETE FROM pairs WHERE ctid = (SELECT ctid FROM pairs WHERE a = 3 LIMIT 1)")
        c.execute("UPDATE pairs SET b = 'changed' WHERE ctid = (SELECT ctid FROM pairs WHERE a = 4 LIMIT 1)")
        c.execute("UPDATE docs SET n = n + 100 WHERE n = 3")
        c.execute("DELETE FROM docs WHERE n = 4")
        # Unchanged TOASTed value, changed key, NULLs, partitions routed to the selected parent.
        c.execute("UPDATE big_notes SET n = n + 1")
        c.execute("UPDATE big_notes SET id = 100 WHERE id = 1")
        c.execute("UPDATE accounts SET note = NULL, doc = NULL, data = NULL, tags = NULL WHERE id <= 10")
        c.execute("INSERT INTO measurements VALUES (1000, 'a', 1.5), (1001, 'b', 2.5)")
        c.execute("UPDATE measurements SET v = -1 WHERE id = 2")
        c.execute("DELETE FROM measurements WHERE id = 3")
        c.execute("INSERT INTO skipped VALUES (1)")
        with c.transaction():
            c.execute("INSERT INTO accounts (balance) SELECT g FROM generate_series(1, 5000) g")
            c.execute("DELETE FROM accounts WHERE id BETWEEN 100 AND 199")

    assert run.cdc_caught_up(timeout=15), (run.status, run.last_failure_message)
    assert_same(pair)
    by_name = {t["TableName"]: t for t in run.table_statistics()}
    assert "skipped" not in by_name and "measurements_a" not in by_name
    acc = by_name["accounts"]
    assert acc["FullLoadRows"] >= 60000
    assert acc["Inserts"] >= 5000 and acc["Updates"] >= 10 and acc["Deletes"] >= 100
    assert acc["AppliedInserts"] == acc["Inserts"] and "LastUpdateTime" in acc
    assert by_name["measurements"]["Inserts"] == 2 and by_name["measurements"]["Deletes"] == 1
    assert all(t["TableState"] == "Table completed" for t in by_name.values())
    assert any("ledger" in w for w in run.warnings)

    # ... but, as with DMS, a table without a primary key gets its inserts only.
    with psycopg.connect(pair.source_url, autocommit=True) as c:
        c.execute("UPDATE ledger SET amount = 0 WHERE account = 1")
        c.execute("INSERT INTO ledger (account, amount) VALUES (-1, 0)")
    assert run.cdc_caught_up(timeout=15), (run.status, run.last_failure_message)
    with psycopg.connect(pair.target_url) as c:
        assert c.execute("SELECT count(*) FROM ledger WHERE account = -1").fetchone()[0] == 1
        assert c.execute("SELECT amount FROM ledger WHERE account = 1 ORDER BY at LIMIT 1").fetchone()[0] != 0

    run.stop()
    assert run.status == "stopped" and run.stop_reason == "Stop Reason NORMAL"
    assert "StopDate" in run.stats()
    run.stop()
    with psycopg.connect(pair.source_url) as c:
        assert c.execute("SELECT count(*) FROM pg_replication_slots").fetchone()[0] == 0
        assert c.execute("SELECT count(*) FROM pg_publication").fetchone()[0] == 0
    # Changes after stop() are no longer applied.
    with psycopg.connect(pair.source_url, autocommit=True) as c:
        c.execute("INSERT INTO accounts (balance) VALUES (-42)")
    time.sleep(0.3)
    with psycopg.connect(pair.target_url) as c:
        assert c.execute("SELECT count(*) FROM accounts WHERE balance = -42").fetchone()[0] == 0


def test_cdc_only_applies_changes_from_the_start(app_pair):
    pair = app_pair
    with psycopg.connect(pair.source_url, autocommit=True) as c:
        c.execute("CREATE TABLE items (id int PRIMARY KEY, name text, qty int)")
        c.execute("INSERT INTO items SELECT g, 'i' || g, g FROM generate_series(1, 100) g")
    with psycopg.connect(pair.target_url, autocommit=True) as c:
        c.execute("CREATE TABLE items (id int PRIMARY KEY, name text, qty int)")
        c.execute("INSERT INTO items SELECT g, 'i' || g, g FROM generate_series(1, 100) g")
    run = ReplicationRun(pair.source_url, pair.target_url, MAPPINGS, "cdc", task_id="only-cdc")
    run.start()
    wait_for(lambda: run.status == "running", what="the task to run")
    with psycopg.connect(pair.source_url, autocommit=True) as c:
        c.execute("INSERT INTO items VALUES (101, 'new', 1)")
        c.execute("UPDATE items SET qty = qty * 10 WHERE id <= 50")
        c.execute("DELETE FROM items WHERE id > 90 AND id <= 100")
    assert run.cdc_caught_up(timeout=15), (run.status, run.last_failure_message)
    assert table_text(pair.source_url, "items", "id, name, qty", "id") == \
        table_text(pair.target_url, "items", "id, name, qty", "id")
    assert run.stats()["FullLoadProgressPercent"] == 100
    items = next(t for t in run.table_statistics() if t["TableName"] == "items")
    assert (items["Inserts"], items["Updates"], items["Deletes"]) == (1, 50, 10)
    with psycopg.connect(pair.source_url, autocommit=True) as c:
        c.execute("TRUNCATE items")
    assert run.cdc_caught_up(timeout=15), (run.status, run.last_failure_message)
    with psycopg.connect(pair.target_url) as c:
        assert c.execute("SELECT count(*) FROM items").fetchone()[0] == 0
    run.stop()
    assert run.status == "stopped"


def test_cdc_needs_the_replication_attribute(app_pair):
    pair = app_pair
    pair.src_server.sql("postgres", "ALTER ROLE app NOREPLICATION")
    try:
        with psycopg.connect(pair.source_url, autocommit=True) as c:
            c.execute("CREATE TABLE items (id int PRIMARY KEY)")
        run = ReplicationRun(pair.source_url, pair.target_url, MAPPINGS, "full-load-and-cdc", "DROP_AND_CREATE")
        run.start()
        wait_for(lambda: run.status == "failed", what="the task to fail")
        assert "REPLICATION" in run.last_failure_message and "'app'" in run.last_failure_message
        assert not run.cdc_caught_up()
        with psycopg.connect(pair.source_url) as c:
            assert c.execute("SELECT count(*) FROM pg_publication").fetchone()[0] == 0
    finally:
        pair.src_server.sql("postgres", "ALTER ROLE app REPLICATION")


def test_a_failed_load_drops_the_slot(app_pair):
    pair = app_pair
    with psycopg.connect(pair.source_url, autocommit=True) as c:
        c.execute("CREATE TABLE items (id int PRIMARY KEY)")
    run = ReplicationRun(pair.source_url, pair.target_url, MAPPINGS, "full-load-and-cdc", "DO_NOTHING")
    run.start()
    wait_for(lambda: run.status == "failed", what="the task to fail")
    assert "public.items" in run.last_failure_message
    with psycopg.connect(pair.source_url) as c:
        assert c.execute("SELECT count(*) FROM pg_replication_slots").fetchone()[0] == 0
        assert c.execute("SELECT count(*) FROM pg_publication").fetchone()[0] == 0
