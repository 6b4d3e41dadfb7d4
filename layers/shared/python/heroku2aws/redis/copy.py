"""Copy every key of one Redis into another, faithfully and fast, then verify the copy.

Used by the ECS task ``python -m heroku2aws.tasks.redis_restore`` (and ``heroku2aws redis-copy``)
to move Heroku Redis into ElastiCache. Heroku Redis refuses SYNC/PSYNC, so the copy is done key by
key from the outside:

* **Reader** (one thread, one connection to the source): ``SCAN`` in batches; for the keys of each
  batch ``MEMORY USAGE``, then ``DUMP`` and ``PTTL`` of those at or under ``large_bytes``, pipelined in
  three stages with the next ``SCAN`` so that the source is never idle waiting for us. Batches are cut
  at ``batch_bytes`` of payload and handed to the writer through a bounded queue, so the task's memory
  is bounded whatever the key count.
* **Large values** (``MEMORY USAGE`` above ``large_bytes``, 4 MiB by default) are never DUMPed -- a DUMP
  payload cannot be split, so one 300 MB value meant 300 MB read, queued and sent, several times over.
  The writer streams them instead (:mod:`.typed`): ``GETRANGE`` / ``LRANGE`` / ``HSCAN`` / ``SSCAN`` /
  ``ZSCAN`` / ``XRANGE`` chunks into a temporary key, then the TTL, then ``RENAME`` (``replace``) or
  ``RENAMENX`` (a key that appeared meanwhile is judged as a BUSYKEY is). A server that refuses
  ``MEMORY USAGE`` is sized by each type's length command (``STRLEN``, ``HLEN``, ...; members taken as
  ``MEMBER_BYTES_GUESS`` bytes each). ``MEMORY USAGE`` samples five members of a collection: one whose
  members are very uneven in size can be under-estimated and DUMPed.
* **Writer** (one thread, one connection to the target): ``RESTORE key ttl payload [REPLACE]`` per
  key, pipelined, two batches in flight. The TTL written is the remaining TTL read from the source
  minus the time the key spent in the queue, so a key never lives longer on the target than it
  would have on the source; a key whose TTL ran out on the way (or that ``DUMP`` finds gone: ``nil``
  / ``PTTL -2``) is counted in ``expired_during_copy``, not an error.
* Without ``replace`` an existing key on the target is a conflict that is reported by name (the copy
  goes on and fails at the end). When a target database was empty at the start, a key that exists
  anyway is either one ``SCAN`` returned twice (SCAN may, when the source's table shrinks) -- then the
  target holds exactly the source's value and it is counted as a duplicate -- or a concurrent writer's:
  a conflict, named, never replaced.
* A target older than the source refuses the payload ("DUMP payload version or checksum are
  wrong"): those keys go the **type-aware** way: members are read in chunks (``GETRANGE``,
  ``LRANGE``, ``HSCAN``, ``SSCAN``, ``ZSCAN``, ``XRANGE``) and written in chunks, then the TTL is set.
  Streams keep their entry IDs, last generated ID, counters and consumer groups with their consumers
  and pending entries (XCLAIM ... FORCE); a pending entry whose message was deleted cannot be rebuilt:
  it is counted and the copy is incomplete.
* Every logical database the source's ``INFO keyspace`` lists is copied to the same number on the
  target (``dbs=`` limits the copy). The database in a URL's path is not used for the mapping.
* **Verification** (:mod:`.verify`): complete by default -- every key both ways, its type, TTL within a
  tolerance and its value (DUMP payloads, else per type; streams with their groups, consumers and
  pending entries); keys expiring meanwhile are no difference. The report names what differs.
* **Memory**: payload bytes read and not yet written are bounded (``batch_bytes`` x ``queue_depth``, and
  no DUMPed value is above ``large_bytes``); a streamed value holds one chunk at a time (about
  ``chunk_bytes``, or ``chunk`` members, or one member when a single member is larger). So the copy's
  peak memory is a constant, not a multiple of the largest value (``tests/redis/test_memory.py``: a
  300 MB string and a 2 M-field hash copied in under 100 MiB above the interpreter's own).

The connections are plain sockets (TLS when ``rediss://``) speaking RESP2 through hiredis' parser:
redis-py's per-command machinery costs more than Redis itself at a few hundred thousand keys a
second. URLs are only ever shown through :func:`heroku2aws.redaction.redact`.

The modules: :mod:`.urls` (endpoints), :mod:`.resp` (connections), :mod:`.options` (options, statistics,
results), this module (the fast path and the copy), :mod:`.typed` (the type-aware path), :mod:`.verify`.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable

import hiredis

from ..obs import get_logger
from ..redaction import scrub
from .errors import ConfigError, CopyError, show
from .options import CopyOptions, CopyResult, CopyStats, Progress
from .resp import Conn, encode, keyspace, server_version
from .typed import TypeAwareCopier
from .urls import Endpoint
from .verify import verify

log = get_logger("redis.copy")

__all__ = ["copy", "copy_and_verify"]

VERSION_ERROR = "DUMP payload version or checksum are wrong"
BAD_FORMAT_ERROR = "Bad data format"


# ---------------------------------------------------------------------------------------------
# The fast path: SCAN + DUMP/PTTL reader, RESTORE writer

_SCAN = b"*4\r\n$4\r\nSCAN\r\n$%d\r\n%b\r\n$5\r\nCOUNT\r\n$%d\r\n%b\r\n"
_DUMP_PTTL = b"*2\r\n$4\r\nDUMP\r\n$%d\r\n%b\r\n*2\r\n$4\r\nPTTL\r\n$%d\r\n%b\r\n"
_RESTORE_HEAD = b"*%d\r\n$7\r\nRESTORE\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n$%d\r\n"
_TAIL = b"\r\n"
_TAIL_REPLACE = b"\r\n$7\r\nREPLACE\r\n"


def _scan_cmd(cursor: bytes, count: int) -> bytes:
    c = b"%d" % count
    return _SCAN % (len(cursor), cursor, len(c), c)


_RESTORE_ONE = _RESTORE_HEAD + b"%b\r\n"
_RESTORE_ONE_REPLACE = _RESTORE_HEAD + b"%b\r\n$7\r\nREPLACE\r\n"


def _encode_restores(items: list[tuple[bytes, int, bytes]], replace: bool) -> list[bytes]:
    """``RESTORE key ttl payload [REPLACE]`` for each ``(key, ttl_ms, payload)`` (ttl 0: no expiry), as pieces to
    send one after the other: a large payload is sent as it is, never copied into a joined buffer."""
    n, one = (5, _RESTORE_ONE_REPLACE) if replace else (4, _RESTORE_ONE)
    if all(len(p) < 65536 for _, _, p in items):  # small payloads: one format per key
        return [b"".join([one % (n, len(k), k, len(t), t, len(p), p) for k, t, p in
                          [(k, b"%d" % ttl, p) for k, ttl, p in items]])]
    tail = _TAIL_REPLACE if replace else _TAIL
    parts: list[bytes] = []
    add = parts.append
    head = _RESTORE_HEAD
    small: list[bytes] = []
    for k, ttl, p in items:  # large payloads are not copied
        t = b"%d" % ttl
        small.append(head % (n, len(k), k, len(t), t, len(p)))
        if len(p) < 65536:
            small += [p, tail]
            continue
        add(b"".join(small))
        add(p)
        small = [tail]
    if small:
        add(b"".join(small))
    return parts


class _Batch:
    __slots__ = ("db", "items", "read_at", "nbytes", "large")

    def __init__(self, db: int, items: list, read_at: float, nbytes: int, large: list[bytes] | None = None):
        self.db, self.items, self.read_at, self.nbytes = db, items, read_at, nbytes
        self.large = large  # keys too large to DUMP: the writer streams them (typed.TypeAwareCopier)


class _Stop(Exception):
    pass


class _Budget:
    """Payload bytes read from the source and not yet written to the target, bounded: the queue counts batches,
    and one batch may be a single 50 MB value -- several of those queued made the task's memory a multiple of
    the largest value. A batch waits until it fits, or until nothing else is held (a value larger than the
    budget is then the only one in memory, besides the one the reader is reading)."""

    def __init__(self, limit: int, stop: threading.Event):
        self.limit, self.stop, self.used = max(1, limit), stop, 0
        self.cond = threading.Condition()

    def take(self, n: int) -> None:
        with self.cond:
            while self.used and self.used + n > self.limit:
                if self.stop.is_set():
                    raise _Stop
                self.cond.wait(0.2)
            self.used += n

    def give(self, n: int) -> None:
        with self.cond:
            self.used -= n
            self.cond.notify_all()


_MEMORY_USAGE = b"*3\r\n$6\r\nMEMORY\r\n$5\r\nUSAGE\r\n$%d\r\n%b\r\n"
#: Without MEMORY USAGE (a server that refuses it), each type's length: the one that is not WRONGTYPE is the key's.
_LENGTHS = (b"STRLEN", b"LLEN", b"HLEN", b"SCARD", b"ZCARD", b"XLEN")
_LENGTH_PROBE = b"".join(b"*2\r\n$%d\r\n%b\r\n" % (len(c), c) + b"$%d\r\n%b\r\n" for c in _LENGTHS)
#: Bytes a member of a collection is taken to hold when only its length is known (no MEMORY USAGE).
MEMBER_BYTES_GUESS = 64


class _Reader:
    """SCAN, then ``MEMORY USAGE`` of the batch's keys, then ``DUMP``/``PTTL`` of the small ones, pipelined in three
    stages (each send carries the next SCAN, this batch's sizes and the previous batch's DUMPs, and the previous
    send's DUMP replies are read while the server works on it). Keys above ``large_bytes`` are never DUMPed: they
    go to the writer by name, to be streamed in chunks."""

    def __init__(self, conn: Conn, opts: CopyOptions, out: queue.Queue, stop: threading.Event,
                 budget: _Budget | None = None):
        self.conn, self.opts, self.out, self.stop = conn, opts, out, stop
        self.budget = budget
        self.expired = 0
        self.avg_payload = 128.0
        self.memory_usage: bool | None = None  # does the source answer MEMORY USAGE? (asked once)
        self.large = 0

    def _put(self, batch) -> None:
        if self.budget is not None:
            self.budget.take(batch.nbytes)
        while True:
            if self.stop.is_set():
                raise _Stop
            try:
                self.out.put(batch, timeout=0.2)
                return
            except queue.Full:
                continue

    def _count(self) -> int:
        n = int(self.opts.batch_bytes / max(self.avg_payload, 1.0))
        return max(10, min(self.opts.batch_keys, n))

    def _sizes_cmd(self, keys: list[bytes]) -> bytes:
        if self.memory_usage:
            return b"".join([_MEMORY_USAGE % (len(k), k) for k in keys])
        return b"".join([_LENGTH_PROBE % ((len(k), k) * len(_LENGTHS)) for k in keys])

    def _split(self, db: int, keys: list[bytes], sent_at: float) -> list[bytes]:
        """Read the sizes of ``keys``; hand the large ones to the writer; return the small ones (to DUMP)."""
        get = self.conn.get
        gets = self.conn.reader.gets
        limit = self.opts.large_bytes
        small: list[bytes] = []
        large: list[bytes] = []
        gone = 0
        err = hiredis.ReplyError
        for k in keys:
            if self.memory_usage:
                n = gets()
                if n is False:
                    n = get()
                if isinstance(n, err):
                    raise CopyError(f"MEMORY USAGE of db{db}:{show(k)} failed on the source: {n}")
                if n is None:
                    gone += 1
                    continue
            else:
                lengths = []
                for _ in _LENGTHS:
                    r = gets()
                    if r is False:
                        r = get()
                    lengths.append(r)
                found = [(i, r) for i, r in enumerate(lengths) if isinstance(r, int) and r > 0]
                if not found and all(isinstance(r, int) for r in lengths):
                    small.append(k)  # gone, an empty stream, or a type with no length (DUMP will tell)
                    continue
                i, r = found[0] if found else (0, 0)
                n = r if i == 0 else r * MEMBER_BYTES_GUESS
            (large if n > limit else small).append(k)
        self.expired += gone
        if large:
            self.large += len(large)
            self._put(_Batch(db, [], sent_at, 0, large=large))
        return small

    def _collect(self, db: int, keys: list[bytes], sent_at: float) -> None:
        get = self.conn.get
        gets = self.conn.reader.gets  # replies already buffered need no call into Conn.get
        limit = self.opts.batch_bytes
        items: list[tuple[bytes, int, bytes]] = []
        size = total = 0
        expired = 0
        err = hiredis.ReplyError
        for k in keys:
            payload = gets()
            if payload is False:
                payload = get()
            pttl = gets()
            if pttl is False:
                pttl = get()
            if payload is None or pttl == -2:
                expired += 1
                continue
            if isinstance(payload, err):
                raise CopyError(f"DUMP of db{db}:{show(k)} failed on the source: {payload}")
            items.append((k, pttl, payload))
            n = len(payload)
            size += n
            if size >= limit:
                total += size
                self._put(_Batch(db, items, sent_at, size))
                items, size = [], 0
        self.expired += expired
        if items:
            total += size
            self._put(_Batch(db, items, sent_at, size))
        if keys:
            got = len(keys) - expired
            if got:
                self.avg_payload = 0.7 * self.avg_payload + 0.3 * (total / got)

    def _probe_memory_usage(self) -> None:
        self.conn.send(encode("MEMORY", "USAGE", "heroku2aws:probe"))  # nil for a key that does not exist
        reply = self.conn.get()
        self.memory_usage = not isinstance(reply, hiredis.ReplyError)
        if not self.memory_usage:
            log.info("the source refuses MEMORY USAGE: value sizes from their lengths",
                     extra={"member_bytes_guess": MEMBER_BYTES_GUESS})

    def run_db(self, db: int) -> None:
        conn = self.conn
        conn.select(db)
        if self.memory_usage is None:
            self._probe_memory_usage()
        conn.send(_scan_cmd(b"0", self._count()))
        reply = conn.get()
        if isinstance(reply, hiredis.ReplyError):
            raise CopyError(f"SCAN failed on the source: {reply}")
        cursor, keys = reply
        small: list[bytes] = []                      # sized, to DUMP in the next send
        pending: tuple[list[bytes], float] | None = None  # DUMPed: their replies end the last send
        while True:
            if self.stop.is_set():
                raise _Stop
            more = cursor != b"0"
            buf = [_scan_cmd(cursor, self._count())] if more else []
            if keys:
                buf.append(self._sizes_cmd(keys))
            if small:
                buf.append(b"".join([_DUMP_PTTL % (len(k), k, len(k), k) for k in small]))
            if not buf:
                if pending is not None:
                    self._collect(db, *pending)
                return
            sent_at = time.monotonic()
            conn.send(b"".join(buf))
            if pending is not None:
                self._collect(db, *pending)
            pending = (small, sent_at) if small else None
            next_cursor, next_keys = b"0", []
            if more:
                reply = conn.get()
                if isinstance(reply, hiredis.ReplyError):
                    raise CopyError(f"SCAN failed on the source: {reply}")
                next_cursor, next_keys = reply
            small = self._split(db, keys, sent_at) if keys else []
            cursor, keys = next_cursor, next_keys


class _Writer:
    def __init__(self, conn: Conn, opts: CopyOptions, stats: CopyStats, fallback: TypeAwareCopier,
                 target_empty: dict[int, bool], budget: _Budget | None = None):
        self.conn, self.opts, self.stats, self.fallback = conn, opts, stats, fallback
        self.target_empty = target_empty
        self.budget = budget

    def _done(self, batch: _Batch, items: list[tuple[bytes, int, bytes]]) -> None:
        try:
            self._finish(batch, items)
        finally:
            batch.items = []  # the payloads go now, not when the next batch replaces this one
            items.clear()
            if self.budget is not None:
                self.budget.give(batch.nbytes)

    def _send(self, batch: _Batch) -> list[tuple[bytes, int, bytes]]:
        elapsed = int((time.monotonic() - batch.read_at) * 1000) + 1
        items = []
        expired = 0
        for k, pttl, p in batch.items:
            if pttl < 0:
                items.append((k, 0, p))
            else:
                ttl = pttl - elapsed
                if ttl > 0:
                    items.append((k, ttl, p))
                else:
                    expired += 1
        self.stats.expired_during_copy += expired
        parts = _encode_restores(items, self.opts.replace)
        if batch.db != self.conn.db:
            parts.insert(0, encode("SELECT", batch.db))
            self.conn.db = batch.db
            items.insert(0, (b"", -1, b""))  # marks the SELECT reply
        for part in parts:
            self.conn.send(part)
        return items

    def _finish(self, batch: _Batch, items: list[tuple[bytes, int, bytes]]) -> None:
        get = self.conn.get
        gets = self.conn.reader.gets
        stats = self.stats
        db = batch.db
        ok = nbytes = 0
        redo: list[tuple[bytes, int]] = []
        busy: list[tuple[bytes, bytes]] = []
        for k, ttl, p in items:
            r = gets()
            if r is False:
                r = get()
            if r == b"OK":
                if ttl >= 0:
                    ok += 1
                    nbytes += len(p)
                continue
            if not isinstance(r, hiredis.ReplyError):
                raise CopyError(f"RESTORE of db{db}:{show(k)} got an unexpected reply {r!r}")
            msg = str(r)
            if msg.startswith("BUSYKEY"):
                if self.target_empty.get(db):
                    busy.append((k, p))  # ours (SCAN returned it twice) or someone else's: judged below
                else:
                    stats.conflict(db, k)
            elif VERSION_ERROR in msg or BAD_FORMAT_ERROR in msg:
                redo.append((k, ttl))
            elif ttl < 0:
                raise CopyError(f"SELECT {db} failed on the target: {msg}")
            else:
                raise CopyError(f"RESTORE of db{db}:{show(k)} failed on the target: {msg}")
        stats.restored += ok
        stats.keys += ok
        stats.bytes += nbytes
        stats.count(db, ok)
        if busy:
            self._judge_busy(db, busy)
        if redo:
            self.fallback.copy_keys(db, [k for k, _ in redo])

    def _judge_busy(self, db: int, busy: list[tuple[bytes, bytes]]) -> None:
        """BUSYKEY on a target that was empty at the start: the key is the one this copy restored already when the
        target holds exactly the source's value (DUMP payload equal, or else type, value and TTL compared), and a
        concurrent writer's otherwise -- a conflict, named, never replaced."""
        tgt = self.fallback.tgt
        tgt.select(db)
        dumps = tgt.pipeline([("DUMP", k) for k, _ in busy])
        unsure = []
        for (k, p), d in zip(busy, dumps, strict=True):
            if d == p:
                self.stats.duplicates += 1
            else:
                unsure.append(k)
        if unsure:
            self.fallback.judge_existing(db, unsure)

    def run(self, inq: queue.Queue, stop: threading.Event) -> None:
        pending: tuple[_Batch, list] | None = None
        while True:
            try:
                batch = inq.get_nowait()
            except queue.Empty:
                if pending is not None:  # nothing to overlap with: finish it (the reader may wait for its budget)
                    self._done(*pending)
                    pending = None
                batch = inq.get()
            if batch is None or stop.is_set():
                break
            if batch.large is not None:  # too large to DUMP: streamed in chunks (typed.TypeAwareCopier)
                if pending is not None:
                    self._done(*pending)
                    pending = None
                self.fallback.copy_keys(batch.db, batch.large, stream=True)
                continue
            items = self._send(batch)
            if pending is not None:
                self._done(*pending)
            pending = (batch, items)
            del batch, items
        if pending is not None and not stop.is_set():
            self._done(*pending)




# ---------------------------------------------------------------------------------------------
# Progress


class _Ticker:
    """Calls ``opts.progress`` every ``progress_interval`` seconds from its own thread."""

    def __init__(self, opts: CopyOptions, stats: CopyStats, total: int, started: float):
        self.opts, self.stats, self.total, self.started = opts, stats, total, started
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="redis-copy-progress", daemon=True)

    def snapshot(self) -> Progress:
        return Progress(keys=self.stats.keys, bytes=self.stats.bytes, total_keys=self.total,
                        seconds=time.monotonic() - self.started)

    def _run(self) -> None:
        progress = self.opts.progress
        while progress is not None and not self._stop.wait(self.opts.progress_interval):
            with contextlib.suppress(Exception):
                progress(self.snapshot())

    def __enter__(self):
        if self.opts.progress is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self.opts.progress is not None:
            with contextlib.suppress(Exception):
                self.opts.progress(self.snapshot())


# ---------------------------------------------------------------------------------------------
# The copy


def _databases(src_ks: dict[int, tuple[int, int]], wanted: list[int] | None) -> list[int]:
    if wanted is not None:
        return sorted(set(wanted))
    return sorted(db for db, (n, _) in src_ks.items() if n > 0)


def copy(source: Endpoint, target: Endpoint, opts: CopyOptions | None = None) -> tuple[CopyStats, dict]:
    """Copy every key; returns the statistics and facts about the servers (versions, databases, key total)."""
    opts = opts or CopyOptions()
    src = Conn(source)
    try:
        tgt = Conn(target)
    except BaseException:
        src.close()
        raise
    stats = CopyStats()
    facts: dict = {}
    fallback = None
    try:
        src_ks, tgt_ks = keyspace(src), keyspace(tgt)
        dbs = _databases(src_ks, opts.dbs)
        total = sum(src_ks.get(db, (0, 0))[0] for db in dbs)
        target_empty = {db: tgt_ks.get(db, (0, 0))[0] == 0 for db in dbs}
        facts = {"source_version": server_version(src), "target_version": server_version(tgt), "dbs": dbs,
                 "total_keys": total, "target_keys_before": {db: tgt_ks.get(db, (0, 0))[0] for db in dbs}}
        log.info("redis copy starting", extra={"source": source.safe, "target": target.safe, **facts,
                                               "replace": opts.replace})
        q: queue.Queue = queue.Queue(maxsize=max(1, opts.queue_depth))
        stop = threading.Event()
        fallback = TypeAwareCopier(source, target, opts, stats, target_empty)
        budget = _Budget(opts.batch_bytes * opts.queue_depth, stop)
        reader = _Reader(src, opts, q, stop, budget)
        writer = _Writer(tgt, opts, stats, fallback, target_empty, budget)
        errors: list[BaseException] = []

        def read_all() -> None:
            try:
                for db in dbs:
                    reader.run_db(db)
            except _Stop:
                pass
            except BaseException as exc:
                errors.append(exc)
                stop.set()
            finally:
                with contextlib.suppress(Exception):
                    # the writer stops at None; if it is gone, make room first
                    while True:
                        try:
                            q.put(None, timeout=0.2)
                            break
                        except queue.Full:
                            if stop.is_set():
                                with contextlib.suppress(queue.Empty):
                                    q.get_nowait()

        def write_all() -> None:
            try:
                writer.run(q, stop)
            except BaseException as exc:
                errors.append(exc)
                stop.set()
                with contextlib.suppress(queue.Empty):  # unblock the reader
                    while True:
                        q.get_nowait()

        started = time.monotonic()
        with _Ticker(opts, stats, total, started):
            threads = [threading.Thread(target=read_all, name="redis-copy-reader", daemon=True),
                       threading.Thread(target=write_all, name="redis-copy-writer", daemon=True)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            stats.expired_during_copy += reader.expired
            stats.seconds = time.monotonic() - started
        if errors:
            exc = errors[0]
            if isinstance(exc, CopyError):
                raise exc
            if isinstance(exc, (OSError, ConnectionError)):
                raise CopyError(f"connection lost during the copy: {scrub(str(exc), source.url, target.url)}") from None
            raise exc
        return stats, facts
    finally:
        src.close()
        tgt.close()
        if fallback is not None:
            fallback.close()



def copy_and_verify(source: Endpoint, target: Endpoint, opts: CopyOptions | None = None,
                    after_copy: Callable[[], None] | None = None) -> CopyResult:
    """:func:`copy`, then :func:`verify` of the databases copied (``after_copy`` runs in between)."""
    opts = opts or CopyOptions()
    if source.same_server(target):
        raise ConfigError(f"source and target are the same server ({source.host}:{source.port})")
    stats, facts = copy(source, target, opts)
    result = CopyResult(stats=stats, verify=None, source=source.safe, target=target.safe,
                        source_version=facts.get("source_version", ""), target_version=facts.get("target_version", ""),
                        dbs=facts.get("dbs", []), total_keys=facts.get("total_keys", 0))
    log.info("redis copy finished", extra={k: v for k, v in result.summary().items() if not k.startswith("verify")})
    if after_copy is not None:
        after_copy()
    if opts.progress is not None:
        with contextlib.suppress(Exception):
            opts.progress(Progress(stats.keys, stats.bytes, facts.get("total_keys", 0), stats.seconds, phase="verify"))
    result.verify = verify(source, target, opts, dbs=result.dbs if opts.dbs is not None else None)
    log.info("redis verification finished", extra={"ok": result.verify.ok, "detail": result.verify.describe(),
                                                   "sampled": result.verify.sampled,
                                                   "seconds": round(result.verify.seconds, 3)})
    return result

