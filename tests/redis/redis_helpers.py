"""Helpers for the redis-copy tests: seeding every type, comparing two databases value by value."""

from __future__ import annotations

SOURCE_PASSWORD = "src-Pa55word-never-printed"
TARGET_PASSWORD = "tgt-Pa55word-never-printed"


def seed_every_type(r, prefix: str = "", ttl_ms: int | None = None) -> list[str]:
    """Keys of every type in their compact and their large encodings; returns the key names."""
    p = r.pipeline(transaction=False)
    keys = []

    def k(name: str) -> str:
        keys.append(prefix + name)
        return prefix + name

    p.set(k("str:embstr"), "hello")
    p.set(k("str:int"), 12345)
    p.set(k("str:raw"), "x" * 5000)
    p.set(k("str:binary"), bytes(range(256)) * 3)
    p.setbit(k("str:bitmap"), 100_000, 1)
    p.pfadd(k("str:hll"), *[f"u{i}" for i in range(500)])
    p.rpush(k("list:small"), "a", "b", "c", "a")
    p.rpush(k("list:big"), *[f"item-{i}" for i in range(3000)])
    p.sadd(k("set:intset"), *range(100))
    p.sadd(k("set:listpack"), "a", "b", "c")
    p.sadd(k("set:hashtable"), *[f"m{i}" for i in range(2000)])
    p.zadd(k("zset:small"), {"a": 1.5, "b": -2, "c": 1e300})
    p.zadd(k("zset:skiplist"), {f"m{i}": i / 7 for i in range(2000)})
    p.geoadd(k("zset:geo"), (13.361389, 38.115556, "Palermo"), (15.087269, 37.502669, "Catania"))
    p.hset(k("hash:small"), mapping={"f1": "v1", "f2": "v2"})
    p.hset(k("hash:big"), mapping={f"field{i}": f"value{i}" * 3 for i in range(2000)})
    for i in range(50):
        p.xadd(k("stream:s") if i == 0 else prefix + "stream:s", {"n": i, "who": f"user{i}"}, id=f"{1000 + i}-{i % 3}")
    p.xgroup_create(prefix + "stream:s", "g1", id="0")
    p.xgroup_create(prefix + "stream:s", "g2", id="1010-0")
    p.execute()
    # pending entries in g1, a deleted entry, and an empty stream with a group
    r.xreadgroup("g1", "consumer-a", {prefix + "stream:s": ">"}, count=5)
    r.xdel(prefix + "stream:s", "1049-1")
    r.xgroup_create(k("stream:empty"), "g", id="$", mkstream=True)
    if ttl_ms is not None:
        p = r.pipeline(transaction=False)
        for key in keys:
            p.pexpire(key, ttl_ms)
        p.execute()
    return keys


def snapshot(r, pending: bool = True) -> dict:
    """Every key of the client's database: (type, value compared per type, has TTL)."""
    out = {}
    for key in r.scan_iter(count=1000):
        t = r.type(key).decode()
        if t == "string":
            v = r.get(key)
        elif t == "list":
            v = r.lrange(key, 0, -1)
        elif t == "set":
            v = frozenset(r.smembers(key))
        elif t == "zset":
            v = sorted(r.zrange(key, 0, -1, withscores=True))
        elif t == "hash":
            v = r.hgetall(key)
        elif t == "stream":
            info = r.xinfo_stream(key)
            groups = sorted((g["name"], g["last-delivered-id"], g["pending"] if pending else None)
                            for g in r.xinfo_groups(key))
            v = (r.xrange(key), info["last-generated-id"], groups)
        else:
            v = r.dump(key)
        out[key] = (t, v, r.pttl(key) >= 0)
    return out


def assert_same(src, tgt, pending: bool = True) -> None:
    a, b = snapshot(src, pending), snapshot(tgt, pending)
    assert sorted(a) == sorted(b), (set(a) ^ set(b))
    for key in a:
        assert a[key] == b[key], key


def assert_ttls_close(src, tgt, keys, tolerance_ms: int = 2000) -> None:
    for key in keys:
        s, t = src.pttl(key), tgt.pttl(key)
        assert (s == -1) == (t == -1), (key, s, t)
        if s >= 0:
            assert t <= s + 50 and s - t <= tolerance_ms, (key, s, t)
