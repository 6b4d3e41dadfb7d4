"""The reverse pass of the Redis verification (issue 15, 2): every target key is still judged, but the keys the
forward pass judged are not looked up on the source again - only the others are."""

from __future__ import annotations

import types

import pytest

from heroku2aws.redis import verify as verifier
from heroku2aws.redis.urls import parse_endpoint


def ep(server):
    return parse_endpoint(server.url())


def _same_keys(source, target, n: int = 3000) -> None:
    for server in (source, target):
        c = server.client()
        c.flushall()
        pipe = c.pipeline(transaction=False)
        for i in range(n):
            pipe.set(f"k{i}", f"v{i}")
        pipe.execute()


@pytest.fixture
def looked_up(monkeypatch):
    """The target keys the reverse pass looks up on the source (EXISTS there, PTTL on the target)."""
    seen: list[bytes] = []
    original = verifier.Comparer.target_only

    def target_only(self, db, keys):
        seen.extend(keys)
        original(self, db, keys)

    monkeypatch.setattr(verifier.Comparer, "target_only", target_only)
    return seen


def test_only_target_keys_the_forward_pass_did_not_judge_are_looked_up(source, target, looked_up):
    _same_keys(source, target)
    tgt = target.client()
    tgt.set("intruder", 1)
    tgt.set("leftover", 1, px=600_000)
    result = verifier.verify(ep(source), ep(target))
    assert sorted(looked_up) == [b"intruder", b"leftover"]  # not the 3,000 keys both sides have
    assert {m.key: m.reason for m in result.mismatches} == {"intruder": "only on the target",
                                                             "leftover": "only on the target"}
    assert (result.source_keys, result.target_keys) == (3000, 3002)


def test_a_key_the_source_lost_after_listing_is_still_judged_on_the_target(source, target, looked_up, monkeypatch):
    """A source key that expired (or was deleted) between the SCAN and its check was not judged: the reverse pass
    looks its target copy up, as it does any key the forward pass did not see."""
    _same_keys(source, target, 50)
    src = source.client()
    original = verifier.Comparer.compare

    def compare(self, db, keys, values=True):
        src.delete("k7")  # gone from the source after the SCAN listed it
        original(self, db, keys, values)

    monkeypatch.setattr(verifier.Comparer, "compare", compare)
    result = verifier.verify(ep(source), ep(target))
    assert looked_up == [b"k7"]
    assert [(m.key, m.reason) for m in result.mismatches] == [("k7", "only on the target")]


def test_above_the_remembered_key_count_every_target_key_is_looked_up(source, target, looked_up, monkeypatch):
    monkeypatch.setattr(verifier, "MAX_REMEMBERED", 10)
    _same_keys(source, target, 200)
    target.client().set("intruder", 1)
    result = verifier.verify(ep(source), ep(target))
    assert len(looked_up) == 201
    assert [m.key for m in result.mismatches] == ["intruder"]


def test_without_hash_randomization_a_keyed_blake2b_is_used(monkeypatch):
    monkeypatch.setattr(verifier, "sys", types.SimpleNamespace(flags=types.SimpleNamespace(hash_randomization=0)))
    a, b = verifier.SeenKeys(), verifier.SeenKeys()
    assert a.digest is not hash
    assert a.digest(b"key") != b.digest(b"key")  # a fresh secret each time: not predictable
    a.add(b"key")
    assert a.unseen([b"key", b"other"]) == [b"other"]
