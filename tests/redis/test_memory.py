"""Issue 15/18, memory: the copy task's peak memory is a small multiple of the largest value, whatever the number
of large values (queued batches were bounded in count, not in bytes: 8 values of 20 MB made 8x the largest)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from heroku2aws.redis.resp import Conn
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
