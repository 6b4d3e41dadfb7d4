"""The copy itself: every type, TTLs, expiry during the copy, conflicts, the type-aware path, large
collections in chunks, several databases, and verification catching differences."""

from __future__ import annotations

import time

import pytest
from helpers import assert_same, assert_ttls_close, seed_every_type

from heroku2aws.redis import copy as copier
from heroku2aws.redis.errors import ConfigError
from heroku2aws.redis.options import CopyOptions, CopyResult, CopyStats
from heroku2aws.redis.resp import Conn, encode
from heroku2aws.redis.urls import Endpoint, parse_endpoint
from heroku2aws.redis.verify import verify


def ep(server, **kw) -> Endpoint:
    return parse_endpoint(server.url(), **kw)


def run(source, target, **opts) -> CopyResult:
    opts.setdefault("verify_sample", 1.0)
    return copier.copy_and_verify(ep(source), ep(target), CopyOptions(**opts))


def refuse_restore(monkeypatch, which=lambda key: True) -> list[bytes]:
    """Make the target refuse chosen payloads the way an older Redis does: the payload's RDB version
    (two bytes before the CRC) is set to 0xffff, and the real server answers
    "ERR DUMP payload version or checksum are wrong"."""
    refused: list[bytes] = []
    original = copier._encode_restores

    def tampered(items, replace):
        out = []
        for k, ttl, p in items:
            if which(k):
                refused.append(k)
                p = p[:-10] + b"\xff\xff" + p[-8:]
            out.append((k, ttl, p))
        return original(out, replace)

    monkeypatch.setattr(copier, "_encode_restores", tampered)
    return refused


def test_every_type_with_and_without_ttl_arrives_identical(source, target):
    src, tgt = source.client(), target.client()
    persistent = seed_every_type(src, "p:")
    volatile = seed_every_type(src, "v:", ttl_ms=3_600_000)
    result = run(source, target)
    assert result.ok, result.verify.describe()
    s = result.stats
    assert s.keys == len(persistent) + len(volatile) == s.restored
    assert s.fallback_keys == 0 and s.expired_during_copy == 0 and s.conflicts == 0
    assert s.bytes > 100_000
    assert result.verify.sampled == s.keys and result.verify.counts == {0: (s.keys, s.keys)}
    assert_same(src, tgt)  # DUMP path: consumer groups keep their pending entries
    assert_ttls_close(src, tgt, persistent + volatile)
    assert all(tgt.pttl(k) == -1 for k in persistent)
    assert tgt.xinfo_groups("p:stream:s")[0]["pending"] == 5


def test_key_expiring_before_dump_is_counted_not_an_error(source, target, monkeypatch):
    src, tgt = source.client(), target.client()
    p = src.pipeline(transaction=False)
    for i in range(3000):
        p.set(f"keep:{i}", i)
    for i in range(300):
        p.set(f"short:{i}", i, px=150)
    p.execute()
    original = Conn.send
    slept = []

    def slow_dump(self, data):
        if b"\r\nDUMP\r\n" in data and not slept:  # SCAN listed the keys; their DUMPs go out after a pause
            slept.append(1)
            time.sleep(0.4)
        return original(self, data)

    monkeypatch.setattr(Conn, "send", slow_dump)
    result = run(source, target, batch_keys=5000)
    assert result.ok, result.verify.describe()
    assert result.stats.expired_during_copy == 300
    assert result.stats.keys == 3000
    assert not any(k.startswith(b"short:") for k in tgt.scan_iter(count=1000))


def test_key_whose_ttl_runs_out_between_read_and_write_is_not_written(source, target, monkeypatch):
    src, tgt = source.client(), target.client()
    p = src.pipeline(transaction=False)
    for i in range(200):
        p.set(f"keep:{i}", i)
        p.set(f"short:{i}", i, px=300)
    p.execute()
    # The first batch waits half a second in the writer before its remaining TTLs are computed.
    monkeypatch.setattr(copier._Writer, "_send", _delayed(copier._Writer._send, 0.5))
    result = run(source, target)
    assert result.ok, result.verify.describe()
    assert result.stats.expired_during_copy == 200
    assert tgt.dbsize() == 200


def _delayed(fn, seconds):
    done = []

    def wrapper(self, batch):
        if not done:
            done.append(1)
            time.sleep(seconds)
        return fn(self, batch)

    return wrapper


def test_existing_target_key_is_an_error_naming_it_unless_replace(source, target):
    src, tgt = source.client(), target.client()
    for i in range(50):
        src.set(f"k{i}", f"source-{i}")
    src.hset("profile:42", "name", "from source")
    tgt.set("profile:42", "already here")
    result = run(source, target)
    assert not result.complete and not result.ok
    assert result.stats.conflicts == 1
    assert result.stats.conflict_keys == ["db0:profile:42"]
    assert tgt.get("profile:42") == b"already here"  # untouched
    assert result.stats.keys == 50

    result = run(source, target, replace=True)
    assert result.ok, result.verify.describe()
    assert tgt.hget("profile:42", "name") == b"from source"
    assert_same(src, tgt)


def test_refused_payloads_are_copied_type_by_type(source, target, monkeypatch):
    src, tgt = source.client(), target.client()
    persistent = seed_every_type(src, "p:")
    volatile = seed_every_type(src, "v:", ttl_ms=3_600_000)
    for i in range(500):
        src.set(f"plain:{i}", i)
    refused = refuse_restore(monkeypatch, lambda k: not k.startswith(b"plain:"))
    result = run(source, target, chunk=100, chunk_bytes=1024)
    assert result.ok, result.verify.describe()
    s = result.stats
    assert len(refused) == len(persistent) + len(volatile)
    assert s.fallback_keys == len(refused) and s.restored == 500
    assert s.keys == len(refused) + 500
    assert s.stream_pending_not_copied == 0  # issue 15: pending entries reproduced by XCLAIM ... FORCE
    assert_same(src, tgt, pending=False)
    assert_ttls_close(src, tgt, persistent + volatile)
    assert tgt.xinfo_stream("p:stream:s")["last-generated-id"] == src.xinfo_stream("p:stream:s")["last-generated-id"]


@pytest.mark.slow
def test_large_collections_are_copied_in_chunks(source, target, monkeypatch):
    src, tgt = source.client(), target.client()
    n = 1_000_000
    conn = Conn(ep(source))
    for start in range(0, n, 20_000):
        conn.send(encode("HSET", "big:hash", *[x for i in range(start, start + 20_000) for x in (b"f%d" % i, b"%d" % i)]))
    for _ in range(0, n, 20_000):
        assert conn.get() == 20_000
    conn.close()
    src.rpush("big:list", *range(50_000))
    src.sadd("big:set", *[f"m{i}" for i in range(30_000)])
    src.zadd("big:zset", {f"m{i}": i * 1.25 for i in range(30_000)})
    src.set("big:string", b"0123456789abcdef" * 200_000)  # 3.2 MB
    for i in range(3000):
        src.xadd("big:stream", {"i": i})
    src.expire("big:hash", 3600)
    refuse_restore(monkeypatch)
    result = run(source, target, chunk=5000, chunk_bytes=256 * 1024)
    assert result.ok, result.verify.describe()
    s = result.stats
    assert s.fallback_keys == 6
    # No read ever held a whole collection: each chunk is around `chunk` members (SCAN's COUNT is a hint).
    assert s.fallback_max_chunk <= 2 * 5000
    assert s.fallback_max_string_chunk == 256 * 1024
    assert s.fallback_chunks >= n // (2 * 5000) + 50_000 // 5000 + 3_200_000 // (256 * 1024)
    assert tgt.hlen("big:hash") == n and tgt.hget("big:hash", "f999999") == b"999999"
    assert_ttls_close(src, tgt, ["big:hash", "big:list"])
    assert tgt.lrange("big:list", 0, -1) == src.lrange("big:list", 0, -1)
    assert tgt.get("big:string") == src.get("big:string")
    assert tgt.smembers("big:set") == src.smembers("big:set")
    assert tgt.zrange("big:zset", 0, -1, withscores=True) == src.zrange("big:zset", 0, -1, withscores=True)
    assert tgt.xrange("big:stream") == src.xrange("big:stream")


def test_multiple_databases_map_to_the_same_numbers(source, target):
    for db, n in ((0, 100), (5, 40), (15, 7)):
        c = source.client(db)
        for i in range(n):
            c.set(f"db{db}:k{i}", i)
        c.hset(f"db{db}:h", "f", db)
    result = run(source, target)
    assert result.ok, result.verify.describe()
    assert result.dbs == [0, 5, 15]
    assert result.stats.per_db == {0: 101, 5: 41, 15: 8}
    assert result.verify.counts == {0: (101, 101), 5: (41, 41), 15: (8, 8)}
    for db in (0, 5, 15):
        assert_same(source.client(db), target.client(db))
    assert target.client(1).dbsize() == 0


def test_db_option_limits_the_copy(source, target):
    source.client(0).set("a", 1)
    source.client(2).set("b", 2)
    result = copier.copy_and_verify(ep(source), ep(target), CopyOptions(dbs=[2], verify_sample=1.0))
    assert result.ok and result.dbs == [2]
    assert target.client(0).dbsize() == 0 and target.client(2).get("b") == b"2"


def test_verification_names_altered_keys(source, target):
    src, tgt = source.client(), target.client()
    seed_every_type(src, ttl_ms=None)
    for i in range(1000):
        src.set(f"k{i}", i, ex=3600)
    stats, _ = copier.copy(ep(source), ep(target))
    assert stats.keys == src.dbsize()
    assert verify(ep(source), ep(target), CopyOptions(verify_sample=1.0)).ok

    tgt.hset("hash:big", "field1500", "changed")
    tgt.srem("set:hashtable", "m7")
    tgt.sadd("set:hashtable", "intruder")
    tgt.zincrby("zset:skiplist", 0.5, "m3")
    tgt.lset("list:big", 2999, "changed")
    tgt.setrange("str:raw", 4000, "Y")
    tgt.expire("k1", 100)
    tgt.persist("k2")
    tgt.xadd("stream:s", {"late": "entry"})
    tgt.xgroup_setid("stream:empty", "g", id="5-0")
    result = verify(ep(source), ep(target), CopyOptions(verify_sample=1.0))
    assert not result.ok
    named = {m.key: m.reason for m in result.mismatches}
    assert set(named) == {"hash:big", "set:hashtable", "zset:skiplist", "list:big", "str:raw", "k1", "k2", "stream:s",
                          "stream:empty"}
    assert named["stream:empty"].startswith("stream group g: last-delivered-id differs")
    assert result.count_mismatches == []

    tgt.delete("k3")
    tgt.set("extra", 1)
    result = verify(ep(source), ep(target), CopyOptions(verify_sample=1.0))
    assert "k3" in {m.key for m in result.mismatches}
    tgt.delete("extra")
    result = verify(ep(source), ep(target), CopyOptions(verify_sample=0.0))
    assert result.count_mismatches == [0] and result.sampled == 0
    assert "db0:k3 (missing on the target)" in result.describe()


def test_verification_of_large_values_in_chunks(source, target):
    src, tgt = source.client(), target.client()
    src.hset("h", mapping={f"f{i}": i for i in range(5000)})
    src.rpush("l", *range(5000))
    src.sadd("s", *range(1000, 6000))
    src.zadd("z", {f"m{i}": i for i in range(5000)})
    src.set("str", "a" * 300_000)
    for i in range(1200):
        src.xadd("x", {"i": i})
    src.xgroup_create("x", "g", id="0")
    run(source, target)
    opts = CopyOptions(verify_sample=1.0, chunk=500, chunk_bytes=65536)
    assert verify(ep(source), ep(target), opts).ok
    tgt.hset("h", "f4321", "x")
    tgt.lset("l", 4321, "x")
    tgt.srem("s", 4321)
    tgt.sadd("s", "x")
    tgt.zadd("z", {"m4321": -1})
    tgt.setrange("str", 250_000, "b")
    tgt.xgroup_setid("x", "g", id="$")
    result = verify(ep(source), ep(target), opts)
    assert {m.key for m in result.mismatches} == {"h", "l", "s", "z", "str", "x"}


def test_scan_duplicates_on_an_empty_target_are_skipped(source, target):
    """SCAN may return a key twice; on a target that was empty, BUSYKEY means we wrote it already."""
    src = source.client()
    for i in range(100):
        src.set(f"k{i}", i)
    stats, _ = copier.copy(ep(source), ep(target))
    assert stats.keys == 100
    # Second pass over the same target, which is no longer empty: a real conflict for every key.
    stats, _ = copier.copy(ep(source), ep(target))
    assert stats.conflicts == 100 and stats.duplicates == 0
    # Empty target: duplicates are counted and skipped (simulated by a target reported empty).
    target.client().flushall()
    target.client().set("k0", 0)
    copier_stats = CopyStats()
    fallback = copier.TypeAwareCopier(ep(source), ep(target), CopyOptions(), copier_stats, {0: True})
    writer = copier._Writer(Conn(ep(target)), CopyOptions(), copier_stats, fallback, {0: True})
    batch = copier._Batch(0, [(b"k0", -1, src.dump("k0"))], time.monotonic(), 0)
    items = writer._send(batch)
    writer._finish(batch, items)
    assert copier_stats.duplicates == 1 and copier_stats.conflicts == 0


def test_source_and_target_the_same_server_is_refused(source):
    with pytest.raises(ConfigError, match="same server"):
        copier.copy_and_verify(ep(source), ep(source))
