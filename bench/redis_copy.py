"""Benchmark: ``heroku2aws redis-copy`` against Redis's own server-side ``MIGRATE ... COPY REPLACE KEYS``.

Three throw-away redis-servers: a source and two empty targets. The source is seeded with
``BENCH_REDIS_KEYS`` keys (default 500,000) of mixed types: strings, hashes, lists, sets, sorted
sets, streams (with a consumer group), half of them with a TTL of one to two hours, plus data nobody
shaped for this code: big keys (a 1,000,000-field hash, a 1,000,000-member sorted set, a 200,000-member
list, a 100,000-member set, a 50 MB string), ``BENCH_REDIS_TINY`` binary keys (random bytes, NULs and
newlines included) with one-byte values, and ``BENCH_REDIS_EXPIRING`` keys set again before every run
with TTLs of 0.1 to 5 s, so that they expire during the copy and its verification. Then, alternately for
``ROUNDS`` rounds, each target emptied first:

  - ours: ``python -m heroku2aws.tasks.redis_restore SRC TGT --json`` as a subprocess (so its peak
    RSS can be read from ``getrusage(RUSAGE_CHILDREN)``); the copy phase's own duration comes from
    its JSON line, the complete verification's own (every key both ways, type, TTL and value) from
    its ``verify_seconds``, and the wall time (process start, connect, copy, verification) around it;
  - MIGRATE: a client SCANs the source (COUNT 1000) and issues ``MIGRATE host port "" 0 5000 COPY
    REPLACE KEYS k1 ... kn`` for each batch — the way a MIGRATE-based copy has to find its keys;
    and, stricter for us, MIGRATE alone with the key list fetched beforehand (untimed).

It prints the best round of each, keys/s, the ratios (target: ours >= 0.7x MIGRATE), what the complete
verification costs next to the copy and next to MIGRATE (which verifies nothing), and the peak RSS
of our copy process: ``VmHWM`` that the process reports in its JSON line (``ru_maxrss`` of
RUSAGE_CHILDREN is printed too, but on Linux a child spawned by vfork/exec inherits the parent's
high-water mark, so it shows this benchmark's own size whenever that is larger). Run: ``python -m bench`` (all benchmarks) or
``.venv/bin/python -c "import bench.redis_copy as b; b.main()"``.
"""

from __future__ import annotations

import json
import logging
import os
import random
import resource
import subprocess
import sys
import time

ROUNDS = int(os.environ.get("BENCH_REDIS_ROUNDS", "3"))
LARGE = {"hash": 1_000_000, "list": 200_000, "set": 100_000, "zset": 1_000_000}
BIG_STRING = 50_000_000


def _seed(conn, n_keys: int) -> dict[str, int]:
    """Pipelined raw RESP; returns the count per type."""
    from heroku2aws.redis.resp import encode

    rng = random.Random(42)
    kinds = ["string"] * 50 + ["hash"] * 15 + ["list"] * 10 + ["set"] * 10 + ["zset"] * 10 + ["stream"] * 5
    counts = dict.fromkeys(("string", "hash", "list", "set", "zset", "stream"), 0)
    pending = 0
    cmds: list[bytes] = []

    def flush() -> None:
        nonlocal pending, cmds
        conn.send(b"".join(cmds))
        for _ in range(pending):
            r = conn.get()
            if isinstance(r, Exception):
                raise RuntimeError(f"seeding failed: {r}")
        cmds, pending = [], 0

    for i in range(n_keys):
        kind = kinds[i % len(kinds)]
        key = f"{kind}:{i:08d}".encode()
        m = 4 + i % 7
        if kind == "string":
            cmds.append(encode("SET", key, b"v" * (16 + i % 80)))
        elif kind == "hash":
            cmds.append(encode("HSET", key, *[x for j in range(m) for x in (f"field{j}", f"value-{i}-{j}")]))
        elif kind == "list":
            cmds.append(encode("RPUSH", key, *[f"item-{i}-{j}" for j in range(m)]))
        elif kind == "set":
            cmds.append(encode("SADD", key, *[f"member-{i}-{j}" for j in range(m)]))
        elif kind == "zset":
            cmds.append(encode("ZADD", key, *[x for j in range(m) for x in (str(rng.random() * 1000), f"m-{i}-{j}")]))
        else:
            for j in range(3):
                cmds.append(encode("XADD", key, "*", "event", f"e{j}", "user", str(i)))
                pending += 1
            cmds.append(encode("XGROUP", "CREATE", key, "workers", "0"))  # counted below
        pending += 1
        counts[kind] += 1
        if i % 2 == 0:
            cmds.append(encode("PEXPIRE", key, 3_600_000 + rng.randrange(3_600_000)))
            pending += 1
        if pending >= 20_000:
            flush()
    flush()
    # A few large keys (added in chunks).
    for kind, n in LARGE.items():
        key = f"large:{kind}".encode()
        for start in range(0, n, 10_000):
            rng_ = range(start, min(n, start + 10_000))
            if kind == "hash":
                cmds.append(encode("HSET", key, *[x for j in rng_ for x in (f"f{j}", f"value-{j}")]))
            elif kind == "list":
                cmds.append(encode("RPUSH", key, *[f"item-{j}" for j in rng_]))
            elif kind == "set":
                cmds.append(encode("SADD", key, *[f"member-{j}" for j in rng_]))
            else:
                cmds.append(encode("ZADD", key, *[x for j in rng_ for x in (str(j * 0.5), f"m-{j}")]))
            pending += 1
        counts[kind] += 1
    flush()
    conn.send(encode("SET", "large:string", os.urandom(BIG_STRING)))
    if isinstance(conn.get(), Exception):
        raise RuntimeError("seeding the big string failed")
    counts["string"] += 1
    # Many tiny keys with binary names.
    tiny = int(os.environ.get("BENCH_REDIS_TINY", "200000"))
    brng = random.Random(43)
    for i in range(tiny):
        cmds.append(encode("SET", b"bin:" + brng.randbytes(4 + i % 12) + b"%d" % i, b"%c" % (i % 256)))
        pending += 1
        if pending >= 20_000:
            flush()
    flush()
    counts["string"] += tiny
    return counts


def _seed_expiring(conn, n: int) -> None:
    """``n`` keys whose TTLs (0.1-5 s) run out during the copy and its verification (set again before each run)."""
    from heroku2aws.redis.resp import encode

    rng = random.Random(44)
    for start in range(0, n, 10_000):
        conn.send(b"".join(encode("SET", f"exp:{i}", "e" * (i % 40), "PX", rng.randrange(100, 5000))
                           for i in range(start, min(n, start + 10_000))))
        for _ in range(start, min(n, start + 10_000)):
            conn.get()


def _scan_batches(conn, count: int = 1000):
    cursor = b"0"
    while True:
        cursor, keys = conn.call("SCAN", cursor, "COUNT", count)
        if keys:
            yield keys
        if cursor == b"0":
            return


def _migrate(conn, port: int, batches) -> int:
    n = 0
    for keys in batches:
        r = conn.call("MIGRATE", "127.0.0.1", port, "", 0, 5000, "COPY", "REPLACE", "KEYS", *keys)
        if r not in (b"OK", b"NOKEY"):
            raise RuntimeError(f"MIGRATE answered {r!r}")
        n += len(keys)
    return n


def _flush(server) -> None:
    """FLUSHALL with no client-side timeout (freeing the big keys takes seconds on a loaded machine)."""
    from heroku2aws.redis.resp import Conn
    from heroku2aws.redis.urls import parse_endpoint

    c = Conn(parse_endpoint(server.url()), timeout=600)
    try:
        c.call("FLUSHALL")
    finally:
        c.close()


def main() -> None:
    from heroku2aws.redis.resp import Conn
    from heroku2aws.redis.urls import parse_endpoint
    from heroku2aws_rehearsal.servers import RedisServer

    for name in ("heroku2aws", *[n for n in logging.root.manager.loggerDict if n.startswith("heroku2aws.")]):
        logging.getLogger(name).setLevel(logging.WARNING)
    n_keys = int(os.environ.get("BENCH_REDIS_KEYS", "500000"))
    print(f"redis_copy: starting three redis-servers, seeding {n_keys:,} keys of mixed types", flush=True)
    with RedisServer(name="bench-rsrc").start() as src, RedisServer(name="bench-rours").start() as ours, \
            RedisServer(name="bench-rmig").start() as mig:
        sconn = Conn(parse_endpoint(src.url()))
        n_expiring = int(os.environ.get("BENCH_REDIS_EXPIRING", "50000"))
        t0 = time.perf_counter()
        counts = _seed(sconn, n_keys)
        seed_s = time.perf_counter() - t0
        total = int(sconn.call("DBSIZE"))
        volatile = int(next(line.split("expires=")[1].split(",")[0]
                            for line in sconn.call("INFO", "keyspace").decode().splitlines() if line.startswith("db0")))
        used = next(line.split(":")[1] for line in sconn.call("INFO", "memory").decode().splitlines()
                    if line.startswith("used_memory_human"))
        print(f"redis_copy: seeded {total:,} keys ({volatile:,} with a TTL; {used.strip()} in Redis) in {seed_s:.1f}s: "
              + ", ".join(f"{k} {v:,}" for k, v in counts.items()), flush=True)
        all_keys = [k for batch in _scan_batches(sconn) for k in batch]
        listed = [all_keys[i:i + 1000] for i in range(0, len(all_keys), 1000)]
        del all_keys

        env = dict(os.environ, POWERTOOLS_LOG_LEVEL="WARNING")
        floor = subprocess.run([sys.executable, "-c", "import heroku2aws.tasks.redis_restore as m, "
                                "heroku2aws.redis.options as rc; print(rc.peak_rss_bytes())"],
                               env=env, capture_output=True, text=True, check=True)
        floor_rss = int(floor.stdout.strip())
        ours_copy, ours_verify, ours_wall, mig_scan, mig_listed, peaks = [], [], [], [], [], []
        expired: list[int] = []
        last: dict = {}
        for _ in range(ROUNDS):
            _flush(ours)
            _seed_expiring(sconn, n_expiring)
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "heroku2aws.tasks.redis_restore", src.url(), ours.url(),
                                "--json", "--no-progress"],  # the defaults: complete verification
                               env=env, capture_output=True, text=True)
            ours_wall.append(time.perf_counter() - t0)
            if r.returncode != 0:
                raise SystemExit(f"redis_copy: our copy failed ({r.returncode}): {r.stderr[-2000:]}")
            last = json.loads(r.stdout.strip().splitlines()[-1])
            if not last["verified"] or not last.get("verify_complete") or last["keys"] < total:
                raise SystemExit(f"redis_copy: our copy is not complete/verified: {last}")
            ours_copy.append(last["seconds"])
            ours_verify.append(last["verify_seconds"])
            expired.append(last["expired_during_copy"] + last.get("verify_expiring", 0))
            peaks.append(last["peak_rss_bytes"])

            _flush(mig)
            _seed_expiring(sconn, n_expiring)
            t0 = time.perf_counter()
            n = _migrate(sconn, mig.port, _scan_batches(sconn))
            mig_scan.append(time.perf_counter() - t0)
            if n < total or mig.client().dbsize() < total:
                raise SystemExit(f"redis_copy: MIGRATE moved {n} keys, target has {mig.client().dbsize()}")

            _flush(mig)
            t0 = time.perf_counter()
            _migrate(sconn, mig.port, listed)
            mig_listed.append(time.perf_counter() - t0)
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        sconn.close()

    c, v, w, m, ml = min(ours_copy), min(ours_verify), min(ours_wall), min(mig_scan), min(mig_listed)

    def rounds(xs: list[float]) -> str:
        return ", ".join(f"{x:.2f}" for x in xs)

    def line(label: str, secs: float, xs: list[float]) -> str:
        return f"redis_copy: {label:<44} {secs:6.2f}s {total / secs:>10,.0f} keys/s  (rounds: {rounds(xs)})"

    mib = last["bytes"] / 2**20
    print(f"redis_copy: {'keys copied':<44} {total:,} per run ({mib:.0f} MiB of DUMP payload) plus "
          f"{n_expiring:,} expiring (0.1-5 s; expired in the copy or its verification: {', '.join(map(str, expired))})")
    print(line("ours, copy phase (from its --json)", c, ours_copy))
    print(line("ours, complete verification (every key)", v, ours_verify))
    print(line("ours, whole process: copy + verification", w, ours_wall))
    print(line("MIGRATE COPY REPLACE KEYS, SCAN batches", m, mig_scan))
    print(line("MIGRATE alone, keys listed beforehand", ml, mig_listed))
    print(f"redis_copy: {'ratio ours / MIGRATE (SCAN batches)':<44} {m / c:.2f}x  (target >= 0.7x)")
    print(f"redis_copy: {'ratio ours / MIGRATE (keys listed)':<44} {ml / c:.2f}x")
    print(f"redis_copy: {'ratio ours whole process / MIGRATE (SCAN)':<44} {m / w:.2f}x")
    print(f"redis_copy: {'complete verification / our copy phase':<44} {v / c:.2f}x  (its share of the freeze: "
          f"{v / (c + v):.0%} of copy + verification)")
    print(f"redis_copy: {'complete verification / MIGRATE (SCAN)':<44} {v / m:.2f}x  (MIGRATE verifies nothing)")
    print(f"redis_copy: {'(copy + verification) / MIGRATE (SCAN)':<44} {(c + v) / m:.2f}x")
    print(f"redis_copy: {'peak RSS of our copy process (VmHWM)':<44} {max(peaks) / 2**20:.1f} MiB "
          f"(of which {floor_rss / 2**20:.1f} MiB is Python + imports before any work)")
    print(f"redis_copy: {'ru_maxrss of RUSAGE_CHILDREN':<44} {peak_kib / 1024:.1f} MiB (Linux carries the spawning "
          "parent's high-water mark into the child at exec, so this includes this benchmark process)", flush=True)

if __name__ == "__main__":
    main()
