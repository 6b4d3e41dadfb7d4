"""Benchmark: the cost of complete verification on data not shaped for it, as ratios.

Three databases, each copied source -> target with ``python -m heroku2aws.tasks.pg_dump_restore -j 2`` (the
copy itself, timed), then timed, best of ``ROUNDS``, after one warm-up:

  - ``verify()`` (every table, every row, every column, large objects, database settings; both servers at once);
  - ``pg_dump --data-only`` of the source to /dev/null (what reading the data once costs).

The databases:

  - *wide*: one table of 40 columns of odd types (char(n), xml with declarations, numeric with NaN and
    +-Infinity, money, inet/cidr/macaddr, interval, tsvector, ranges, enum, domain, bit varying, point, json,
    jsonb, arrays of several kinds, bytea, float NaN/Infinity, timetz, uuid, a dotted column name) and a
    materialized view over it, plus large objects;
  - *huge*: one narrow table of many rows (``BENCH_PG_HUGE_ROWS``, default 2,000,000);
  - *tiny*: many tables of a few rows each (``BENCH_PG_TINY_TABLES``, default 1,000).

Printed per database: verify / copy and verify / dump (the cost complete verification adds to the write freeze,
against the copy it checks and against one read of the data). ``BENCH_PG_WIDE_ROWS`` scales *wide* (default
200,000).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time

import psycopg

ROUNDS = 3


def _wide_sql(rows: int) -> str:
    return f"""
CREATE EXTENSION IF NOT EXISTS hstore;
CREATE TYPE mood AS ENUM ('ok', 'meh', 'bad');
CREATE DOMAIN positive AS int CHECK (VALUE > 0);
CREATE TABLE wide (
  id bigint PRIMARY KEY, code char(8), label varchar(40), body text, doc xml, amount numeric, price numeric(12, 3),
  cash money, ip inet, net cidr, mac macaddr, span interval, words tsvector, period tstzrange, ints int4range,
  feeling mood, qty positive, bits varbit, spot point, raw json, attrs jsonb, tags text[], nums int[],
  stamps timestamptz[], blob bytea, f4 real, f8 double precision, clock timetz, day date, at timestamp,
  uid uuid, flag boolean, small smallint, kv hstore, "dotted.name" text, grid int[][], ch "char",
  big bigint, ratio numeric(5, 4), note text
);
INSERT INTO wide SELECT g, 'c' || (g % 1000), 'label ' || g, repeat(md5(g::text), 1 + g % 8),
  ('<?xml version="1.0"?><r n="' || g || '"><v>' || g % 97 || '</v></r>')::xml,
  (ARRAY['NaN', 'Infinity', '-Infinity', '1.50', (g / 7.0)::text])[1 + g % 5]::numeric, (g % 100000) / 1000.0,
  (g % 10000)::numeric::money, ('10.' || (g % 250) || '.' || (g % 200) || '.1')::inet, '10.0.0.0/8',
  ('08:00:2b:01:02:' || lpad(to_hex(g % 256), 2, '0'))::macaddr, g * interval '1 minute',
  to_tsvector('simple', 'word' || g % 50 || ' other' || g % 7),
  tstzrange('2024-01-01'::timestamptz + g * interval '1 hour', NULL), int4range(g % 100, g % 100 + 10),
  (ARRAY['ok', 'meh', 'bad'])[1 + g % 3]::mood, 1 + g % 50, (g % 1024)::bit(10)::varbit, point(g % 90, g % 180),
  json_build_object('g', g, 'x', ARRAY[g, g + 1]), jsonb_build_object('g', g, 'n', (g % 3 = 0)),
  ARRAY['t' || g % 10, NULL, 'with,comma'], ARRAY[g, g % 7], ARRAY['2024-01-01 00:00+00'::timestamptz + g * interval '1s'],
  decode(md5(g::text), 'hex'), (ARRAY['NaN', 'Infinity', '-Infinity', '0.5'])[1 + g % 4]::real, g / 3.0,
  ('12:00:00+0' || g % 9)::timetz, date '2000-01-01' + g % 9000, timestamp '2020-01-01' + g * interval '1s',
  md5('u' || g)::uuid, g % 2 = 0, (g % 30000)::smallint, hstore('k' || g % 5, g::text), 'dot ' || g,
  ARRAY[[g, 1], [2, g]], chr(65 + g % 26)::"char", g::bigint * 1000003, (g % 10000) / 10000.0,
  CASE WHEN g % 5 = 0 THEN NULL ELSE 'note' END
FROM generate_series(1, {rows}) g;
CREATE MATERIALIZED VIEW wide_summary AS SELECT feeling, count(*) AS n, sum(big) AS s FROM wide GROUP BY 1;
SELECT lo_from_bytea(0, decode(repeat(md5(g::text), 200), 'hex')) FROM generate_series(1, 50) g;
ALTER DATABASE {{db}} SET timezone = 'America/New_York';
"""


def _huge_sql(rows: int) -> str:
    return f"""CREATE TABLE events (id bigint PRIMARY KEY, at timestamptz NOT NULL, kind smallint, v double precision);
INSERT INTO events SELECT g, '2024-01-01'::timestamptz + g * interval '1 second', g % 20, g / 11.0
  FROM generate_series(1, {rows}) g;"""


def _tiny_sql(tables: int) -> str:
    return "\n".join(
        f"CREATE TABLE t{i} (id int PRIMARY KEY, name text, at timestamptz DEFAULT '2024-01-01'); "
        f"INSERT INTO t{i} (id, name) SELECT g, 'n' || g FROM generate_series(1, {1 + i % 5}) g;"
        for i in range(tables))


def _run(cmd: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({r.returncode}): {r.stderr[-2000:]}")
    return time.perf_counter() - t0


def main() -> int:
    from heroku2aws.postgres.common import StructuredLog
    from heroku2aws.postgres.verify import verify
    from heroku2aws_rehearsal.servers import PostgresServer

    StructuredLog.enabled = False
    for name in ("heroku2aws", *[n for n in logging.root.manager.loggerDict if n.startswith("heroku2aws.")]):
        logging.getLogger(name).setLevel(logging.WARNING)
    wide = int(os.environ.get("BENCH_PG_WIDE_ROWS", "200000"))
    huge = int(os.environ.get("BENCH_PG_HUGE_ROWS", "2000000"))
    tiny = int(os.environ.get("BENCH_PG_TINY_TABLES", "1000"))
    datasets = {
        "wide": (_wide_sql(wide), f"1 table x 40 odd-typed columns, {wide:,} rows, a matview, 50 large objects"),
        "huge": (_huge_sql(huge), f"1 narrow table, {huge:,} rows"),
        "tiny": (_tiny_sql(tiny), f"{tiny:,} tables of 1-5 rows"),
    }
    failed = 0
    with PostgresServer(name="bench-mx-src").start() as src, PostgresServer(name="bench-mx-tgt").start() as tgt:
        for db, (seed, what) in datasets.items():
            src.sql("postgres", f"CREATE DATABASE {db}")
            tgt.sql("postgres", f"CREATE DATABASE {db}")
            with psycopg.connect(src.url(db), autocommit=True) as conn:  # psql -c: too long for argv (tiny)
                conn.execute(seed.replace("{db}", db).encode())
            src.sql(db, "VACUUM (ANALYZE)")
            env = dict(os.environ, SOURCE_DATABASE_URL=src.url(db), TARGET_DATABASE_URL=tgt.url(db))
            copy_s = _run([sys.executable, "-m", "heroku2aws.tasks.pg_dump_restore", "--jobs", "2"], env)
            tgt.sql(db, "VACUUM (ANALYZE)")
            dump_cmd = ["pg_dump", "--data-only", "--no-password", "-f", "/dev/null", "-h", "127.0.0.1",
                        "-p", str(src.port), "-U", src.superuser, "-d", db]
            dump_env = dict(os.environ, PGPASSWORD=src.password)
            warm = verify(src.url(db), tgt.url(db))
            if not warm.match:
                print(f"pg_verify_mixed: {db}: the copy does not verify: {warm.differences}", flush=True)
                failed += 1
                continue
            _run(dump_cmd, dump_env)
            v_times, d_times = [], []
            for _ in range(ROUNDS):
                t0 = time.perf_counter()
                verify(src.url(db), tgt.url(db))
                v_times.append(time.perf_counter() - t0)
                d_times.append(_run(dump_cmd, dump_env))
            v, d = min(v_times), min(d_times)
            print(f"pg_verify_mixed: {db:5} ({what}): copy {copy_s:.2f}s, pg_dump --data-only {d:.2f}s, "
                  f"verify {v:.2f}s -> verify/copy {v / copy_s:.2f}, verify/dump {v / d:.2f}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
