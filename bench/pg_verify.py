"""Benchmark: ``pg-verify`` of two identical databases against one ``pg_dump --data-only``.

Two throw-away PostgreSQL clusters ("source" and "target", as in a migration). The source gets a
database of about 2.5 million rows in several tables of mixed types (bigint / uuid keys, text,
numeric, timestamptz, jsonb, enum, arrays, bytea, float, a partitioned table, a table without a
primary key), seeded with generate_series; it is copied to the target with
``python -m heroku2aws.tasks.pg_dump_restore`` (pg_dump -Fd -j 2 | pg_restore -j 2), both sides are
VACUUM ANALYZEd, then, after one warm-up of each, alternately:

  - ``heroku2aws pg-verify`` of source against target (in-process ``verify()``: both servers
    checksum at once, one connection each), and
  - ``pg_dump --data-only`` of the source to /dev/null;

and prints the best time of each and the ratio verify / dump (target: <= 1.0); then once the
``heroku2aws pg-verify`` command line as a new process (Python start-up and imports included).
The machine's load matters (2 cores): the best of the rounds is the figure.

Run: ``python -m bench`` (all benchmarks) or ``.venv/bin/python -c "import bench.pg_verify as b; b.main()"``.
``BENCH_PG_ROWS`` scales the row count (default 2,500,000).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time

ROUNDS = 3


def _seed_sql(scale: float) -> str:
    def n(x: int) -> int:
        return max(1, int(x * scale))

    return f"""
CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped', 'cancelled', 'refunded');
CREATE DOMAIN money_amount AS numeric(12,2) CHECK (VALUE >= 0);

CREATE TABLE users (
  id bigserial PRIMARY KEY, email text NOT NULL, name varchar(120), created_at timestamptz NOT NULL,
  active boolean NOT NULL, balance money_amount, profile jsonb
);
INSERT INTO users (email, name, created_at, active, balance, profile)
SELECT 'user' || g || '@example.com', 'User Number ' || g,
       timestamptz '2015-01-01 00:00:00+00' + g * interval '97 seconds', g % 7 <> 0,
       (g % 100000) / 100.0,
       jsonb_build_object('plan', (ARRAY['free','pro','team'])[1 + g % 3], 'logins', g % 1000,
                          'tags', jsonb_build_array('a' || (g % 10), 'b' || (g % 13)))
  FROM generate_series(1, {n(600_000)}) g;

CREATE TABLE orders (
  id bigint PRIMARY KEY, user_id bigint NOT NULL, status order_status NOT NULL, amount numeric(10,2) NOT NULL,
  placed_at timestamptz NOT NULL, item_ids integer[], note text
);
INSERT INTO orders
SELECT g, 1 + g % {n(600_000)}, (ARRAY['new','paid','shipped','cancelled','refunded'])[1 + g % 5]::order_status,
       ((g::bigint * 7919) % 1000000) / 100.0, timestamptz '2018-01-01 00:00:00+00' + g * interval '13 seconds',
       ARRAY[g % 1000, g % 777, g % 555], CASE WHEN g % 4 = 0 THEN NULL ELSE 'deliver to door ' || g END
  FROM generate_series(1, {n(1_000_000)}) g;

CREATE TABLE events (
  id uuid PRIMARY KEY, kind text NOT NULL, at timestamptz NOT NULL, score double precision, payload jsonb,
  digest bytea
);
INSERT INTO events
SELECT md5('event' || g)::uuid, (ARRAY['click','view','signup','purchase'])[1 + g % 4],
       timestamptz '2020-01-01 00:00:00+00' + g * interval '1 second', g / 7.0,
       jsonb_build_object('n', g, 'ok', g % 2 = 0), decode(md5(g::text), 'hex')
  FROM generate_series(1, {n(400_000)}) g;

CREATE TABLE measurements (
  device_id int NOT NULL, taken_at timestamptz NOT NULL, value real, PRIMARY KEY (device_id, taken_at)
) PARTITION BY RANGE (taken_at);
CREATE TABLE measurements_2023 PARTITION OF measurements
  FOR VALUES FROM ('2023-01-01 00:00:00+00') TO ('2024-01-01 00:00:00+00');
CREATE TABLE measurements_2024 PARTITION OF measurements
  FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2025-01-01 00:00:00+00');
INSERT INTO measurements
SELECT g % 100, timestamptz '2023-01-01 00:00:00+00' + g * interval '90 seconds', (g % 1000) / 10.0
  FROM generate_series(1, {n(300_000)}) g;

CREATE TABLE audit_log (at timestamptz, actor text, action text);  -- no primary key
INSERT INTO audit_log
SELECT timestamptz '2021-01-01 00:00:00+00' + (g / 3) * interval '1 minute', 'user' || (g % 500), 'login'
  FROM generate_series(1, {n(200_000)}) g;
"""


def _run(cmd: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({r.returncode}): {r.stderr[-2000:]}")
    return time.perf_counter() - t0


def main() -> None:
    from heroku2aws.postgres.common import StructuredLog
    from heroku2aws.postgres.verify import verify
    from heroku2aws_rehearsal.servers import PostgresServer

    StructuredLog.enabled = False  # figures, not log lines
    for name in ("heroku2aws", *[n for n in logging.root.manager.loggerDict if n.startswith("heroku2aws.")]):
        logging.getLogger(name).setLevel(logging.WARNING)

    rows_wanted = int(os.environ.get("BENCH_PG_ROWS", "2500000"))
    scale = rows_wanted / 2_500_000
    print(f"pg_verify: starting two PostgreSQL clusters, seeding ~{rows_wanted:,} rows", flush=True)
    with PostgresServer(name="bench-src").start() as src, PostgresServer(name="bench-tgt").start() as tgt:
        src.sql("postgres", "CREATE DATABASE app")
        tgt.sql("postgres", "CREATE DATABASE app")
        t0 = time.perf_counter()
        src.sql("app", _seed_sql(scale))
        seed_s = time.perf_counter() - t0

        env = dict(os.environ, SOURCE_DATABASE_URL=src.url("app"), TARGET_DATABASE_URL=tgt.url("app"))
        copy_s = _run([sys.executable, "-m", "heroku2aws.tasks.pg_dump_restore", "--jobs", "2"], env)
        for s in (src, tgt):
            s.sql("app", "VACUUM (ANALYZE)")
        rows = int(src.sql("app", "SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM orders) + "
                                  "(SELECT count(*) FROM events) + (SELECT count(*) FROM measurements) + "
                                  "(SELECT count(*) FROM audit_log)").strip())
        size = src.sql("app", "SELECT pg_size_pretty(pg_database_size('app'))").strip()
        print(f"pg_verify: {rows:,} rows in 6 tables ({size}); seeded in {seed_s:.1f}s, "
              f"copied by pg_dump_restore (-j 2) in {copy_s:.1f}s", flush=True)

        dump_cmd = ["pg_dump", "--data-only", "--no-password", "-f", "/dev/null",
                    "-h", "127.0.0.1", "-p", str(src.port), "-U", src.superuser, "-d", "app"]
        dump_env = dict(os.environ, PGPASSWORD=src.password)
        cli_cmd = [sys.executable, "-m", "heroku2aws.postgres.verify_cli", "--json", "--quiet"]
        cli_env = dict(os.environ)
        # Warm-up: both databases read once into the page cache, both ways.
        warm = verify(src.url("app"), tgt.url("app"))
        if not warm.match:
            raise SystemExit(f"pg_verify: identical copies did not match: "
                             f"{[t.name for t in warm.tables if not t.match]}")
        _run(dump_cmd, dump_env)

        verify_times, dump_times, cli_times = [], [], []
        for _ in range(ROUNDS):
            t0 = time.perf_counter()
            result = verify(src.url("app"), tgt.url("app"))
            verify_times.append(time.perf_counter() - t0)
            assert result.match and result.rows == rows, (result.match, result.rows, rows)
            dump_times.append(_run(dump_cmd, dump_env))
            # The command line as a user runs it: Python start-up and imports included. The URLs go
            # in argv here (a throw-away local server); the ECS task takes them from the environment.
            cli_times.append(_run([*cli_cmd, src.url("app"), tgt.url("app")], cli_env))

    v, d = min(verify_times), min(dump_times)
    print(f"pg_verify: rows checked           {rows:,} (each side)")
    print(f"pg_verify: pg-verify, both sides  {v:.2f}s  (rounds: {', '.join(f'{x:.2f}' for x in verify_times)})")
    print(f"pg_verify: pg_dump --data-only    {d:.2f}s  (rounds: {', '.join(f'{x:.2f}' for x in dump_times)})")
    print(f"pg_verify: ratio verify/dump      {v / d:.2f}  (target <= 1.0; "
          f"{rows / v / 1e6:.2f} M rows/s per side)")
    c = min(cli_times)
    print(f"pg_verify: pg-verify command line {c:.2f}s  (rounds: {', '.join(f'{x:.2f}' for x in cli_times)}; "
          f"a new Python process, start-up included; ratio {c / d:.2f})", flush=True)


if __name__ == "__main__":
    main()
