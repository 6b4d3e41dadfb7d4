"""Is the target the source's copy? Every key, both ways: presence, type, TTL and value.

Complete by default (``opts.verify_sample`` = 1.0; a share below 1 compares the values of that share only, presence,
type and TTL of every key are always checked):

* **every source key** (SCAN on the source): on the target with the same type, a TTL within the tolerance, and the
  same value. Values are compared by ``DUMP`` payloads first (one bulk string a side, cheap to read); payloads that
  differ (another RDB version, another encoding, a hash table iterated in another order) are compared per type:
  strings byte for byte, lists in order, hashes and sets as maps and sets, sorted sets member by member with their
  scores, streams entry by entry plus their last ID, counters, consumer groups (last delivered ID, entries read),
  consumers and pending entries (ID, consumer, delivery count). Values above ``chunk`` members / ``chunk_bytes``
  bytes are compared in chunks, never whole, and never DUMPed.
* **every target key** (SCAN on the target) exists on the source: a key only on the target is named. The forward
  pass remembers a keyed 64-bit hash of each source key it judged (:class:`SeenKeys`, about 9 bytes a key, up to
  :data:`MAX_REMEMBERED` keys a database); a target key it judged needs no more than the SCAN that lists it, and
  only the others are looked up on the source (``EXISTS``, with the target's ``PTTL``). Before, every target key
  took an ``EXISTS`` and a ``PTTL`` again: the reverse pass cost about as much as a third of the verification.
* **expiry does not fool the verdict**: a key missing on the target whose source copy expires within the tolerance
  (or has expired) is no difference; nor is a key on the target, about to expire, whose source copy has expired.
  Key counts are what the scans saw, for the report; they are not compared (``DBSIZE`` counts expired keys not yet
  reclaimed, and a copy's keys expire a few milliseconds before their source's).

The report names what differs (key names and what kind of difference; never a value).
"""

from __future__ import annotations

import hashlib
import os
import random
import sys
import time
from array import array
from bisect import bisect_left
from collections.abc import Callable

import hiredis

from .errors import MAX_NAMED, CopyError, show
from .options import CopyOptions, Mismatch, VerifyResult
from .resp import Conn, encode, keyspace, pairs, scan_keys
from .typed import READ_ALL, SIZE_CMD, TYPES
from .urls import Endpoint

__all__ = ["MAX_REMEMBERED", "Comparer", "SeenKeys", "rdb_version", "stream_state_differs", "verify"]

#: Source keys a database may have for the forward pass to remember them (:class:`SeenKeys`); above it, the reverse
#: pass looks every target key up on the source, as it always did (memory stays bounded whatever the key count).
MAX_REMEMBERED = 8_000_000
#: Keys a reverse-pass SCAN asks for at once (the server's work is the same whatever the count: fewer round trips).
REVERSE_SCAN_COUNT = 5000


def rdb_version(payload: bytes) -> int | None:
    """The RDB version a ``DUMP`` payload was written with (the two bytes before its CRC64), or None."""
    return int.from_bytes(payload[-10:-8], "little") if isinstance(payload, bytes) and len(payload) >= 10 else None


class SeenKeys:
    """The source keys the forward pass judged, as keyed 64-bit hashes (never the keys: bounded memory).

    Python's ``hash`` of bytes is SipHash keyed by a random per-process secret: nobody can choose a target key that
    collides with a source key's, and two keys collide by chance once in 2**64. With hash randomization turned off
    (``PYTHONHASHSEED``), a BLAKE2b keyed by a fresh random secret takes its place. A collision could only hide a key
    that is on the target and not on the source: not a chance an adversary gets.

    Kept in 256 arrays of unsigned 64-bit integers (about 9 bytes a key: a ``set`` of ints took 66, which made the
    copy process's peak 53 MiB larger on 750,000 keys), each sorted once when the reverse pass starts (one bucket's
    worth of temporary list at a time) and searched by bisection."""

    BUCKETS = 256

    def __init__(self) -> None:
        self._buckets = [array("Q") for _ in range(self.BUCKETS)]
        self._sorted = True
        self._count = 0
        self.digest: Callable[[bytes], int]
        if sys.flags.hash_randomization:
            self.digest = lambda k: hash(k) & _U64
        else:
            secret = os.urandom(16)

            def keyed(k: bytes) -> int:
                return int.from_bytes(hashlib.blake2b(k, digest_size=8, key=secret).digest(), "little")

            self.digest = keyed

    def add(self, key: bytes) -> None:
        h = self.digest(key)
        self._buckets[h % self.BUCKETS].append(h)
        self._sorted = False
        self._count += 1

    def unseen(self, keys: list[bytes]) -> list[bytes]:
        if not self._sorted:
            for i, bucket in enumerate(self._buckets):
                self._buckets[i] = array("Q", sorted(bucket))
            self._sorted = True
        out = []
        buckets, digest, n = self._buckets, self.digest, self.BUCKETS
        for k in keys:
            h = digest(k)
            bucket = buckets[h % n]
            i = bisect_left(bucket, h)
            if i == len(bucket) or bucket[i] != h:
                out.append(k)
        return out

    def __len__(self) -> int:
        return self._count


_U64 = (1 << 64) - 1


class Comparer:
    """Compares keys of one database on two connections (each already SELECTed) and records what differs."""

    def __init__(self, src: Conn, tgt: Conn, opts: CopyOptions, result: VerifyResult):
        self.src, self.tgt, self.opts, self.result = src, tgt, opts, result
        self.same_rdb: bool | None = None   # learnt from the first pair of DUMP payloads
        self.skew_ms = 0                    # how far apart the last TTLs may have been read on the two sides
        self.no_memory_usage = False        # the servers refuse MEMORY USAGE: sizes by type
        self._volatile: set[bytes] = set()  # keys of the batch being compared that have a TTL
        self._suspects: list[tuple[bytes, str]] = []
        self.seen: SeenKeys | None = None   # the source keys judged in this database (None: not remembered)

    def differs(self, db: int, key: bytes, reason: str) -> None:
        """A value difference: final for a key without a TTL; for one with a TTL, only if the key is still there
        on both sides once the batch is compared (a key expiring between two reads is read as "gone" on one side)."""
        if key in self._volatile:
            self._suspects.append((key, reason))
        else:
            self.mismatch(db, key, reason)

    def _settle(self, db: int) -> None:
        suspects, self._suspects = self._suspects, []
        if not suspects:
            return
        s, t = self.both([("EXISTS", k) for k, _ in suspects])
        for (k, reason), a, b in zip(suspects, s, t, strict=True):
            if a == 1 and b == 1:
                self.mismatch(db, k, reason)
            else:
                self.result.expiring += 1

    def mismatch(self, db: int, key: bytes, reason: str) -> None:
        if reason in ("missing on the target", "only on the target"):
            self.result.presence_dbs[db] = self.result.presence_dbs.get(db, 0) + 1
        self.result.mismatch_count += 1
        if len(self.result.mismatches) < MAX_NAMED:
            self.result.mismatches.append(Mismatch(db, show(key), reason))

    def both_keyed(self, names: tuple[str, ...], keys: list[bytes]) -> tuple[list, list]:
        """``name key`` for every name and key (in that order), on both sides at once; RESP written by templates
        (a per-key :func:`encode` costs more than Redis's own work on small keys)."""
        n = len(names) * len(keys)
        if not n:
            return [], []
        data = _keyed(names, keys)
        started = time.monotonic()
        self.src.send(data)
        self.tgt.send(data)
        out = [self.src.get() for _ in range(n)], [self.tgt.get() for _ in range(n)]
        # the two servers answered somewhere in this window: their TTLs may be read this far apart
        self.skew_ms = int((time.monotonic() - started) * 1000) + 1
        return out

    def both(self, cmds: list[tuple]) -> tuple[list, list]:
        """The same pipeline on both sides at once (so TTLs are read at nearly the same moment)."""
        if not cmds:
            return [], []
        data = b"".join(encode(*c) for c in cmds)
        self.src.send(data)
        self.tgt.send(data)
        return [self.src.get() for _ in cmds], [self.tgt.get() for _ in cmds]

    def compare(self, db: int, keys: list[bytes], values: bool = True) -> None:
        """Presence, type, TTL (and, with ``values``, the value) of source keys ``keys`` on the target.

        Three commands a key and side for the common case: ``PTTL`` and ``MEMORY USAGE`` (is the value small enough
        to ``DUMP``?), then ``DUMP``: equal payloads are equal type, value and metadata. Keys whose payloads differ,
        large values, servers that refuse ``MEMORY USAGE`` and sampled runs take the per-type way."""
        self._volatile = set()
        if not values or self.no_memory_usage or self.same_rdb is False:
            self._compare_typed(db, keys, values)
            self._settle(db)
            return
        s, t = self.both_keyed(("PTTL", "MEMORY USAGE"), keys)
        if any(isinstance(r, hiredis.ReplyError) for r in (*s[1::2], *t[1::2])):
            self.no_memory_usage = True  # refused (a managed service's command list): the per-type way
            self._compare_typed(db, keys, values)
            self._settle(db)
            return
        tol = self.opts.ttl_tolerance_ms + self.skew_ms
        limit = self.opts.chunk_bytes
        dump: list[bytes] = []
        typed: list[bytes] = []
        for i, k in enumerate(keys):
            sttl, tttl, smem, tmem = s[2 * i], t[2 * i], s[2 * i + 1], t[2 * i + 1]
            if sttl == -2 or smem is None:
                continue  # expired (or deleted) on the source since it was listed
            self.result.source_keys += 1
            if self.seen is not None:
                self.seen.add(k)
            if sttl >= 0:
                self._volatile.add(k)
            if tttl == -2 or tmem is None:
                if 0 <= sttl <= tol:
                    self.result.expiring += 1
                else:
                    self.mismatch(db, k, "missing on the target")
                continue
            if not self._ttl_ok(db, k, sttl, tttl, tol):
                continue
            (dump if smem <= limit and tmem <= 2 * limit else typed).append(k)
        if dump:
            ds, dt = self.both_keyed(("DUMP",), dump)
            for k, a, b in zip(dump, ds, dt, strict=True):
                if a == b and a is not None:
                    self.result.sampled += 1
                elif a is None and b is None:
                    self.result.expiring += 1
                elif a is None or b is None:
                    self.differs(db, k, "missing on the " + ("target" if b is None else "source"))
                else:
                    if self.same_rdb is None:
                        self.same_rdb = rdb_version(a) == rdb_version(b)
                    typed.append(k)
        if typed:
            self._compare_typed(db, typed, values, counted=True, dumped=True)
        self._settle(db)

    def _ttl_ok(self, db: int, k: bytes, sttl: int, tttl: int, tol: int) -> bool:
        if (sttl == -1) != (tttl == -1):
            self.mismatch(db, k, f"TTL {_ttl(sttl)} on the source, {_ttl(tttl)} on the target")
            return False
        if sttl >= 0 and abs(sttl - tttl) > tol:
            self.mismatch(db, k, f"TTL {sttl} ms on the source, {tttl} ms on the target (tolerance "
                                 f"{self.opts.ttl_tolerance_ms} ms + {self.skew_ms} ms between the two reads)")
            return False
        return True

    def _compare_typed(self, db: int, keys: list[bytes], values: bool = True, counted: bool = False,
                       dumped: bool = False) -> None:
        """Type and TTL, then the value per type (``counted``: the keys are counted already; ``dumped``: their
        DUMP payloads were compared already and differ)."""
        s, t = self.both_keyed(("TYPE", "PTTL"), keys)
        tol = self.opts.ttl_tolerance_ms + self.skew_ms  # a server that answers late reads a TTL that much later
        todo = []
        for i, k in enumerate(keys):
            stype, ttype = _text(s[2 * i]), _text(t[2 * i])
            sttl, tttl = s[2 * i + 1], t[2 * i + 1]
            if sttl == -2:
                stype = "none"  # expired between TYPE and PTTL
            if tttl == -2:
                ttype = "none"
            if sttl >= 0:
                self._volatile.add(k)
            if stype == "none":
                if counted:
                    self.result.expiring += 1
                continue  # expired (or deleted) on the source since it was listed
            if not counted:
                self.result.source_keys += 1
                if self.seen is not None:
                    self.seen.add(k)
            if ttype == "none":
                if 0 <= sttl <= tol:
                    self.result.expiring += 1  # the copy expired first (its TTL was cut by its time in transit)
                    continue
                self.mismatch(db, k, "missing on the target")
                continue
            if stype != ttype:
                self.differs(db, k, f"type {stype} on the source, {ttype} on the target")
                continue
            if not self._ttl_ok(db, k, sttl, tttl, tol):
                continue
            if values:
                todo.append((k, stype))
        if not todo:
            return
        self.result.sampled += len(todo)
        sizes_s, sizes_t = self.both([(SIZE_CMD.get(kind, "EXISTS"), k) for k, kind in todo])
        small: list[tuple[bytes, str]] = []
        large: list[tuple[bytes, str]] = []
        for (k, kind), a, b in zip(todo, sizes_s, sizes_t, strict=True):
            if kind not in TYPES:
                small.append((k, kind))  # module types: DUMP payloads only
                continue
            if a != b:
                unit = "bytes" if kind == "string" else "members"
                self.differs(db, k, f"{kind} of {a} {unit} on the source, {b} on the target")
                continue
            limit = self.opts.chunk_bytes if kind == "string" else self.opts.chunk
            (large if isinstance(a, int) and a > limit else small).append((k, kind))
        if small:
            self._compare_small(db, small, dumped)
        for k, kind in large:
            reason = self._compare_large(k, kind)
            if reason:
                self.differs(db, k, reason)

    def _compare_small(self, db: int, keys: list[tuple[bytes, str]], dumped: bool = False) -> None:
        """DUMP payloads first (equal bytes: equal values, metadata included); what differs, per type."""
        typed = keys
        if self.same_rdb is not False and not dumped:
            ds, dt = self.both_keyed(("DUMP",), [k for k, _ in keys])
            typed = []
            for (k, kind), a, b in zip(keys, ds, dt, strict=True):
                if a is None or b is None:
                    if not (a is None and b is None):
                        self.differs(db, k, "missing on the " + ("target" if b is None else "source"))
                    continue  # gone on both sides since TYPE: expired
                if a == b:
                    continue
                if self.same_rdb is None:
                    self.same_rdb = rdb_version(a) == rdb_version(b)
                if kind not in TYPES:
                    self.differs(db, k, f"{kind} values differ (DUMP payloads)")
                else:
                    typed.append((k, kind))
        if not typed:
            return
        cmds: list[tuple] = []
        for k, kind in typed:
            cmds += [("XRANGE", k, "-", "+")] if kind == "stream" else [READ_ALL[kind](k)] if kind in READ_ALL \
                else [("DUMP", k)]
        vs, vt = self.both(cmds)
        for (k, kind), a, b in zip(typed, vs, vt, strict=True):
            if kind == "stream":
                reason = "stream entries differ" if a != b else stream_state_differs(self.src, self.tgt, k,
                                                                                       self.opts.chunk)
            else:
                reason = None if _same_value(kind, a, b) else f"{kind} values differ"
            if reason:
                self.differs(db, k, reason)

    def reverse(self, db: int, keys: list[bytes]) -> None:
        """A batch of the target's SCAN: the keys the forward pass judged are counted; the others are looked up."""
        if self.seen is None:
            self.target_only(db, keys)
            return
        unseen = self.seen.unseen(keys)
        self.result.target_keys += len(keys) - len(unseen)
        if unseen:
            self.target_only(db, unseen)

    def target_only(self, db: int, keys: list[bytes]) -> None:
        """Target keys ``keys`` that the source does not have (not counting copies about to expire)."""
        data = _keyed(("EXISTS",), keys)
        started = time.monotonic()
        self.src.send(data)
        self.tgt.send(_keyed(("PTTL",), keys))
        s, t = [self.src.get() for _ in keys], [self.tgt.get() for _ in keys]
        tol = self.opts.ttl_tolerance_ms + int((time.monotonic() - started) * 1000) + 1
        for i, k in enumerate(keys):
            if t[i] == -2:
                continue  # expired on the target since it was listed
            self.result.target_keys += 1
            if s[i] == 1:
                continue
            if 0 <= t[i] <= tol:
                self.result.expiring += 1  # its source copy has expired; the copy follows within the tolerance
                continue
            self.mismatch(db, k, "only on the target")

    def _grow(self, count: int, part: list) -> int:
        """The next chunk's member count: doubled while chunks stay under half of ``chunk_bytes`` (fewer round trips
        on a million small members), halved above twice it (memory stays bounded whatever the member sizes)."""
        # estimated from a few members (summing a chunk of a million small members costs more than reading it)
        probe = [x for x in (part[:4] + part[-4:]) if isinstance(x, bytes)] if part else []
        n = len(part) * sum(map(len, probe)) // len(probe) if probe else 0
        if n < self.opts.chunk_bytes // 2:
            return min(count * 2, self.opts.chunk * 64)
        if n > self.opts.chunk_bytes * 2:
            return max(count // 2, 1)
        return count

    def _same_digest(self, key: bytes, kind: str) -> bool:
        """Both sides SCANned at once, each into an order-free digest (member count and the sum of the members'
        hashes): no member is sent back to the target, nothing is held but one chunk a side."""
        scan = "HSCAN" if kind == "hash" else "SSCAN"
        conns = (self.src, self.tgt)
        cursors = [b"0", b"0"]
        counts = [self.opts.chunk, self.opts.chunk]
        sums, seen, done = [0, 0], [0, 0], [False, False]
        while not all(done):
            active = [i for i in (0, 1) if not done[i]]
            for i in active:
                conns[i].send(encode(scan, key, cursors[i], "COUNT", counts[i]))
            for i in active:
                reply = conns[i].get()
                if isinstance(reply, hiredis.ReplyError):
                    raise CopyError(f"{scan} failed: {reply}")
                cursors[i], part = reply
                members = zip(part[0::2], part[1::2], strict=True) if kind == "hash" else part
                sums[i] += sum(map(hash, members))
                seen[i] += len(part)
                counts[i] = self._grow(counts[i], part)
                done[i] = cursors[i] == b"0"
        return seen[0] == seen[1] and sums[0] == sums[1]

    def _compare_large(self, key: bytes, kind: str) -> str | None:
        src, tgt, chunk = self.src, self.tgt, self.opts.chunk
        if kind == "string":
            step, off = self.opts.chunk_bytes, 0
            while True:
                a, b = self.both([("GETRANGE", key, off, off + step - 1)])
                if a[0] != b[0]:
                    return f"string differs in bytes {off}..{off + step - 1}"
                if len(a[0]) < step:
                    return None
                off += step
        if kind in ("list", "zset"):  # ordered: the same ranges read on both sides at once
            i, count = 0, chunk
            while True:
                cmd = ("LRANGE", key, i, i + count - 1) if kind == "list" else \
                    ("ZRANGE", key, i, i + count - 1, "WITHSCORES")
                a, b = self.both([cmd])
                if a[0] != b[0] and (kind == "list" or not _same_value("zset", a[0], b[0])):
                    unit = "members" if kind == "list" else "members (by rank)"
                    return f"{'list' if kind == 'list' else 'sorted set'} differs in {unit} {i}..{i + count - 1}"
                got = len(a[0]) if kind == "list" else len(a[0]) // 2
                if got < count:
                    return None
                i += count
                count = self._grow(count, a[0])
        if kind in ("hash", "set") and self._same_digest(key, kind):
            return None
        if kind in ("hash", "set"):  # the digests differ (or SCAN returned a member twice): find what differs
            scan, probe = {"hash": ("HSCAN", "HMGET"), "set": ("SSCAN", "SMISMEMBER"), "zset": ("ZSCAN", "ZMSCORE")}[kind]
            count = chunk
            cursor: bytes | None = b"0"
            sent: list | None = None  # the chunk whose probe is in flight on the target
            sent_part: list = []
            reason = None
            while True:
                if cursor is not None:
                    cursor, part = src.call(scan, key, cursor, "COUNT", count)
                    count = self._grow(count, part)
                if sent is not None:
                    got = tgt.get()
                    if isinstance(got, hiredis.ReplyError):
                        raise CopyError(f"{probe} on the target failed: {got}")
                    sent = None
                    reason = _probe_differs(kind, sent_part, got)
                    if reason is not None:
                        return reason
                if cursor is None:
                    return reason
                if part:
                    tgt.send(_bulk(probe.encode(), key, part if kind == "set" else part[0::2]))
                    sent = sent_part = part
                if cursor == b"0":
                    cursor = None
                    if sent is None:
                        return reason
        if kind == "stream":
            start = b"-"
            while True:
                a, b = self.both([("XRANGE", key, start, b"+", "COUNT", chunk)])
                if a[0] != b[0]:
                    return "stream entries differ"
                if len(a[0]) < chunk:
                    break
                start = b"(" + a[0][-1][0]
            return stream_state_differs(src, tgt, key, chunk)
        return None


_PREFIX = {name: b"*2\r\n$%d\r\n%b\r\n" % (len(name), name.encode()) for name in
           ("TYPE", "PTTL", "DUMP", "EXISTS", *SIZE_CMD.values())}
_PREFIX["MEMORY USAGE"] = b"*3\r\n$6\r\nMEMORY\r\n$5\r\nUSAGE\r\n"


def _keyed(names: tuple[str, ...], keys: list[bytes]) -> bytes:
    if len(names) == 1:
        head = _PREFIX[names[0]]
        return b"".join([head + b"$%d\r\n%b\r\n" % (len(k), k) for k in keys])
    heads = [_PREFIX[n] for n in names]
    out: list[bytes] = []
    for k in keys:
        arg = b"$%d\r\n%b\r\n" % (len(k), k)
        out += [h + arg for h in heads]
    return b"".join(out)


def _bulk(name: bytes, key: bytes, items: list[bytes]) -> bytes:
    """``name key item...`` in RESP (the items are bytes as a reply gave them: no conversion per item)."""
    return b"*%d\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n%b" % (
        len(items) + 2, len(name), name, len(key), key, b"".join([b"$%d\r\n%b\r\n" % (len(x), x) for x in items]))


def _text(r) -> str:
    return r.decode() if isinstance(r, bytes) else "none"


def _ttl(ms: int) -> str:
    return "none" if ms == -1 else f"{ms} ms"


def _probe_differs(kind: str, part: list, got: list) -> str | None:
    if kind == "hash" and got != part[1::2]:
        return "hash fields differ"
    if kind == "set" and any(x != 1 for x in got):
        return "set members differ"
    if kind == "zset" and any(g is None or float(g) != float(s) for g, s in zip(got, part[1::2], strict=True)):
        return "sorted set members or scores differ"
    return None


_STREAM_FIELDS = (b"last-generated-id", b"entries-added", b"max-deleted-entry-id")


def stream_groups(conn: Conn, key: bytes, chunk: int = 1000) -> dict | None:
    """A stream's counters and consumer groups as comparable data: ``{"stream": {...}, "groups": {name: {...}}}``
    with each group's last delivered ID, entries read, consumers (name → pending) and pending entries
    (ID → (consumer, delivery count)); None when the key is gone or is not a stream."""
    info = conn.pipeline([("XINFO", "STREAM", key), ("XINFO", "GROUPS", key)])
    if any(isinstance(r, hiredis.ReplyError) for r in info):
        return None
    stream = {f: v for f, v in pairs(info[0]).items() if f in _STREAM_FIELDS}
    groups: dict = {}
    for g in map(pairs, info[1]):
        name = g[b"name"]
        consumers = {c[b"name"]: c[b"pending"] for c in map(pairs, conn.call("XINFO", "CONSUMERS", key, name))}
        pel: dict = {}
        start = b"-"
        while True:
            part = conn.call("XPENDING", key, name, start, b"+", chunk)
            for eid, consumer, _idle, deliveries in part:
                pel[eid] = (consumer, deliveries)
            if len(part) < chunk:
                break
            start = b"(" + part[-1][0]
        groups[name] = {"last-delivered-id": g[b"last-delivered-id"], "entries-read": g.get(b"entries-read"),
                        "pending": g[b"pending"], "consumers": consumers, "pel": pel}
    return {"stream": stream, "groups": groups}


def stream_state_differs(src: Conn, tgt: Conn, key: bytes, chunk: int = 1000) -> str | None:
    """What differs between two streams' counters, groups, consumers and pending entries (entries aside)."""
    a, b = stream_groups(src, key, chunk), stream_groups(tgt, key, chunk)
    if a is None or b is None:
        return "stream could not be read on both sides"
    for f in _STREAM_FIELDS:
        if f in a["stream"] and f in b["stream"] and a["stream"][f] != b["stream"][f]:
            return f"stream {f.decode()} differs"
    ga, gb = a["groups"], b["groups"]
    if set(ga) != set(gb):
        return f"stream consumer groups differ ({len(ga)} on the source, {len(gb)} on the target)"
    for name in sorted(ga):
        x, y = ga[name], gb[name]
        for field in ("last-delivered-id", "entries-read"):
            if x[field] != y[field]:
                return f"stream group {show(name)}: {field} differs"
        if set(x["consumers"]) != set(y["consumers"]):
            return f"stream group {show(name)}: consumers differ"
        if x["pel"] != y["pel"]:
            missing = len(set(x["pel"]) - set(y["pel"]))
            return (f"stream group {show(name)}: pending entries differ ({x['pending']} on the source, "
                    f"{y['pending']} on the target, {missing} missing)")
    return None


def _same_value(kind: str, a, b) -> bool:
    if isinstance(a, hiredis.ReplyError) or isinstance(b, hiredis.ReplyError):
        return False
    if kind in ("string", "list"):
        return a == b
    if kind == "set":
        return isinstance(a, list) and isinstance(b, list) and set(a) == set(b) and len(a) == len(b)
    if kind == "hash":
        return isinstance(a, list) and isinstance(b, list) and pairs(a) == pairs(b)
    if kind == "zset":
        if not (isinstance(a, list) and isinstance(b, list)) or len(a) != len(b):
            return False
        return {m: float(s) for m, s in pairs(a).items()} == {m: float(s) for m, s in pairs(b).items()}
    return a == b  # DUMP payloads of module types


def verify(source: Endpoint, target: Endpoint, opts: CopyOptions | None = None, dbs: list[int] | None = None,
           rng: random.Random | None = None) -> VerifyResult:
    """Every key both ways: see the module docstring. ``opts.verify_sample`` below 1 compares the values of that
    share of keys only (presence, type and TTL of every key are checked whatever the share)."""
    opts = opts or CopyOptions()
    rng = rng or random.Random()
    result = VerifyResult()
    started = time.monotonic()
    src, tgt = Conn(source), Conn(target)
    share = max(0.0, min(1.0, opts.verify_sample))
    result.complete = share >= 1
    try:
        src_ks, tgt_ks = keyspace(src), keyspace(tgt)
        if dbs is None:
            dbs = sorted({db for db, (n, _) in src_ks.items() if n} | {db for db, (n, _) in tgt_ks.items() if n})
            if opts.dbs is not None:
                dbs = sorted(set(opts.dbs))
        comparer = Comparer(src, tgt, opts, result)
        for db in dbs:
            src.select(db)
            tgt.select(db)
            before = (result.source_keys, result.target_keys)
            comparer.seen = SeenKeys() if src_ks.get(db, (0, 0))[0] <= MAX_REMEMBERED else None
            for keys in scan_keys(src, 1000):
                if share >= 1:
                    comparer.compare(db, keys)
                else:
                    picked = {k for k in keys if rng.random() < share}
                    comparer.compare(db, [k for k in keys if k in picked])
                    comparer.compare(db, [k for k in keys if k not in picked], values=False)
            for keys in scan_keys(tgt, REVERSE_SCAN_COUNT):
                comparer.reverse(db, keys)
            comparer.seen = None
            result.counts[db] = (result.source_keys - before[0], result.target_keys - before[1])
            if result.presence_dbs.get(db):
                result.count_mismatches.append(db)
    finally:
        src.close()
        tgt.close()
    result.seconds = time.monotonic() - started
    return result
