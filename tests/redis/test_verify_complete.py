"""Issue 15, wrong verdicts of the Redis copy: verification is complete by default (every key, type and value, both
ways), is not fooled by keys expiring during the copy, a key written on the target by someone else is a conflict
(not a SCAN duplicate), and a stream's consumer groups arrive with their consumers and pending entries."""

from __future__ import annotations

import random

from helpers import assert_same, seed_every_type

from heroku2aws.redis import copy as copier
from heroku2aws.redis.options import CopyOptions
from heroku2aws.redis.urls import parse_endpoint
from heroku2aws.redis.verify import verify


def ep(server):
    return parse_endpoint(server.url())


def refuse_restore(monkeypatch, which=lambda key: True) -> None:
    """The target refuses chosen payloads as an older Redis does (RDB version 0xffff)."""
    original = copier._encode_restores

    def tampered(items, replace):
        return original([(k, t, p[:-10] + b"\xff\xff" + p[-8:] if which(k) else p) for k, t, p in items], replace)

    monkeypatch.setattr(copier, "_encode_restores", tampered)


# ------------------------------------------------------------------ complete by default


def test_default_verification_compares_every_key_and_names_wrong_types_and_values(source, target):
    src, tgt = source.client(), target.client()
    for i in range(3000):
        src.set(f"k{i}", f"value-{i}")
    src.hset("h", mapping={"a": 1, "b": 2})
    copier.copy(ep(source), ep(target))
    assert verify(ep(source), ep(target)).ok
    tgt.set("k1234", "value-XXXX")                  # same length, wrong value
    tgt.delete("k2345")
    tgt.rpush("k2345", "value-2345")                 # restored as the wrong type
    tgt.hset("h", "b", 3)
    result = verify(ep(source), ep(target))          # the defaults: no sample share given
    assert result.complete and result.source_keys == 3001 and result.sampled == 3000  # k2345's type differs
    assert {m.key: m.reason for m in result.mismatches} == {
        "k1234": "string values differ", "k2345": "type string on the source, list on the target",
        "h": "hash values differ"}
    assert "value-" not in result.describe()         # names, never values


def test_a_key_only_on_the_target_is_named(source, target):
    src, tgt = source.client(), target.client()
    for i in range(100):
        src.set(f"k{i}", i)
    copier.copy(ep(source), ep(target))
    tgt.set("intruder", 1)
    tgt.set("intruder-expiring", 1, px=200)          # about to expire: still someone else's key
    tgt.set("leftover", 1, px=600_000)
    result = verify(ep(source), ep(target))
    # "intruder-expiring" goes within the tolerance: it cannot be told from a copy whose source has just expired
    assert {m.key: m.reason for m in result.mismatches} == {"intruder": "only on the target",
                                                           "leftover": "only on the target"}
    assert result.count_mismatches == [0]


# ------------------------------------------------------------------ expiry


def test_keys_expiring_during_the_copy_do_not_fail_a_correct_copy(source, target):
    """Many keys with TTLs of a few hundred ms: a correct copy is verified every time (it failed every time)."""
    src = source.client()
    rng = random.Random(7)
    for attempt in range(3):
        source.client().flushall()
        target.client().flushall()
        p = src.pipeline(transaction=False)
        for i in range(20_000):
            p.set(f"short:{i}", "x" * 50, px=rng.randrange(30, 1500))
        for i in range(2000):
            p.set(f"long:{i}", "y", px=3_600_000)
            p.set(f"plain:{i}", "z")
        p.execute()
        result = copier.copy_and_verify(ep(source), ep(target), CopyOptions(batch_keys=500))
        assert result.ok, (attempt, result.verify.describe())
        assert result.verify.source_keys >= 4000


def test_a_missing_key_that_is_not_expiring_is_still_a_difference(source, target):
    src, tgt = source.client(), target.client()
    src.set("soon", 1, px=800)
    src.set("later", 1, px=600_000)
    src.set("never", 1)
    copier.copy(ep(source), ep(target))
    tgt.delete("soon", "later", "never")
    result = verify(ep(source), ep(target))
    assert {m.key for m in result.mismatches} == {"later", "never"}  # "soon" expires within the tolerance
    assert result.expiring == 1


# ------------------------------------------------------------------ BUSYKEY: duplicate or someone else's write


def _target_reported_empty(monkeypatch):
    """The copy believes the target empty (as preflight proved it), while it holds keys written meanwhile."""
    real = copier.keyspace
    calls = []

    def fake(conn):
        calls.append(conn)
        ks = real(conn)
        return {} if len(calls) == 2 else ks   # copy() reads the source's keyspace first, then the target's

    monkeypatch.setattr(copier, "keyspace", fake)


def test_busykey_from_another_writer_is_a_conflict_named_not_a_duplicate(source, target, monkeypatch):
    src, tgt = source.client(), target.client()
    for i in range(200):
        src.set(f"k{i}", f"v{i}")
    tgt.set("k5", "written by someone else")
    tgt.restore("k6", 0, src.dump("k6"))             # the same value (a SCAN duplicate looks like this)
    _target_reported_empty(monkeypatch)
    result = copier.copy_and_verify(ep(source), ep(target))
    s = result.stats
    assert s.conflicts == 1 and s.conflict_keys == ["db0:k5"] and s.duplicates == 1
    assert not result.ok and not result.complete
    assert tgt.get("k5") == b"written by someone else"   # never replaced silently


def test_busykey_on_the_type_aware_path_too(source, target, monkeypatch):
    src, tgt = source.client(), target.client()
    for i in range(50):
        src.rpush(f"l{i}", *range(i + 1))
    tgt.rpush("l7", "foreign")
    tgt.rpush("l8", *range(9))                      # identical: a duplicate
    _target_reported_empty(monkeypatch)
    refuse_restore(monkeypatch)
    result = copier.copy_and_verify(ep(source), ep(target))
    s = result.stats
    assert s.conflict_keys == ["db0:l7"] and s.duplicates == 1 and not result.ok


# ------------------------------------------------------------------ streams: groups, consumers, pending entries


def _stream_with_pending(r) -> None:
    for i in range(30):
        r.xadd("orders", {"n": i}, id=f"{i + 1}-0")
    r.xgroup_create("orders", "billing", id="0")
    r.xgroup_create("orders", "mail", id="0")
    r.xreadgroup("billing", "alice", {"orders": ">"}, count=5)
    r.xreadgroup("billing", "bob", {"orders": ">"}, count=7)
    r.xreadgroup("billing", "alice", {"orders": "0"})          # redelivery: delivery count 2
    r.xack("orders", "billing", "2-0")
    r.xgroup_createconsumer("orders", "billing", "idle-carol")  # a consumer with nothing pending
    r.xreadgroup("mail", "m1", {"orders": ">"}, count=3)


def test_type_aware_stream_keeps_consumers_and_pending_entries(source, target, monkeypatch):
    src, tgt = source.client(), target.client()
    _stream_with_pending(src)
    refuse_restore(monkeypatch)
    for chunk in (1000, 2):                                    # in one go, and pending entries in pages
        tgt.flushall()
        result = copier.copy_and_verify(ep(source), ep(target), CopyOptions(chunk=chunk))
        assert result.ok and result.stats.fallback_keys == 1, result.verify.describe()
        assert result.stats.stream_pending_not_copied == 0
        for g in ("billing", "mail"):
            a = src.xpending_range("orders", g, "-", "+", 100)
            b = tgt.xpending_range("orders", g, "-", "+", 100)
            assert [(x["message_id"], x["consumer"], x["times_delivered"]) for x in a] == \
                [(x["message_id"], x["consumer"], x["times_delivered"]) for x in b]
            assert {c["name"] for c in src.xinfo_consumers("orders", g)} == \
                {c["name"] for c in tgt.xinfo_consumers("orders", g)}
        assert_same(src, tgt, pending=True)


def test_pending_entry_of_a_deleted_message_is_not_verified(source, target, monkeypatch):
    src = source.client()
    _stream_with_pending(src)
    src.xdel("orders", "3-0")                    # pending in billing (alice) and mail (m1), message gone
    refuse_restore(monkeypatch)
    result = copier.copy_and_verify(ep(source), ep(target))
    assert result.stats.stream_pending_not_copied == 2
    assert not result.ok
    assert "orders" in result.verify.describe() and "pending entries differ" in result.verify.describe()


def test_verification_compares_pending_entries(source, target):
    src, tgt = source.client(), target.client()
    _stream_with_pending(src)
    copier.copy(ep(source), ep(target))
    assert verify(ep(source), ep(target)).ok
    tgt.xack("orders", "billing", "4-0")
    result = verify(ep(source), ep(target))
    assert [m.key for m in result.mismatches] == ["orders"]
    assert "billing" in result.mismatches[0].reason


def test_every_type_through_both_paths_is_verified_complete(source, target, monkeypatch):
    src = source.client()
    seed_every_type(src, "p:")
    seed_every_type(src, "v:", ttl_ms=3_600_000)
    refuse_restore(monkeypatch, lambda k: k.startswith(b"v:"))
    result = copier.copy_and_verify(ep(source), ep(target), CopyOptions(chunk=100, chunk_bytes=4096))
    assert result.ok, result.verify.describe()
    assert result.verify.complete and result.verify.sampled == result.stats.keys


def test_a_source_that_answers_late_does_not_make_ttls_differ(source, target, monkeypatch):
    """Found by make bench on a loaded machine: the source answered a TTL read 2 s after the target did, and
    keys with correct TTLs were reported as differing. The tolerance grows by the time the two reads spanned."""
    import threading
    import time

    from heroku2aws.redis import verify as verifier

    src = source.client()
    for i in range(200):
        src.set(f"k{i}", i, px=3_600_000)
    copier.copy(ep(source), ep(target))
    busy = "local t0 = redis.call('TIME'); repeat local t = redis.call('TIME') " \
           "until (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > 2600000; return 1"
    blockers: list[threading.Thread] = []
    original = verifier.Comparer.both_keyed

    def stalled_source(self, names, keys):
        if not blockers:  # the first TYPE/PTTL round: the source stalls 2.6 s, the target answers at once
            blockers.append(threading.Thread(target=lambda: source.client().eval(busy, 0)))
            blockers[0].start()
            time.sleep(0.2)
        return original(self, names, keys)

    monkeypatch.setattr(verifier.Comparer, "both_keyed", stalled_source)
    result = verify(ep(source), ep(target))
    blockers[0].join()
    assert result.ok, result.describe()


def test_servers_that_refuse_memory_usage_are_verified_type_by_type(source):
    """Managed services restrict commands: without MEMORY USAGE the values are still compared, per type."""
    from heroku2aws_rehearsal.servers import RedisServer

    src = source.client()
    seed_every_type(src, "p:")
    with RedisServer(name="no-memory", extra_args=("--rename-command", "MEMORY", "")).start() as target:
        copier.copy(ep(source), ep(target))
        result = verify(ep(source), ep(target))
        assert result.ok and result.complete and result.sampled == result.source_keys, result.describe()
        target.client().lset("p:list:big", 7, "changed")
        assert [m.key for m in verify(ep(source), ep(target)).mismatches] == ["p:list:big"]
