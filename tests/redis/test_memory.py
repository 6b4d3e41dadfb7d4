"""Issue 15/18, memory: the copy task's peak memory is a small multiple of the largest value, whatever the number
of large values (queued batches were bounded in count, not in bytes: 8 values of 20 MB made 8x the largest); and
since large values are streamed (issue 18), bounded by a constant whatever the size of the values."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from heroku2aws.redis.resp import Conn, encode
from heroku2aws.redis.urls import parse_endpoint


def _peak(*argv: str) -> dict:
    env = dict(os.environ, POWERTOOLS_LOG_LEVEL="WARNING")
    r = subprocess.run([sys.executable, "-m", "heroku2aws.tasks.redis_restore", *argv, "--json", "--no-progress"],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_peak_memory_is_a_small_multiple_of_the_largest_value(source, target):
    size, n = 12_000_000, 8
    conn = Conn(parse_endpoint(source.url()))
    for i in range(n):
        conn.call("SET", f"big{i}", os.urandom(size))
    for i in range(2000):
        conn.call("SET", f"small{i}", "x")
    conn.close()
    env = dict(os.environ, POWERTOOLS_LOG_LEVEL="WARNING")
    floor = int(subprocess.run([sys.executable, "-c", "import heroku2aws.tasks.redis_restore, "
                                "heroku2aws.redis.options as o; print(o.peak_rss_bytes())"],
                               env=env, capture_output=True, text=True, check=True).stdout)
    out = _peak(source.url(), target.url())
    assert out["verified"] and out["keys"] == n + 2000
    over = (out["peak_rss_bytes"] - floor) / size
    assert over < 4.5, f"peak {over:.1f}x the largest value"


#: The copier's peak RSS above the interpreter's own, whatever the size of the values (issue 18): the DUMP path's
#: budget (batch_bytes x queue_depth = 16 MiB) and values under large_bytes (4 MiB), a streamed chunk (~1 MiB a side)
#: and the parser's buffers. Measured here: 14.8 MiB for the 300 MB string and the 2 M-field hash below.
BOUND_BYTES = 64 << 20


@pytest.mark.slow
def test_peak_memory_is_bounded_whatever_the_value_size(source, target):
    conn = Conn(parse_endpoint(source.url()))
    chunk = os.urandom(1 << 20)
    for i in range(300):  # a 300 MB string, built on the server (1 MiB a command)
        conn.send(encode("APPEND", "huge:string", chunk[i:] + chunk[:i]))
    for _ in range(300):
        assert isinstance(conn.get(), int)
    fields = 2_000_000
    for start in range(0, fields, 20_000):
        conn.send(encode("HSET", "huge:hash", *[x for i in range(start, start + 20_000)
                                                for x in (b"field:%d" % i, b"value-%d" % (i * 7919))]))
    for _ in range(0, fields, 20_000):
        assert conn.get() == 20_000
    conn.call("PEXPIRE", "huge:hash", 3_600_000)
    for i in range(2000):
        conn.send(encode("SET", f"small{i}", "x"))
    for _ in range(2000):
        conn.get()
    conn.close()
    env = dict(os.environ, POWERTOOLS_LOG_LEVEL="WARNING")
    floor = int(subprocess.run([sys.executable, "-c", "import heroku2aws.tasks.redis_restore, "
                                "heroku2aws.redis.options as o; print(o.peak_rss_bytes())"],
                               env=env, capture_output=True, text=True, check=True).stdout)
    out = _peak(source.url(), target.url())
    assert out["verified"] and out["keys"] == 2002 and out["streamed_keys"] == 2, out
    over = out["peak_rss_bytes"] - floor
    print(f"peak RSS above the interpreter's: {over / 2**20:.1f} MiB (300 MB string, 2 M-field hash)")
    assert over < BOUND_BYTES, f"peak {over / 2**20:.0f} MiB above the interpreter's"
    tgt = Conn(parse_endpoint(target.url()))
    assert tgt.call("STRLEN", "huge:string") == 300 << 20 and tgt.call("HLEN", "huge:hash") == fields
    assert 3_000_000 < tgt.call("PTTL", "huge:hash") <= 3_600_000
    tgt.close()
