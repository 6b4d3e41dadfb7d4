"""The type-aware path: keys copied member by member instead of by ``DUMP``/``RESTORE``.

Two kinds of keys take it: those whose DUMP payload the target refuses (an older RDB format), and large values
(``MEMORY USAGE`` above ``CopyOptions.large_bytes``), which are never DUMPed so that the copy's memory does not grow
with the largest value (a DUMP payload is one bulk string: reading it holds all of it, and RESTORE needs all of it).

Values above one chunk are read in chunks (``GETRANGE``, ``LRANGE``, ``HSCAN``, ``SSCAN``, ``ZSCAN``, ``XRANGE``) and
written in chunks into a **temporary key** next to the real one; only when the whole value is there does it get its
TTL and take the real name, by ``RENAME`` (``replace``) or ``RENAMENX`` (without: a key that appeared meanwhile is a
conflict or a duplicate, judged as for ``RESTORE``'s BUSYKEY, and left alone). So no client ever sees half a value
under the real name, and a copy that fails part way leaves nothing under it (the temporary key is deleted; if the
task itself dies, the temporary key is one verification names as "only on the target", and the rollback empties
the target). A chunk holds at most ``chunk`` members, fewer when members are large (the next chunk's count is halved
while a chunk's bytes exceed twice ``chunk_bytes``): memory is bounded by about ``2 x chunk_bytes`` a chunk, or one
member when a single member is larger (Redis reads a hash field, list element or set member whole; only strings
can be read in ranges).

Streams keep their entry IDs, last generated ID, counters and consumer groups (last delivered ID, entries read,
consumers, and pending entries with their consumer, idle time and delivery count, by ``XCLAIM … FORCE``); a pending
entry whose message was deleted cannot be rebuilt: it is counted and the copy is incomplete.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import hiredis

from ..obs import get_logger
from .errors import CopyError, show
from .options import CopyOptions, CopyStats
from .resp import Conn, encode, pairs, server_version
from .urls import Endpoint

log = get_logger("redis.typed")

__all__ = ["READ_ALL", "SIZE_CMD", "TEMP_PREFIX", "TYPES", "TypeAwareCopier", "next_count", "temp_key"]

#: Where a large value is assembled on the target before it takes its name (see the module docstring).
TEMP_PREFIX = b"heroku2aws:partial:"


def temp_key(key: bytes) -> bytes:
    """A fresh temporary name for ``key`` on the target (unique per copy of the key)."""
    return TEMP_PREFIX + secrets.token_hex(8).encode() + b":" + key


def next_count(count: int, part: list, chunk: int, chunk_bytes: int) -> int:
    """The next chunk's member count: halved while a chunk's bytes exceed twice ``chunk_bytes`` (large members),
    doubled back towards ``chunk`` while under half of it. Estimated from a few members (summing every member of a
    chunk costs more than reading it)."""
    flat = [x for x in (part[:4] + part[-4:]) if isinstance(x, bytes)] if part else []
    if not flat:
        return count
    n = len(part) * sum(map(len, flat)) // len(flat)
    if n > 2 * chunk_bytes:
        return max(1, count // 2)
    if n < chunk_bytes // 2:
        return min(chunk, count * 2)
    return count

TYPES = ("string", "list", "set", "zset", "hash", "stream")


class TypeAwareCopier:
    """Copies keys member by member in chunks (own connections, opened on first use)."""

    def __init__(self, source: Endpoint, target: Endpoint, opts: CopyOptions, stats: CopyStats,
                 target_empty: dict[int, bool]):
        self.source_ep, self.target_ep, self.opts, self.stats = source, target, opts, stats
        self.target_empty = target_empty
        self._src: Conn | None = None
        self._tgt: Conn | None = None
        self._target_major: int | None = None
        self._unread: deque[tuple[bytes, str]] = deque()

    @property
    def src(self) -> Conn:
        if self._src is None:
            self._src = Conn(self.source_ep)
        return self._src

    @property
    def tgt(self) -> Conn:
        if self._tgt is None:
            self._tgt = Conn(self.target_ep)
        return self._tgt

    def close(self) -> None:
        for c in (self._src, self._tgt):
            if c is not None:
                c.close()

    def judge_existing(self, db: int, keys: list[bytes]) -> None:
        """Keys found on a target that was empty at the start: a duplicate (this copy wrote it already: the target
        holds the source's type, value and TTL) or a concurrent writer's key (a conflict, named, left alone)."""
        from .options import VerifyResult
        from .verify import Comparer

        src, tgt = self.src, self.tgt
        src.select(db)
        tgt.select(db)
        for k in keys:
            result = VerifyResult()
            Comparer(src, tgt, self.opts, result).compare(db, [k])
            if result.mismatch_count:
                self.stats.conflict(db, k)
                log.warning("a key on the target was written by someone else during the copy",
                            extra={"db": db, "key": show(k)})
            else:
                self.stats.duplicates += 1

    def _chunk_seen(self, n: int, string: bool = False) -> None:
        stats = self.stats
        stats.fallback_chunks += 1
        if string:
            stats.fallback_max_string_chunk = max(stats.fallback_max_string_chunk, n)
        else:
            stats.fallback_max_chunk = max(stats.fallback_max_chunk, n)

    def copy_keys(self, db: int, keys: list[bytes], stream: bool = False) -> None:
        """Copy ``keys`` of ``db``; small values are read and written in pipelines, large ones in chunks (``stream``:
        the keys are large values the reader did not DUMP: all of them in chunks, counted in ``streamed_keys``)."""
        src, tgt, stats, chunk = self.src, self.tgt, self.stats, self.opts.chunk
        src.select(db)
        tgt.select(db)
        for i in range(0, len(keys), 500):
            part = keys[i:i + 500]
            read_at = time.monotonic()
            info = src.pipeline([c for k in part for c in (("TYPE", k), ("PTTL", k))])
            live: list[tuple[bytes, str, int]] = []
            for j, k in enumerate(part):
                kind, pttl = info[2 * j], info[2 * j + 1]
                kind = kind.decode() if isinstance(kind, bytes) else "none"
                if kind == "none" or pttl == -2:
                    stats.expired_during_copy += 1
                elif kind not in TYPES:
                    stats.fail(db, k, f"type {kind} has no type-aware copy and RESTORE refused its payload")
                else:
                    live.append((k, kind, pttl))
            if not live:
                continue
            # Existing keys on the target.
            exists = tgt.pipeline([("EXISTS", k) for k, _, _ in live])
            todo = []
            busy = []
            for (k, kind, pttl), e in zip(live, exists, strict=True):
                if e == 1 and not self.opts.replace:
                    if self.target_empty.get(db):
                        busy.append(k)
                    else:
                        stats.conflict(db, k)
                else:
                    todo.append((k, kind, pttl, e == 1))
            if busy:
                self.judge_existing(db, busy)
            sizes = src.pipeline([(SIZE_CMD[kind], k) for k, kind, _, _ in todo])
            small: list[tuple[bytes, str, int, bool]] = []
            large: list[tuple[bytes, str, int, bool]] = []
            for (k, kind, pttl, existed), n in zip(todo, sizes, strict=True):
                n = n if isinstance(n, int) else 0
                limit = self.opts.chunk_bytes if kind == "string" else chunk
                (large if stream or n > limit else small).append((k, kind, pttl, existed))
            if small:
                self._copy_small(db, small, read_at)
            for k, kind, pttl, existed in large:
                self._copy_large(db, k, kind, pttl, existed, read_at, streamed=stream)

    def _copy_small(self, db: int, keys: list, read_at: float) -> None:
        """Values that fit in one chunk: one read pipeline on the source, one write pipeline on the target."""
        src, tgt, stats = self.src, self.tgt, self.stats
        cmds: list[tuple] = []
        for k, kind, _, _ in keys:
            if kind == "stream":
                cmds += [("XRANGE", k, "-", "+"), ("XINFO", "STREAM", k), ("XINFO", "GROUPS", k)]
            else:
                cmds.append(READ_ALL[kind](k))
        replies = src.pipeline(cmds)
        writes: list[tuple] = []
        streams: list[tuple[bytes, list]] = []
        done = []
        elapsed = int((time.monotonic() - read_at) * 1000) + 1
        pos = 0
        for k, kind, pttl, existed in keys:
            n = 3 if kind == "stream" else 1
            got = replies[pos:pos + n]
            pos += n
            v = got[0]
            if any(isinstance(r, hiredis.ReplyError) for r in got) or v is None or (v == [] and kind != "stream"):
                stats.expired_during_copy += 1  # gone (or changed) between TYPE and the read
                continue
            ttl = 0
            if pttl >= 0:
                ttl = pttl - elapsed
                if ttl <= 0:
                    stats.expired_during_copy += 1
                    continue
            if existed:
                writes.append(("DEL", k))
            if kind == "stream":
                writes += [("XADD", k, eid, *fields) for eid, fields in v]
                writes += self._stream_meta(db, k, got[1], got[2], bool(v))
                if got[2]:
                    streams.append((k, got[2]))
                self._chunk_seen(len(v))
                nbytes = sum(len(eid) + _value_bytes(f) for eid, f in v)
            else:
                writes.append(_WRITE[kind](k, v))
                if kind == "string":
                    self._chunk_seen(len(v), string=True)
                else:
                    self._chunk_seen(len(v) // (1 if kind in ("list", "set") else 2))
                nbytes = _value_bytes(v)
            if ttl:
                writes.append(("PEXPIRE", k, ttl))
            done.append(nbytes)
        for r in tgt.pipeline(writes):
            if isinstance(r, hiredis.ReplyError):
                raise CopyError(f"type-aware write on the target failed: {r}")
        for k, groups in streams:
            self._copy_group_state(db, k, groups)
        stats.keys += len(done)
        stats.fallback_keys += len(done)
        stats.bytes += sum(done)
        stats.count(db, len(done))

    def _copy_large(self, db: int, key: bytes, kind: str, pttl: int, existed: bool, read_at: float,
                    streamed: bool = False) -> None:
        """One value in chunks into a temporary key, then its TTL, then ``RENAME``/``RENAMENX`` to its name."""
        tmp = temp_key(key)
        try:
            nbytes = self._fill(db, key, tmp, kind)
            done = self._settle_large(db, key, tmp, pttl, read_at)
        except BaseException:
            with contextlib.suppress(Exception):
                self._drain()  # the replies still due, so that DEL's is the next one read
            with contextlib.suppress(Exception):
                self.tgt.call("DEL", tmp)
            raise
        if not done:
            return
        stats = self.stats
        stats.keys += 1
        stats.fallback_keys += 1
        stats.streamed_keys += streamed
        stats.bytes += nbytes
        stats.count(db)

    def _fill(self, db: int, key: bytes, tmp: bytes, kind: str) -> int:
        """Write the source's ``key`` into the target's ``tmp``, chunk by chunk; returns the value bytes copied."""
        src, chunk, chunk_bytes = self.src, self.opts.chunk, self.opts.chunk_bytes
        nbytes = 0
        write = self._write  # the target writes chunk i while the source reads chunk i+1
        if kind == "string":
            off = 0
            while True:
                part = src.call("GETRANGE", key, off, off + chunk_bytes - 1)
                if not part and off:
                    break
                write(key, "APPEND" if off else "SET", tmp, part)
                self._chunk_seen(len(part), string=True)
                nbytes += len(part)
                off += len(part)
                if len(part) < chunk_bytes:
                    break
        elif kind == "list":
            i, count = 0, chunk
            while True:
                part = src.call("LRANGE", key, i, i + count - 1)
                if not part:
                    break
                self._write_members(key, b"RPUSH", tmp, part)
                self._chunk_seen(len(part))
                nbytes += _value_bytes(part)
                i += len(part)
                if len(part) < count:
                    break
                count = next_count(count, part, chunk, chunk_bytes)
        elif kind in ("hash", "set", "zset"):
            scan, add = {"hash": ("HSCAN", "HSET"), "set": ("SSCAN", "SADD"), "zset": ("ZSCAN", "ZADD")}[kind]
            cursor, count = b"0", chunk
            while True:
                cursor, part = src.call(scan, key, cursor, "COUNT", count)
                if part:
                    self._write_members(key, add.encode(), tmp, part if kind != "zset" else _swap_pairs(part))
                    self._chunk_seen(len(part) // (1 if kind == "set" else 2))
                    nbytes += _value_bytes(part)
                    count = next_count(count, part, chunk, chunk_bytes)
                if cursor == b"0":
                    break
        elif kind == "stream":
            nbytes = self._copy_stream(db, key, tmp)
        self._drain()
        return nbytes

    def _settle_large(self, db: int, key: bytes, tmp: bytes, pttl: int, read_at: float) -> bool:
        """The TTL and a last look at the source, then the real name; False when the key is not (or no longer) ours
        to write: expired or deleted meanwhile, or a conflict."""
        src, tgt, stats = self.src, self.tgt, self.stats
        ttl = 0
        if pttl >= 0:
            ttl = pttl - int((time.monotonic() - read_at) * 1000) - 1
        if (pttl >= 0 and ttl <= 0) or not src.call("EXISTS", key) or not tgt.call("EXISTS", tmp):
            tgt.call("DEL", tmp)  # expired on the way, or deleted on the source (an empty value has no key)
            stats.expired_during_copy += 1
            return False
        if ttl:
            tgt.call("PEXPIRE", tmp, ttl)
        if self.opts.replace:
            tgt.call("RENAME", tmp, key)  # overwrites (an implicit DEL), with tmp's TTL
            return True
        if tgt.call("RENAMENX", tmp, key) == 1:
            return True
        tgt.call("DEL", tmp)  # a key of that name appeared while the value was streamed
        if self.target_empty.get(db):
            self.judge_existing(db, [key])
        else:
            stats.conflict(db, key)
        return False

    def _write(self, key: bytes, *cmd) -> None:
        """Send a write to the target without waiting for its reply (read later by ``_drain``)."""
        self.tgt.send(encode(*cmd))
        self._unread.append((key, cmd[0]))
        if len(self._unread) > 2000:
            self._drain(1000)

    def _write_members(self, key: bytes, name: bytes, dest: bytes, items: list) -> None:
        """``name dest item...`` for members exactly as a reply gave them (bytes): RESP by one template per item,
        about three times faster than :func:`encode` on a chunk of a few thousand small members."""
        self.tgt.send(b"*%d\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n%b" % (
            len(items) + 2, len(name), name, len(dest), dest, b"".join([b"$%d\r\n%b\r\n" % (len(x), x) for x in items])))
        self._unread.append((key, name.decode()))
        if len(self._unread) > 2000:
            self._drain(1000)

    def _drain(self, keep: int = 0) -> None:
        while len(self._unread) > keep:
            key, what = self._unread.popleft()
            r = self.tgt.get()
            if isinstance(r, hiredis.ReplyError):
                self._drain()
                raise CopyError(f"{what} to db{self.tgt.db}:{show(key)} failed on the target: {r}")

    def _target_is_7(self) -> bool:
        if self._target_major is None:
            try:
                self._target_major = int(server_version(self.tgt).split(".")[0])
            except ValueError:
                self._target_major = 0
        return self._target_major >= 7

    def _copy_stream(self, db: int, key: bytes, dest: bytes) -> int:
        """The source's stream ``key`` into the target's ``dest``: entries, then counters, groups and their state."""
        src, chunk = self.src, self.opts.chunk
        nbytes = 0
        start = b"-"
        copied = 0
        while True:
            entries = src.call("XRANGE", key, start, b"+", "COUNT", chunk)
            if not entries:
                break
            for eid, fields in entries:
                self._write(key, "XADD", dest, eid, *fields)
            self._chunk_seen(len(entries))
            nbytes += sum(len(eid) + _value_bytes(f) for eid, f in entries)
            copied += len(entries)
            start = b"(" + entries[-1][0]
            if len(entries) < chunk:
                break
        groups = src.call("XINFO", "GROUPS", key)
        self._drain()  # _stream_meta may ask the target its version: no write reply may be waiting before that
        for cmd in self._stream_meta(db, dest, src.call("XINFO", "STREAM", key), groups, bool(copied)):
            self._write(key, *cmd)
        self._drain()
        self._copy_group_state(db, key, groups, dest)
        return nbytes

    def _stream_meta(self, db: int, key: bytes, info: list, groups: list, has_entries: bool) -> list[tuple]:
        """Target commands that give a copied stream its last ID, counters and consumer groups (after its entries)."""
        cmds: list[tuple] = []
        if not has_entries:  # an empty stream still exists: create it without entries
            cmds += [("XGROUP", "CREATE", key, "h2a-tmp", "$", "MKSTREAM"), ("XGROUP", "DESTROY", key, "h2a-tmp")]
        info_d = pairs(info)
        last = info_d.get(b"last-generated-id")
        new = self._target_is_7()
        if last:
            if new and b"entries-added" in info_d:
                cmds.append(("XSETID", key, last, "ENTRIESADDED", info_d[b"entries-added"],
                             "MAXDELETEDID", info_d.get(b"max-deleted-entry-id") or b"0-0"))
            else:
                cmds.append(("XSETID", key, last))
        for g in groups:
            g = pairs(g)
            cmd: tuple[Any, ...] = ("XGROUP", "CREATE", key, g[b"name"], g[b"last-delivered-id"])
            if new and g.get(b"entries-read") is not None:
                cmd += ("ENTRIESREAD", g[b"entries-read"])
            cmds.append(cmd)
        return cmds

    def _copy_group_state(self, db: int, key: bytes, groups: list, dest: bytes | None = None) -> None:
        """Each consumer group's consumers and pending entries (after the groups exist on the target): consumers by
        ``XGROUP CREATECONSUMER``, each pending entry by ``XCLAIM key group consumer 0 id IDLE idle RETRYCOUNT n FORCE
        JUSTID`` (its consumer, idle time and delivery count as on the source). An entry that cannot be claimed (its
        message was deleted from the stream: XCLAIM ignores it) is counted in ``stream_pending_not_copied``, which
        makes the copy incomplete; verification compares the pending entries too."""
        src, tgt, chunk = self.src, self.tgt, self.opts.chunk
        dest = key if dest is None else dest  # the key written on the target
        for g in map(pairs, groups):
            name = g[b"name"]
            consumers = [pairs(c)[b"name"] for c in src.call("XINFO", "CONSUMERS", key, name)]
            if not consumers:
                continue
            for r in tgt.pipeline([("XGROUP", "CREATECONSUMER", dest, name, c) for c in consumers]):
                if isinstance(r, hiredis.ReplyError):
                    raise CopyError(f"XGROUP CREATECONSUMER on db{db}:{show(key)} failed on the target: {r}")
            lost = 0
            start = b"-"
            while True:
                part = src.call("XPENDING", key, name, start, b"+", chunk)
                if not part:
                    break
                replies = tgt.pipeline([("XCLAIM", dest, name, consumer, 0, eid, "IDLE", idle, "RETRYCOUNT", n,
                                         "FORCE", "JUSTID") for eid, consumer, idle, n in part])
                for (eid, *_), r in zip(part, replies, strict=True):
                    if isinstance(r, hiredis.ReplyError):
                        raise CopyError(f"XCLAIM on db{db}:{show(key)} failed on the target: {r}")
                    if r != [eid]:
                        lost += 1
                if len(part) < chunk:
                    break
                start = b"(" + part[-1][0]
            if lost:
                self.stats.stream_pending_not_copied += lost
                log.warning("stream pending entries whose messages were deleted cannot be reproduced (type-aware path)",
                            extra={"db": db, "key": show(key), "group": show(name), "pending_not_copied": lost})


SIZE_CMD = {"string": "STRLEN", "list": "LLEN", "set": "SCARD", "zset": "ZCARD", "hash": "HLEN", "stream": "XLEN"}
READ_ALL: dict[str, Callable[[bytes], tuple]] = {
    "string": lambda k: ("GET", k),
    "list": lambda k: ("LRANGE", k, 0, -1),
    "set": lambda k: ("SMEMBERS", k),
    "zset": lambda k: ("ZRANGE", k, 0, -1, "WITHSCORES"),
    "hash": lambda k: ("HGETALL", k),
}


def _swap_pairs(flat: list) -> list:
    """[member, score, ...] → [score, member, ...] (ZSCAN / ZRANGE WITHSCORES → ZADD)."""
    out = [b""] * len(flat)
    out[0::2] = flat[1::2]
    out[1::2] = flat[0::2]
    return out


_WRITE: dict[str, Callable[[bytes, Any], tuple]] = {
    "string": lambda k, v: ("SET", k, v),
    "list": lambda k, v: ("RPUSH", k, *v),
    "set": lambda k, v: ("SADD", k, *v),
    "zset": lambda k, v: ("ZADD", k, *_swap_pairs(v)),
    "hash": lambda k, v: ("HSET", k, *v),
}


def _value_bytes(v) -> int:
    if isinstance(v, bytes):
        return len(v)
    if isinstance(v, list):  # flat lists of bytes only
        return sum(map(len, v))
    return 0

