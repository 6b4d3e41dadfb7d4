"""Benchmark: the write freeze's Postgres part -- copy plus verification -- side by side, as ratios (issue 18).

One mixed source database (pgbench's tables with foreign keys at a scale that gives about ``BENCH_FREEZE_GB`` GB in
all, default 1.0; a wide table of ~1 KB jsonb + bytea rows with a ``char(n)`` column and two secondary indexes; 300
small tables of 5-100 rows), two PostgreSQL 15 clusters on this machine, each method into a fresh target database,
in one run:

  - **project**: ``python -m heroku2aws.tasks.pg_copy --jobs 2`` -- the streaming copy with every table verified
    (complete, per-type checksums) as it lands, and the rest at the end: the whole of the freeze's Postgres part;
  - **pgcopydb**: ``pgcopydb clone --table-jobs 2 --index-jobs 2`` alone (Debian's package; no verification);
  - **floor**: every table streamed ``COPY TO`` -> ``COPY FROM``, 2 at a time, largest first, into tables created
    beforehand (not timed): no index, no constraint, no check -- what the hardware allows (a psql pair per table,
    tables under 8 MB through two kept connections instead: 300 process starts are not the hardware's cost);
  - **before**: the previous path, ``python -m heroku2aws.tasks.pg_dump_restore --jobs 2`` then ``verify()`` (what
    the "Verify the copy" Lambda ran).

Each project copy is checked afterwards with ``verify()`` (not timed), so a fast wrong copy cannot pass. Printed:
seconds per method and ratios to ``pgcopydb clone``; target: project <= 1.0x. ``BENCH_FREEZE_GB=0.2`` for a quick
run; ``BENCH_FREEZE_ROUNDS`` (default 1) repeats each method and keeps the best; ``BENCH_FREEZE_SMALL_TABLES``
(default 300) sets the number of small tables (0: pgcopydb's best case, the issue's database). ``make bench`` installs pgcopydb
from Debian's packages when it is missing.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg

SMALL_TABLES = int(os.environ.get("BENCH_FREEZE_SMALL_TABLES", "300"))


def _seed_sql(gb: float, scale: int) -> tuple[int, str]:
    wide_rows = max(1000, int(320_000 * gb))
    small = "\n".join(
        f"CREATE TABLE small_{i} (id int PRIMARY KEY, name text NOT NULL, at timestamptz DEFAULT '2024-01-01', "
        f"amount numeric(12, 2)); INSERT INTO small_{i} (id, name, amount) SELECT g, 'n' || g, g * 1.25 "
        f"FROM generate_series(1, {5 + (i * 37) % 96}) g;" for i in range(SMALL_TABLES))
    return wide_rows, f"""
CREATE TABLE documents (id bigint PRIMARY KEY, aid int NOT NULL REFERENCES pgbench_accounts, code char(16) NOT NULL,
                        title varchar(80), doc jsonb NOT NULL, blob bytea, created timestamptz NOT NULL);
INSERT INTO documents
SELECT g, 1 + (g::bigint * 7919) % {scale * 100000}, 'D' || lpad(g::text, 9, '0'),
       'title ' || md5(g::text),
       jsonb_build_object('id', g, 'tags', jsonb_build_array('a' || g % 10, 'b' || g % 7), 'body', repeat(md5(g::text), 8),
                          'price', (g % 10000) / 100.0, 'nested', jsonb_build_object('ok', g % 2 = 0, 'n', g)),
       decode(repeat(md5((g * 3)::text), 8), 'hex'), '2024-01-01'::timestamptz + g * interval '1 minute'
  FROM generate_series(1, {wide_rows}) g;
CREATE INDEX documents_created ON documents (created);
CREATE UNIQUE INDEX documents_code ON documents (code);
{small}
CREATE SEQUENCE order_numbers START 1000;
SELECT setval('order_numbers', 123456);
"""


def _run(cmd: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> float:
    return _run_out(cmd, env, cwd)[0]


def _run_out(cmd: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> tuple[float, str]:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=cwd)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed ({r.returncode}): {(r.stderr or r.stdout)[-2000:]}")
    return time.perf_counter() - t0, r.stdout


def _phases(stdout: str) -> str:
    """The project's own phases, from the task's last log line (``pg_copy succeeded``)."""
    for line in reversed(stdout.splitlines()):
        if '"pg_copy succeeded"' in line:
            t = json.loads(line).get("timings", {})
            return (f"schema {t.get('pre_data', 0):.1f}s, then all rows in at {t.get('stream', 0):.1f}s and the last "
                    f"index at {t.get('indexed', 0):.1f}s, post-data {t.get('post_data', 0):.1f}s, the rest verified "
                    f"{t.get('final_verify', 0):.1f}s")
    return ""


def _fresh(server, db: str) -> None:
    server.sql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    server.sql("postgres", f"CREATE DATABASE {db}")


def _floor(src, tgt, db: str) -> float:
    """COPY TO -> COPY FROM for every table, 2 at a time, largest first (psql pairs through a shell pipe)."""
    with psycopg.connect(src.url(db), autocommit=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND n.nspname = 'public' ORDER BY pg_relation_size(c.oid) DESC")]
    env = dict(os.environ, SRC_PW=src.password, TGT_PW=tgt.password)
    s = f"-h 127.0.0.1 -p {src.port} -U {src.superuser} -d {db}"
    t = f"-h 127.0.0.1 -p {tgt.port} -U {tgt.superuser} -d {db}"

    small = set()
    with psycopg.connect(src.url(db), autocommit=True) as conn:
        small = {r[0] for r in conn.execute(
            "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND n.nspname = 'public' AND pg_relation_size(c.oid) < 8 * 1024 * 1024")}
    local = threading.local()

    def one(table: str) -> None:
        if table in small:  # no process start per tiny table: kept connections, one per worker and side
            if not hasattr(local, "conns"):
                local.conns = (psycopg.connect(src.url(db), autocommit=True),
                               psycopg.connect(tgt.url(db), autocommit=True))
            a, b = local.conns
            with a.cursor().copy(f"COPY {table} TO STDOUT") as cout, b.cursor().copy(f"COPY {table} FROM STDIN") as cin:
                for data in cout:
                    cin.write(data)
            return
        cmd = (f'PGPASSWORD="$SRC_PW" psql -X -q {s} -c "COPY {table} TO STDOUT" | '
               f'PGPASSWORD="$TGT_PW" psql -X -q -v ON_ERROR_STOP=1 {t} -c "COPY {table} FROM STDIN"')
        r = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"floor copy of {table} failed: {r.stderr[-500:]}")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(one, tables))
    return time.perf_counter() - t0


def _ensure_pgcopydb() -> str | None:
    path = shutil.which("pgcopydb")
    if path:
        return path
    print("pg_freeze: installing pgcopydb from Debian's packages", flush=True)
    for prefix in ([], ["sudo"]):
        r = subprocess.run([*prefix, "apt-get", "install", "-y", "-qq", "pgcopydb"], capture_output=True, text=True,
                           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        if r.returncode == 0:
            return shutil.which("pgcopydb")
    return None


def main() -> int:
    from heroku2aws.postgres.common import StructuredLog
    from heroku2aws.postgres.verify import verify
    from heroku2aws.tasks.pg_dump_restore import copy_database
    from heroku2aws_rehearsal.servers import PostgresServer

    StructuredLog.enabled = False
    for name in ("heroku2aws", *[n for n in logging.root.manager.loggerDict if n.startswith("heroku2aws.")]):
        logging.getLogger(name).setLevel(logging.WARNING)
    gb = float(os.environ.get("BENCH_FREEZE_GB", "1.0"))
    rounds = int(os.environ.get("BENCH_FREEZE_ROUNDS", "1"))
    pgcopydb = _ensure_pgcopydb()
    if pgcopydb is None:
        print("pg_freeze: pgcopydb is not installed and could not be (apt-get install pgcopydb)", flush=True)
        return 1
    scale = max(1, round(48 * gb))
    wide_rows, seed = _seed_sql(gb, scale)
    with PostgresServer(name="bench-fz-src").start() as src, PostgresServer(name="bench-fz-tgt").start() as tgt:
        src.sql("postgres", "CREATE DATABASE app")
        t0 = time.perf_counter()
        _run(["pgbench", "-i", "-q", "-s", str(scale), "--foreign-keys", "-I", "dtGvpf", "-h", "127.0.0.1",
              "-p", str(src.port), "-U", src.superuser, "app"], dict(os.environ, PGPASSWORD=src.password))
        with psycopg.connect(src.url("app"), autocommit=True) as conn:
            conn.execute(seed.encode())
            conn.execute("VACUUM (ANALYZE)")
            size = conn.execute("SELECT pg_database_size('app')").fetchone()[0]
        print(f"pg_freeze: source: pgbench scale {scale} with foreign keys, documents {wide_rows:,} rows "
              f"(~1 KB jsonb + bytea, char(16), 2 indexes), {SMALL_TABLES} small tables: "
              f"{size / 1e9:.2f} GB on disk (seeded in {time.perf_counter() - t0:.0f}s)", flush=True)
        env = dict(os.environ, SOURCE_DATABASE_URL=src.url("app"), TARGET_DATABASE_URL=tgt.url("app"))
        times: dict[str, list[float]] = {"project": [], "pgcopydb": [], "floor": [], "before": []}
        detail: dict[str, str] = {}
        for _ in range(rounds):
            _fresh(tgt, "app")
            took, out = _run_out([sys.executable, "-m", "heroku2aws.tasks.pg_copy", "--jobs", "2"], env)
            times["project"].append(took)
            if took == min(times["project"]):
                detail["project"] = _phases(out)
            check = verify(src.url("app"), tgt.url("app"), exact_sequences=True)
            if not check.match:
                print(f"pg_freeze: the project's copy does not verify: {check.differences}", flush=True)
                return 1

            _fresh(tgt, "app")
            with tempfile.TemporaryDirectory(prefix="bench-pgcopydb-") as work:
                penv = dict(os.environ, PGCOPYDB_SOURCE_PGURI=src.url("app"), PGCOPYDB_TARGET_PGURI=tgt.url("app"))
                times["pgcopydb"].append(_run([pgcopydb, "clone", "--table-jobs", "2", "--index-jobs", "2",
                                               "--no-owner", "--no-acl", "--dir", work], penv))

            _fresh(tgt, "app")
            copy_database(src.url("app"), tgt.url("app"), jobs=2, sections=["pre-data"])
            times["floor"].append(_floor(src, tgt, "app"))

            _fresh(tgt, "app")
            copy_s = _run([sys.executable, "-m", "heroku2aws.tasks.pg_dump_restore", "--jobs", "2"], env)
            t1 = time.perf_counter()
            before = verify(src.url("app"), tgt.url("app"), sequences=False)
            verify_s = time.perf_counter() - t1
            times["before"].append(copy_s + verify_s)
            detail["before"] = f"pg_dump_restore {copy_s:.1f}s + verify {verify_s:.1f}s"
            if not before.match:
                print(f"pg_freeze: the previous path does not verify: {before.differences}", flush=True)
        best = {k: min(v) for k, v in times.items()}
        ref = best["pgcopydb"]
        labels = {"project": "project: pg_copy (streamed copy + complete verification)",
                  "pgcopydb": "pgcopydb clone --table-jobs 2 --index-jobs 2 (copy alone)",
                  "floor": "floor: COPY TO -> COPY FROM, 2 at a time (data alone)",
                  "before": "before: pg_dump_restore -j2 + verify in the Lambda"}
        for key in ("project", "pgcopydb", "floor", "before"):
            extra = f"  ({detail[key]})" if key in detail else ""
            print(f"pg_freeze: {labels[key]:64} {best[key]:7.1f}s  {best[key] / ref:5.2f}x pgcopydb{extra}",
                  flush=True)
        ok = best["project"] <= ref
        print(f"pg_freeze: project / pgcopydb = {best['project'] / ref:.2f} (target <= 1.00: "
              f"{'met' if ok else 'NOT met'}); project / floor = {best['project'] / best['floor']:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
