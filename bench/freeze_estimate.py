"""Benchmark: the write-freeze estimate against a measured run (issue 18, 5), and the rates behind it measured afresh.

``heroku2aws.freeze_estimate`` estimates the freeze from the sizes preflight measures (table bytes, index bytes, the
largest table, Redis keys and used memory) divided by rates measured here (``MEASURED``). This benchmark:

1. seeds a mixed source -- pgbench's tables with foreign keys (scale ``BENCH_ESTIMATE_SCALE``, default 20, ~0.3 GB)
   and a table of ~1 KB jsonb + bytea rows with two secondary indexes -- and a mixed Redis (``BENCH_ESTIMATE_KEYS``
   small keys, default 200,000, plus large values: strings of 8 MB and a 300,000-field hash), two PostgreSQL 15
   clusters and two redis-servers on this machine;
2. measures each rate **alone**, in the units preflight measures sizes in:

   - COPY streaming, one stream: the largest table ``COPY TO STDOUT`` piped into ``COPY FROM STDIN`` (two psql
     processes, as ``heroku2aws.tasks.pg_copy`` does), into a table without indexes: its ``pg_table_size`` / seconds;
   - index build, one job: that table's indexes built on the target one after the other: the source's
     ``pg_indexes_size`` / seconds;
   - verification: ``heroku2aws.postgres.verify.verify`` of the complete copy: the database's table bytes / seconds;
   - the schema (pre-data) and the post-data step (foreign keys validated, ...): from the project copy's own timings
     (table bytes / post-data seconds);
   - Redis copy and verification: large values alone (used memory / seconds), then small keys (keys / the seconds
     left once their bytes are paid at the large values' rate);

3. runs the project's own freeze work end to end -- ``heroku2aws.tasks.pg_copy`` (streamed copy, indexes and
   verification, ``--jobs 2``) and ``heroku2aws.redis.copy.copy_and_verify`` -- and prints the estimate's Postgres
   and Redis parts next to the measured ones, as ratios, with the built-in rates and with the rates just measured.

The fixed components (freeze entry, Fargate task start, redeploy) are assumptions nothing here can measure; they are
left out of the comparison and printed as such. Run: ``python -m bench freeze_estimate``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from dataclasses import asdict, replace

import psycopg

MB = 1024 * 1024


def _seed_sql(docs: int) -> str:
    return f"""
CREATE TABLE documents (id bigint PRIMARY KEY, code char(16) NOT NULL, doc jsonb NOT NULL, blob bytea,
                        created timestamptz NOT NULL);
INSERT INTO documents
SELECT g, 'D' || lpad(g::text, 9, '0'),
       jsonb_build_object('id', g, 'tags', jsonb_build_array('a' || g % 10, 'b' || g % 7), 'body', repeat(md5(g::text), 8)),
       decode(repeat(md5((g * 3)::text), 8), 'hex'), '2024-01-01'::timestamptz + g * interval '1 minute'
  FROM generate_series(1, {docs}) g;
CREATE INDEX documents_created ON documents (created);
CREATE UNIQUE INDEX documents_code ON documents (code);
"""


def _pipe(src, tgt, db: str, table: str) -> float:
    env = dict(os.environ, SRC_PW=src.password, TGT_PW=tgt.password)
    s = f"-h 127.0.0.1 -p {src.port} -U {src.superuser} -d {db}"
    t = f"-h 127.0.0.1 -p {tgt.port} -U {tgt.superuser} -d {db}"
    cmd = (f'PGPASSWORD="$SRC_PW" psql -X -q {s} -c "COPY {table} TO STDOUT (FORMAT binary)" | '
           f'PGPASSWORD="$TGT_PW" psql -X -q -v ON_ERROR_STOP=1 {t} -c "COPY {table} FROM STDIN (FORMAT binary)"')
    t0 = time.perf_counter()
    r = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"copy of {table} failed: {r.stderr[-500:]}")
    return time.perf_counter() - t0


def _fresh(server, db: str) -> None:
    server.sql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    server.sql("postgres", f"CREATE DATABASE {db}")


def _used_memory(conn) -> int:
    info = conn.call("INFO", "memory").decode()
    return int(next(line.split(":")[1] for line in info.splitlines() if line.startswith("used_memory:")))


def _redis_round(source, target, opts) -> tuple[float, float]:
    """(copy seconds, verification seconds) of the project's Redis copy, target emptied first."""
    from heroku2aws.redis.copy import copy_and_verify
    from heroku2aws.redis.resp import Conn
    from heroku2aws.redis.urls import parse_endpoint

    conn = Conn(parse_endpoint(target.url()))
    conn.call("FLUSHALL")
    conn.close()
    result = copy_and_verify(parse_endpoint(source.url()), parse_endpoint(target.url()), opts)
    if not result.ok:
        raise RuntimeError(f"the Redis copy does not verify: {result.verify.describe() if result.verify else ''}")
    return result.stats.seconds, result.verify.seconds if result.verify else 0.0


def main() -> int:
    from heroku2aws import freeze_estimate as fe
    from heroku2aws.postgres.analysis import analyze
    from heroku2aws.postgres.common import StructuredLog
    from heroku2aws.postgres.verify import verify
    from heroku2aws.redis.options import CopyOptions
    from heroku2aws.redis.resp import Conn, encode
    from heroku2aws.redis.urls import parse_endpoint
    from heroku2aws.steps.preflight import sizes_of
    from heroku2aws.tasks.pg_copy import copy_and_verify
    from heroku2aws.tasks.pg_dump_restore import copy_database
    from heroku2aws_rehearsal.servers import PostgresServer, RedisServer

    StructuredLog.enabled = False
    for name in ("heroku2aws", *[n for n in logging.root.manager.loggerDict if n.startswith("heroku2aws")]):
        logging.getLogger(name).setLevel(logging.WARNING)
    scale = int(os.environ.get("BENCH_ESTIMATE_SCALE", "20"))
    n_keys = int(os.environ.get("BENCH_ESTIMATE_KEYS", "200000"))
    jobs = 2
    say = lambda text: print(f"freeze_estimate: {text}", flush=True)  # noqa: E731
    with (PostgresServer(name="bench-est-src").start() as src, PostgresServer(name="bench-est-tgt").start() as tgt,
          RedisServer(name="bench-est-rsrc").start() as rsrc, RedisServer(name="bench-est-rtgt").start() as rtgt):
        src.sql("postgres", "CREATE DATABASE app")
        r = subprocess.run(["pgbench", "-i", "-q", "-s", str(scale), "--foreign-keys", "-h", "127.0.0.1", "-p",
                            str(src.port), "-U", src.superuser, "app"], env=dict(os.environ, PGPASSWORD=src.password),
                           capture_output=True, text=True)
        if r.returncode != 0:
            say(f"pgbench -i failed: {r.stderr[-500:]}")
            return 1
        with psycopg.connect(src.url("app"), autocommit=True) as conn:
            conn.execute(_seed_sql(scale * 5000).encode())
            conn.execute("VACUUM (ANALYZE)")
        analysis = analyze(src.url("app"))
        sizes = sizes_of(analysis)
        say(f"source: pgbench scale {scale} with foreign keys + documents {scale * 5000:,} rows (~1 KB jsonb + bytea, "
            f"2 indexes): {sizes.data_bytes / MB:,.0f} MB of tables, {sizes.index_bytes / MB:,.0f} MB of indexes, "
            f"the largest table {sizes.largest_data_bytes / MB:,.0f} MB + {sizes.largest_index_bytes / MB:,.0f} MB")

        # --- rates, each alone
        largest = max((t for t in analysis.tables if t.kind != "partitioned"), key=lambda t: t.size_bytes - t.index_bytes)
        table_bytes = largest.size_bytes - largest.index_bytes
        _fresh(tgt, "app")
        copy_database(src.url("app"), tgt.url("app"), jobs=1, sections=["pre-data"])
        copy_s = _pipe(src, tgt, "app", largest.name)
        with psycopg.connect(src.url("app"), autocommit=True) as conn:
            indexes = [r[0] for r in conn.execute(
                "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %s::regclass",
                (largest.name,)).fetchall()]
        t0 = time.perf_counter()
        with psycopg.connect(tgt.url("app"), autocommit=True) as conn:
            conn.execute("SET maintenance_work_mem = '256MB'")
            for ddl in indexes:
                conn.execute(ddl.encode())
        index_s = time.perf_counter() - t0
        measured = {"copy_bytes_per_s_per_stream": table_bytes / copy_s,
                    "index_bytes_per_s_per_job": largest.index_bytes / index_s}

        # --- the project's Postgres part end to end (its verification included), then verification alone
        _fresh(tgt, "app")
        t0 = time.perf_counter()
        summary = copy_and_verify(src.url("app"), tgt.url("app"), jobs=jobs)
        pg_measured = time.perf_counter() - t0
        if not summary.get("verified"):
            say(f"the project's copy does not verify: {summary.get('differences')}")
            return 1
        t0 = time.perf_counter()
        check = verify(src.url("app"), tgt.url("app"), sequences=False, large_objects=False, database_settings=False)
        verify_s = time.perf_counter() - t0
        if not check.match:
            say(f"verification found differences: {check.differences}")
            return 1
        measured["verify_bytes_per_s"] = sizes.data_bytes / verify_s
        timings = summary.get("timings") or {}
        measured["post_data_bytes_per_s"] = sizes.data_bytes / max(0.01, timings.get("post_data", 0.0))
        measured["schema_seconds"] = timings.get("pre_data", 0.0)

        # --- Redis: large values alone, then small keys
        conn = Conn(parse_endpoint(rsrc.url()))
        chunk = os.urandom(MB)
        for i in range(12):
            conn.call("SET", f"large:string:{i}", chunk * 8)
        for start in range(0, 300_000, 20_000):
            conn.call("HSET", "large:hash", *[x for j in range(start, start + 20_000)
                                              for x in (b"field:%d" % j, b"value-%d" % (j * 7919))])
        large_memory = _used_memory(conn)
        opts = CopyOptions()
        large_copy, large_verify = _redis_round(rsrc, rtgt, opts)
        bytes_rate_copy, bytes_rate_verify = large_memory / large_copy, large_memory / large_verify
        conn.call("FLUSHALL")
        base = _used_memory(conn)
        for start in range(0, n_keys, 5000):
            buf = []
            for i in range(start, min(n_keys, start + 5000)):
                kind = i % 4
                key = f"k:{i}"
                if kind < 2:
                    buf.append(encode("SET", key, f"value-{i}" * 3))
                elif kind == 2:
                    buf.append(encode("HSET", key, "a", i, "b", "x" * 20))
                else:
                    buf.append(encode("RPUSH", key, *[f"item{j}" for j in range(5)]))
            conn.send(b"".join(buf))
            for _ in buf:
                conn.get()
        small_memory = _used_memory(conn) - base
        small_copy, small_verify = _redis_round(rsrc, rtgt, opts)
        measured["redis_copy_keys_per_s"] = n_keys / max(1e-3, small_copy - small_memory / bytes_rate_copy)
        measured["redis_copy_bytes_per_s"] = bytes_rate_copy
        measured["redis_verify_keys_per_s"] = n_keys / max(1e-3, small_verify - small_memory / bytes_rate_verify)
        measured["redis_verify_bytes_per_s"] = bytes_rate_verify

        # --- the Redis part end to end: small keys and large values together
        for i in range(12):
            conn.call("SET", f"large:string:{i}", chunk * 8)
        for start in range(0, 300_000, 20_000):
            conn.call("HSET", "large:hash", *[x for j in range(start, start + 20_000)
                                              for x in (b"field:%d" % j, b"value-%d" % (j * 7919))])
        redis_keys = int(conn.call("DBSIZE"))
        redis_bytes = _used_memory(conn)
        conn.close()
        t0 = time.perf_counter()
        _redis_round(rsrc, rtgt, opts)
        redis_measured = time.perf_counter() - t0

        fresh = fe.Rates(**measured)
        say("rates, each measured alone here, next to the built-in ones (heroku2aws.freeze_estimate.MEASURED):")
        for key, built_in in asdict(fe.MEASURED).items():
            unit = "keys/s" if "keys" in key else "s" if key.endswith("seconds") else "MB/s"
            scale_ = MB if unit == "MB/s" else 1
            say(f"  {key:32} {measured[key] / scale_:12,.1f} {unit:6}  (built in: {built_in / scale_:,.1f})")
        all_sizes = replace(sizes, redis_keys=redis_keys, redis_bytes=redis_bytes)
        for label, rates in (("built-in rates", fe.MEASURED), ("rates measured now", fresh)):
            est = fe.estimate_freeze("dump-restore", all_sizes, jobs=jobs, rates=rates)
            say(f"estimate with {label}: Postgres {est.postgres_seconds:6.1f}s vs measured {pg_measured:6.1f}s "
                f"(ratio {est.postgres_seconds / pg_measured:4.2f}); Redis {est.redis_seconds:6.1f}s vs measured "
                f"{redis_measured:6.1f}s (ratio {est.redis_seconds / redis_measured:4.2f}); in the freeze: "
                f"max(Postgres, Redis) {max(est.postgres_seconds, est.redis_seconds):6.1f}s vs "
                f"{max(pg_measured, redis_measured):6.1f}s (ratio "
                f"{max(est.postgres_seconds, est.redis_seconds) / max(pg_measured, redis_measured):4.2f})")
        est = fe.estimate_freeze("dump-restore", all_sizes, jobs=jobs)
        for c in est.components:
            say(f"  component {c.name}: {c.seconds:.1f}s ({c.basis})")
        say(f"assumed, not measured here (left out of the ratios): {fe.ASSUMED}")
        say(f"the project's pg_copy timings: {summary.get('timings')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
