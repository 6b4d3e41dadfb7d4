"""Issue 18, deliverable 3: large values are streamed in chunks into a temporary key and RENAMEd, never DUMPed, so
the copy's memory does not grow with the largest value; their TTL, the BUSYKEY semantics and verification hold."""

from __future__ import annotations

import pytest
from helpers import assert_same, assert_ttls_close, seed_every_type

from heroku2aws.redis import copy as copier
from heroku2aws.redis import typed
from heroku2aws.redis.errors import CopyError
from heroku2aws.redis.options import CopyOptions, CopyResult
from heroku2aws.redis.urls import Endpoint, parse_endpoint

LARGE = 2048  # bytes of MEMORY USAGE above which these tests' values are streamed


def ep(server) -> Endpoint:
    return parse_endpoint(server.url())


def run(source, target, **opts) -> CopyResult:
    opts.setdefault("large_bytes", LARGE)
    opts.setdefault("chunk", 100)
    opts.setdefault("chunk_bytes", 1024)
    return copier.copy_and_verify(ep(source), ep(target), CopyOptions(**opts))


def dumps(client) -> int:
    return int(client.info("commandstats").get("cmdstat_dump", {}).get("calls", 0))


def temp_keys(client) -> list[bytes]:
    return list(client.scan_iter(match=typed.TEMP_PREFIX + b"*"))


def test_large_values_of_every_type_are_streamed_not_dumped(source, target):
    src, tgt = source.client(), target.client()
    keys = seed_every_type(src, "p:") + seed_every_type(src, "v:", ttl_ms=3_600_000)
    large = [k for k in keys if src.memory_usage(k) > LARGE]
    assert len(large) >= 10 and any(k.endswith("stream:s") for k in large)  # every type has a large member here
    before = dumps(src)
    result = run(source, target)
    assert result.ok, result.verify.describe()
    s = result.stats
    assert s.streamed_keys == len(large) and s.keys == len(keys)
    # the copier DUMPed the small keys only (verification DUMPs on its own connection, counted after)
    assert result.stats.restored == len(keys) - len(large)
    assert dumps(src) - before >= len(keys) - len(large)
    assert s.fallback_max_string_chunk <= 1024
    assert_same(src, tgt)  # streams: entries, last ID, groups, consumers and pending entries (XCLAIM ... FORCE)
    assert_ttls_close(src, tgt, keys)
    assert temp_keys(tgt) == []


def test_the_copier_dumps_no_large_value(source, target, monkeypatch):
    """The reader never asks for the payload of a value above large_bytes."""
    src = source.client()
    src.set("huge", b"x" * 50_000)
    src.set("tiny", b"y")
    sent: list[bytes] = []
    original = copier.Conn.send
    port = ep(source).port

    def spy(self, data):
        if self.ep.port == port:
            sent.append(bytes(data))
        return original(self, data)

    monkeypatch.setattr(copier.Conn, "send", spy)
    stats, _ = copier.copy(ep(source), ep(target), CopyOptions(large_bytes=LARGE, chunk_bytes=4096))
    wire = b"".join(sent)
    assert b"DUMP\r\n$4\r\ntiny" in wire and b"DUMP\r\n$4\r\nhuge" not in wire
    assert stats.streamed_keys == 1 and stats.restored == 1
    assert target.client().get("huge") == b"x" * 50_000


@pytest.mark.parametrize("replace", [False, True])
def test_a_key_written_on_the_target_while_streaming_is_judged_like_busykey(source, target, monkeypatch, replace):
    src, tgt = source.client(), target.client()
    tgt.set("unrelated", "1")  # the target was not empty: a key that appears is someone else's (a conflict)
    src.set("big", b"s" * 20_000)
    src.pexpire("big", 600_000)
    original = typed.TypeAwareCopier._fill

    def racing(self, db, key, tmp, kind):
        n = original(self, db, key, tmp, kind)
        assert tgt.get(key) is None and tgt.strlen(tmp) == 20_000  # the value is whole under its temporary name
        tgt.set(key, "written by the app")
        return n

    monkeypatch.setattr(typed.TypeAwareCopier, "_fill", racing)
    stats, _ = copier.copy(ep(source), ep(target), CopyOptions(large_bytes=LARGE, replace=replace))
    if replace:
        assert tgt.get("big") == b"s" * 20_000 and stats.conflicts == 0
        assert 590_000 < tgt.pttl("big") <= 600_000
    else:
        assert tgt.get("big") == b"written by the app" and tgt.ttl("big") == -1
        assert stats.conflict_keys == ["db0:big"]
    assert temp_keys(tgt) == []


def test_a_failure_part_way_leaves_neither_the_key_nor_its_temporary_copy(source):
    """The target refuses APPEND (a restricted command list): the first chunk lands, the second fails."""
    from heroku2aws_rehearsal.servers import RedisServer

    src = source.client()
    src.set("big", b"z" * 10_000)
    with RedisServer(name="no-append", extra_args=("--rename-command", "APPEND", "")).start() as target:
        with pytest.raises(CopyError, match="APPEND"):
            copier.copy(ep(source), ep(target), CopyOptions(large_bytes=LARGE, chunk_bytes=4096))
        tgt = target.client()
        assert tgt.dbsize() == 0, list(tgt.scan_iter())


def test_a_source_that_refuses_memory_usage_is_sized_by_length(target):
    from heroku2aws_rehearsal.servers import RedisServer

    with RedisServer(name="no-memory-src", extra_args=("--rename-command", "MEMORY", "")).start() as source:
        src = source.client()
        src.set("big:string", b"q" * 30_000)
        src.hset("big:hash", mapping={f"f{i}": i for i in range(1000)})  # 1000 x 64 bytes guessed: large
        src.set("small", "v")
        src.hset("small:hash", "f", "v")
        src.expire("big:hash", 3600)
        result = run(source, target)
        assert result.ok, result.verify.describe()
        assert result.stats.streamed_keys == 2 and result.stats.restored == 2
        assert_ttls_close(src, target.client(), ["big:hash"])
