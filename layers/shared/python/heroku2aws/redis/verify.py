"""Is the target the source's copy? Key counts per database and a sampled, per-type comparison of values.

Key counts come from ``DBSIZE`` (when they differ, an exact count of live keys by ``SCAN`` on both sides); a
share of keys is compared: type, TTL within a tolerance, and the value per type (strings byte for byte, lists in
order, hashes and sets as maps and sets, sorted sets member by member with their scores, streams entry by entry
plus their last ID and groups). Large values are compared in chunks.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import hiredis

from .errors import MAX_NAMED, CopyError, show
from .options import CopyOptions, Mismatch, VerifyResult
from .resp import Conn, encode, keyspace, pairs, scan_keys
from .typed import READ_ALL, SIZE_CMD, TYPES
from .urls import Endpoint

__all__ = ["verify"]


def _live_count(ep: Endpoint, db: int) -> int:
    conn = Conn(ep)
    try:
        conn.select(db)
        return sum(len(k) for k in scan_keys(conn))
    finally:
        conn.close()


def _in_parallel(*fns: Callable[[], object]) -> list:
    out: list = [None] * len(fns)
    errs: list[BaseException] = []

    def run(i: int, fn) -> None:
        try:
            out[i] = fn()
        except BaseException as exc:
            errs.append(exc)

    threads = [threading.Thread(target=run, args=(i, fn), daemon=True) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errs:
        raise errs[0]
    return out


class _Comparer:
    def __init__(self, src: Conn, tgt: Conn, opts: CopyOptions, result: VerifyResult):
        self.src, self.tgt, self.opts, self.result = src, tgt, opts, result

    def mismatch(self, db: int, key: bytes, reason: str) -> None:
        self.result.mismatch_count += 1
        if len(self.result.mismatches) < MAX_NAMED:
            self.result.mismatches.append(Mismatch(db, show(key), reason))

    def both(self, cmds: list[tuple]) -> tuple[list, list]:
        """The same pipeline on both sides at once (so TTLs are read at nearly the same moment)."""
        if not cmds:
            return [], []
        data = b"".join(encode(*c) for c in cmds)
        self.src.send(data)
        self.tgt.send(data)
        return [self.src.get() for _ in cmds], [self.tgt.get() for _ in cmds]

    def compare(self, db: int, keys: list[bytes]) -> None:
        tol = self.opts.ttl_tolerance_ms
        s, t = self.both([c for k in keys for c in (("TYPE", k), ("PTTL", k))])
        todo = []
        for i, k in enumerate(keys):
            stype, ttype = s[2 * i].decode(), t[2 * i].decode()
            sttl, tttl = s[2 * i + 1], t[2 * i + 1]
            if stype == "none":
                continue  # expired (or deleted) on the source since it was listed
            if ttype == "none":
                if 0 <= sttl <= tol:
                    continue  # expiring right now on both sides
                self.mismatch(db, k, "missing on the target")
                continue
            if stype != ttype:
                self.mismatch(db, k, f"type {stype} on the source, {ttype} on the target")
                continue
            if (sttl == -1) != (tttl == -1):
                self.mismatch(db, k, f"TTL {sttl} ms on the source, {tttl} ms on the target")
                continue
            if sttl >= 0 and abs(sttl - tttl) > tol:
                self.mismatch(db, k, f"TTL {sttl} ms on the source, {tttl} ms on the target (tolerance {tol} ms)")
                continue
            todo.append((k, stype))
        if not todo:
            return
        sizes_s, sizes_t = self.both([(SIZE_CMD.get(kind, "EXISTS"), k) for k, kind in todo])
        small, large = [], []
        for (k, kind), a, b in zip(todo, sizes_s, sizes_t, strict=True):
            if kind not in TYPES:
                small.append((k, kind))  # module types: DUMP payloads compared
                continue
            if a != b:
                unit = "bytes" if kind == "string" else "members"
                self.mismatch(db, k, f"{kind} of {a} {unit} on the source, {b} on the target")
                continue
            limit = self.opts.chunk_bytes if kind == "string" else self.opts.chunk
            (large if isinstance(a, int) and a > limit else small).append((k, kind))
        if small:
            cmds: list[tuple] = []
            for k, kind in small:
                if kind == "stream":
                    cmds += [("XRANGE", k, "-", "+"), ("XINFO", "STREAM", k), ("XINFO", "GROUPS", k)]
                else:
                    cmds.append(READ_ALL[kind](k) if kind in READ_ALL else ("DUMP", k))
            vs, vt = self.both(cmds)
            pos = 0
            for k, kind in small:
                if kind == "stream":
                    reason = _stream_differs(vs[pos:pos + 3], vt[pos:pos + 3])
                    pos += 3
                else:
                    reason = None if _same_value(kind, vs[pos], vt[pos]) else f"{kind} values differ"
                    pos += 1
                if reason:
                    self.mismatch(db, k, reason)
        for k, kind in large:
            reason = self._compare_large(k, kind)
            if reason:
                self.mismatch(db, k, reason)

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
        if kind == "list":
            i = 0
            while True:
                a, b = self.both([("LRANGE", key, i, i + chunk - 1)])
                if a[0] != b[0]:
                    return f"list differs in members {i}..{i + chunk - 1}"
                if len(a[0]) < chunk:
                    return None
                i += chunk
        if kind in ("hash", "set", "zset"):
            scan, probe = {"hash": ("HSCAN", "HMGET"), "set": ("SSCAN", "SMISMEMBER"), "zset": ("ZSCAN", "ZMSCORE")}[kind]
            cursor = b"0"
            sent: list | None = None  # the chunk whose probe is in flight on the target
            sent_part: list = []
            reason = None
            while True:
                if cursor is not None:
                    cursor, part = src.call(scan, key, cursor, "COUNT", chunk)
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
                    tgt.send(encode(probe, key, *(part if kind == "set" else part[0::2])))
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
            a, b = self.both([("XINFO", "STREAM", key), ("XINFO", "GROUPS", key)])
            return _stream_differs([[], *a], [[], *b])
        return None


def _probe_differs(kind: str, part: list, got: list) -> str | None:
    if kind == "hash" and got != part[1::2]:
        return "hash fields differ"
    if kind == "set" and any(x != 1 for x in got):
        return "set members differ"
    if kind == "zset" and any(g is None or float(g) != float(s) for g, s in zip(got, part[1::2], strict=True)):
        return "sorted set members or scores differ"
    return None


def _stream_differs(a: list, b: list) -> str | None:
    """``a``/``b``: replies of XRANGE - +, XINFO STREAM, XINFO GROUPS on each side."""
    if any(isinstance(x, hiredis.ReplyError) for x in (*a, *b)):
        return "stream could not be read on both sides"
    if a[0] != b[0]:
        return "stream entries differ"
    if pairs(a[1]).get(b"last-generated-id") != pairs(b[1]).get(b"last-generated-id"):
        return "stream last generated ID differs"

    def groups(reply: list) -> list:
        return sorted((g[b"name"], g[b"last-delivered-id"]) for g in map(pairs, reply))

    if groups(a[2]) != groups(b[2]):
        return "stream consumer groups differ"
    return None


def _same_value(kind: str, a, b) -> bool:
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
    """Key counts per database and a sampled, per-type comparison of ``opts.verify_sample`` of the keys."""
    opts = opts or CopyOptions()
    rng = rng or random.Random()
    result = VerifyResult()
    started = time.monotonic()
    src, tgt = Conn(source), Conn(target)
    try:
        src_ks, tgt_ks = keyspace(src), keyspace(tgt)
        if dbs is None:
            dbs = sorted({db for db, (n, _) in src_ks.items() if n} | {db for db, (n, _) in tgt_ks.items() if n})
            if opts.dbs is not None:
                dbs = sorted(set(opts.dbs))
        for db in dbs:
            src.select(db)
            tgt.select(db)
            a, b = src.call("DBSIZE"), tgt.call("DBSIZE")
            tries = 0
            while a != b and tries < 3:
                # DBSIZE counts keys that have expired but are not reclaimed yet: count live keys exactly.
                a, b = _in_parallel(lambda db=db: _live_count(source, db), lambda db=db: _live_count(target, db))
                tries += 1
                if a != b:
                    time.sleep(0.2)
            result.counts[db] = (a, b)
            if a != b:
                result.count_mismatches.append(db)
        share = max(0.0, min(1.0, opts.verify_sample))
        if share > 0:
            comparer = _Comparer(src, tgt, opts, result)
            for db in dbs:
                src.select(db)
                tgt.select(db)
                picked: list[bytes] = []
                for keys in scan_keys(src, 1000):
                    picked += keys if share >= 1 else [k for k in keys if rng.random() < share]
                    while len(picked) >= 200:
                        comparer.compare(db, picked[:200])
                        result.sampled += 200
                        picked = picked[200:]
                if picked:
                    comparer.compare(db, picked)
                    result.sampled += len(picked)
    finally:
        src.close()
        tgt.close()
    result.seconds = time.monotonic() - started
    return result
