"""Copy every key of one Redis into another, faithfully and fast, then verify the copy.

Used by the ECS task ``python -m heroku2aws.tasks.redis_restore`` (and ``heroku2aws redis-copy``)
to move Heroku Redis into ElastiCache. Heroku Redis refuses SYNC/PSYNC, so the copy is done key by
key from the outside:

* **Reader** (one thread, one connection to the source): ``SCAN`` in batches; for the keys of each
  batch ``DUMP`` and ``PTTL``, pipelined, together with the next ``SCAN`` so that the source is never
  idle waiting for us. Batches are cut at ``batch_bytes`` of payload and handed to the writer through
  a bounded queue, so the task's memory is bounded whatever the key count (one DUMP payload is the
  only thing that is never split: that is what Redis itself requires).
* **Writer** (one thread, one connection to the target): ``RESTORE key ttl payload [REPLACE]`` per
  key, pipelined, two batches in flight. The TTL written is the remaining TTL read from the source
  minus the time the key spent in the queue, so a key never lives longer on the target than it
  would have on the source; a key whose TTL ran out on the way (or that ``DUMP`` finds gone: ``nil``
  / ``PTTL -2``) is counted in ``expired_during_copy``, not an error.
* Without ``replace`` an existing key on the target is a conflict that is reported by name (the copy
  goes on and fails at the end). When a target database was empty at the start, a key that exists
  anyway can only be one ``SCAN`` returned twice (SCAN may, when the source's table shrinks); it is
  counted as a duplicate and skipped.
* A target older than the source refuses the payload ("DUMP payload version or checksum are
  wrong"): those keys go the **type-aware** way: members are read in chunks (``GETRANGE``,
  ``LRANGE``, ``HSCAN``, ``SSCAN``, ``ZSCAN``, ``XRANGE``) and written in chunks, then the TTL is set.
  Streams keep their entry IDs, last generated ID and consumer groups (name and last delivered ID);
  the pending entries lists of consumer groups cannot be rebuilt through commands and are reported.
* Every logical database the source's ``INFO keyspace`` lists is copied to the same number on the
  target (``dbs=`` limits the copy). The database in a URL's path is not used for the mapping.
* **Verification**: key counts per database (``DBSIZE``; when they differ, an exact count of live
  keys by ``SCAN`` on both sides) and a sampled comparison of a share of keys: type, TTL within a
  tolerance, and the value compared per type (strings byte for byte, lists in order, hashes and sets
  as maps and sets, sorted sets member by member with their scores, streams entry by entry plus
  their last ID and groups). Large values are compared in chunks too.

The connections are plain sockets (TLS when ``rediss://``) speaking RESP2 through hiredis' parser:
redis-py's per-command machinery costs more than Redis itself at a few hundred thousand keys a
second. URLs are only ever shown through :func:`heroku2aws.secrets.redact`.
"""

from __future__ import annotations

import contextlib
import math
import queue
import random
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

import hiredis

from heroku2aws.obs import get_logger
from heroku2aws.secrets import redact

log = get_logger("redis_copy")

__all__ = [
    "ConfigError", "CopyError", "CopyOptions", "CopyResult", "CopyStats", "Endpoint", "Mismatch",
    "VerifyResult", "copy", "copy_and_verify", "parse_endpoint", "scrub", "verify",
]

VERSION_ERROR = "DUMP payload version or checksum are wrong"
BAD_FORMAT_ERROR = "Bad data format"
MAX_NAMED = 20  # keys named in a message (all are counted)
TYPES = ("string", "list", "set", "zset", "hash", "stream")


class CopyError(Exception):
    """The copy failed or is incomplete; the message is safe to print (no password)."""

    status = 1


class ConfigError(CopyError):
    """Bad input: unparseable URL, unreachable server, refused login, TLS failure."""

    status = 2


def show(key: bytes) -> str:
    """A key as printable text (not valid UTF-8 → backslash escapes; long keys shortened)."""
    text = key.decode("utf-8", "backslashreplace")
    return text if len(text) <= 200 else text[:197] + "..."


def scrub(text: str, *urls: str) -> str:
    """``text`` with every password of ``urls`` (raw and percent-decoded) and each URL's password part removed."""
    out = str(text)
    for url in urls:
        if not url:
            continue
        with contextlib.suppress(ValueError):
            pw = urlsplit(url).password
            if pw:
                out = out.replace(url, redact(url))
                for value in {pw, unquote(pw)}:
                    if len(value) >= 3:
                        out = out.replace(value, "***")
    return out


# ---------------------------------------------------------------------------------------------
# Connections


@dataclass(frozen=True)
class Endpoint:
    url: str
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool
    tls_verify: bool
    label: str = "redis"

    @property
    def safe(self) -> str:
        return redact(self.url)

    def same_server(self, other: Endpoint) -> bool:
        return (self.host, self.port) == (other.host, other.port)


def parse_endpoint(url: str, *, tls_verify: bool = True, label: str = "redis") -> Endpoint:
    """Check and split a ``redis://`` / ``rediss://`` URL; :class:`ConfigError` says what is wrong (no password)."""
    if not url or not isinstance(url, str):
        raise ConfigError(f"{label} URL is empty")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"{label} URL {redact(url)!r} cannot be parsed: {exc}") from None
    if parts.scheme not in ("redis", "rediss"):
        shown = redact(url) if "://" in url else "<not a URL>"
        raise ConfigError(f"{label} URL {shown!r} is not a redis:// or rediss:// URL")
    if not parts.hostname:
        raise ConfigError(f"{label} URL {redact(url)!r} has no host")
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise ConfigError(f"{label} URL {redact(url)!r}: the path must be a database number, not {path!r}")
    query = parse_qs(parts.query)
    reqs = (query.get("ssl_cert_reqs") or [""])[0].lower()
    verify = tls_verify and reqs not in ("none", "cert_none")
    return Endpoint(
        url=url.strip(), host=parts.hostname, port=port or 6379,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        tls=parts.scheme == "rediss", tls_verify=verify, label=label,
    )


def _arg(a) -> bytes:
    if a.__class__ is bytes:
        return a
    if isinstance(a, str):
        return a.encode()
    if isinstance(a, int):
        return b"%d" % a
    if isinstance(a, float):
        return repr(a).encode()
    return bytes(a)


def encode(*args) -> bytes:
    """One command in RESP."""
    return b"*%d\r\n%b" % (len(args), b"".join([b"$%d\r\n%b\r\n" % (len(a), a) for a in map(_arg, args)]))


class CommandError(CopyError):
    pass


class Conn:
    """One RESP2 connection: ``send`` raw bytes, ``get`` one parsed reply (errors come back as
    ``hiredis.ReplyError`` instances, never raised), ``call`` one command (errors raised)."""

    def __init__(self, ep: Endpoint, *, connect_timeout: float = 10, timeout: float = 600):
        self.ep = ep
        self.reader = hiredis.Reader()
        self._buf = bytearray(1 << 20)
        self.db = 0
        where = f"{ep.label} {ep.safe}"
        try:
            sock = socket.create_connection((ep.host, ep.port), timeout=connect_timeout)
        except OSError as exc:
            raise ConfigError(f"cannot connect to {where}: {exc.strerror or exc}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ep.tls:
            ctx = ssl.create_default_context()
            if not ep.tls_verify:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            try:
                sock = ctx.wrap_socket(sock, server_hostname=ep.host)
            except ssl.SSLCertVerificationError as exc:
                sock.close()
                raise ConfigError(
                    f"TLS certificate of {where} not trusted ({exc.verify_message}). Heroku Redis uses self-signed "
                    "certificates: pass --insecure-skip-verify or set REDIS_TLS_VERIFY=false") from None
            except (ssl.SSLError, OSError) as exc:
                sock.close()
                raise ConfigError(f"TLS handshake with {where} failed: {exc}") from None
        sock.settimeout(timeout)
        self.sock = sock
        try:
            if ep.password is not None:
                args = ("AUTH", ep.username, ep.password) if ep.username else ("AUTH", ep.password)
                r = self.roundtrip(encode(*args))
                if isinstance(r, hiredis.ReplyError):
                    raise ConfigError(f"login to {where} refused: {scrub(str(r), ep.url)}")
            r = self.roundtrip(encode("PING"))
            if isinstance(r, hiredis.ReplyError):
                raise ConfigError(f"{where} answered PING with: {scrub(str(r), ep.url)}")
        except (OSError, ConnectionError) as exc:
            self.close()
            raise ConfigError(f"{where} closed the connection during login: {exc}") from None
        except ConfigError:
            self.close()
            raise

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def get(self):
        r = self.reader.gets()
        while r is False:
            n = self.sock.recv_into(self._buf)
            if not n:
                raise ConnectionError(f"{self.ep.label} {self.ep.safe} closed the connection")
            self.reader.feed(self._buf, 0, n)
            r = self.reader.gets()
        return r

    def roundtrip(self, data: bytes):
        self.send(data)
        return self.get()

    def call(self, *args):
        r = self.roundtrip(encode(*args))
        if isinstance(r, hiredis.ReplyError):
            raise CommandError(f"{args[0]} on {self.ep.label} failed: {r}")
        return r

    def pipeline(self, commands: list[tuple]) -> list:
        """Replies of ``commands`` (errors as ReplyError instances)."""
        if not commands:
            return []
        self.send(b"".join(encode(*c) for c in commands))
        return [self.get() for _ in commands]

    def select(self, db: int) -> None:
        if db != self.db:
            self.call("SELECT", db)
            self.db = db

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def _pairs(flat: list) -> dict:
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


def keyspace(conn: Conn) -> dict[int, tuple[int, int]]:
    """``{db: (keys, keys with a TTL)}`` from INFO keyspace."""
    out: dict[int, tuple[int, int]] = {}
    for line in conn.call("INFO", "keyspace").decode().splitlines():
        if line.startswith("db") and ":" in line:
            name, rest = line.split(":", 1)
            fields = dict(kv.split("=", 1) for kv in rest.split(","))
            out[int(name[2:])] = (int(fields.get("keys", 0)), int(fields.get("expires", 0)))
    return out


def server_version(conn: Conn) -> str:
    for line in conn.call("INFO", "server").decode().splitlines():
        if line.startswith(("redis_version:", "valkey_version:")):
            return line.split(":", 1)[1].strip()
    return "unknown"


# ---------------------------------------------------------------------------------------------
# Options, statistics, results


@dataclass
class CopyOptions:
    replace: bool = False
    dbs: list[int] | None = None          # None: every database INFO keyspace lists
    batch_keys: int = 1000                # SCAN COUNT (upper bound)
    batch_bytes: int = 4 << 20            # payload bytes per batch handed to the writer
    queue_depth: int = 4                  # batches waiting for the writer
    chunk: int = 1000                     # members per chunk in the type-aware path and verification
    chunk_bytes: int = 1 << 20            # string bytes per chunk
    verify_sample: float = 0.05           # share of keys whose values are compared
    ttl_tolerance_ms: int = 2000
    progress: Callable[[Progress], None] | None = None
    progress_interval: float = 10.0


@dataclass
class Progress:
    keys: int
    bytes: int
    total_keys: int
    seconds: float
    phase: str = "copy"

    @property
    def keys_per_second(self) -> float:
        return self.keys / self.seconds if self.seconds > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        rate = self.keys_per_second
        if rate <= 0 or self.total_keys <= 0:
            return None
        return max(0.0, (self.total_keys - self.keys) / rate)


@dataclass
class CopyStats:
    keys: int = 0                   # keys written (RESTORE + type-aware)
    bytes: int = 0                  # DUMP payload bytes written (value bytes for type-aware keys)
    restored: int = 0
    fallback_keys: int = 0
    fallback_chunks: int = 0
    fallback_max_chunk: int = 0     # most members (of a list, set, sorted set, hash, stream) read by one command
    fallback_max_string_chunk: int = 0  # most bytes of a string read by one command
    expired_during_copy: int = 0
    duplicates: int = 0
    conflicts: int = 0
    conflict_keys: list[str] = field(default_factory=list)
    failed: int = 0
    failed_keys: list[str] = field(default_factory=list)
    stream_pending_not_copied: int = 0
    seconds: float = 0.0
    per_db: dict[int, int] = field(default_factory=dict)

    def conflict(self, db: int, key: bytes) -> None:
        self.conflicts += 1
        if len(self.conflict_keys) < MAX_NAMED:
            self.conflict_keys.append(f"db{db}:{show(key)}")

    def fail(self, db: int, key: bytes, why: str) -> None:
        self.failed += 1
        if len(self.failed_keys) < MAX_NAMED:
            self.failed_keys.append(f"db{db}:{show(key)} ({why})")

    def count(self, db: int, n: int = 1) -> None:
        self.per_db[db] = self.per_db.get(db, 0) + n


@dataclass
class Mismatch:
    db: int
    key: str
    reason: str

    def __str__(self) -> str:
        return f"db{self.db}:{self.key} ({self.reason})"


@dataclass
class VerifyResult:
    counts: dict[int, tuple[int, int]] = field(default_factory=dict)   # db -> (source, target)
    count_mismatches: list[int] = field(default_factory=list)
    sampled: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    mismatch_count: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.count_mismatches and not self.mismatch_count

    def describe(self) -> str:
        bits = []
        for db in self.count_mismatches:
            s, t = self.counts[db]
            bits.append(f"db{db} has {s} keys on the source and {t} on the target")
        if self.mismatch_count:
            named = ", ".join(str(m) for m in self.mismatches)
            more = f" and {self.mismatch_count - len(self.mismatches)} more" if self.mismatch_count > len(self.mismatches) else ""
            bits.append(f"{self.mismatch_count} of {self.sampled} sampled keys differ: {named}{more}")
        return "; ".join(bits) or "source and target match"


@dataclass
class CopyResult:
    stats: CopyStats
    verify: VerifyResult | None
    source: str
    target: str
    source_version: str = ""
    target_version: str = ""
    dbs: list[int] = field(default_factory=list)
    total_keys: int = 0

    @property
    def complete(self) -> bool:
        return not self.stats.conflicts and not self.stats.failed

    @property
    def ok(self) -> bool:
        return self.complete and self.verify is not None and self.verify.ok

    def summary(self) -> dict:
        s = self.stats
        v = self.verify
        return {
            "keys": s.keys,
            "bytes": s.bytes,
            "seconds": round(s.seconds, 3),
            "keys_per_second": round(s.keys / s.seconds, 1) if s.seconds > 0 else 0.0,
            "fallback_keys": s.fallback_keys,
            "expired_during_copy": s.expired_during_copy,
            "verified": bool(self.ok),
            "complete": self.complete,
            "restored_keys": s.restored,
            "duplicates_skipped": s.duplicates,
            "conflicts": s.conflicts,
            "conflict_keys": s.conflict_keys,
            "failed_keys": s.failed_keys,
            "stream_pending_not_copied": s.stream_pending_not_copied,
            "databases": {str(db): {"copied": s.per_db.get(db, 0),
                                     **({"source_keys": v.counts[db][0], "target_keys": v.counts[db][1]}
                                        if v and db in v.counts else {})} for db in self.dbs},
            "verify_sampled": v.sampled if v else 0,
            "verify_mismatches": [str(m) for m in v.mismatches] if v else [],
            "verify_seconds": round(v.seconds, 3) if v else 0.0,
            "source": self.source,
            "target": self.target,
            "source_version": self.source_version,
            "target_version": self.target_version,
        }


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


def _encode_restores(items: list[tuple[bytes, int, bytes]], replace: bool) -> bytes:
    """``RESTORE key ttl payload [REPLACE]`` for each ``(key, ttl_ms, payload)`` (ttl 0: no expiry)."""
    n, one = (5, _RESTORE_ONE_REPLACE) if replace else (4, _RESTORE_ONE)
    if all(len(p) < 65536 for _, _, p in items):  # small payloads: one format per key
        return b"".join([one % (n, len(k), k, len(t), t, len(p), p) for k, t, p in
                         [(k, b"%d" % ttl, p) for k, ttl, p in items]])
    tail = _TAIL_REPLACE if replace else _TAIL
    parts: list[bytes] = []
    add = parts.append
    head = _RESTORE_HEAD
    for k, ttl, p in items:  # large payloads are not copied twice
        t = b"%d" % ttl
        add(head % (n, len(k), k, len(t), t, len(p)))
        add(p)
        add(tail)
    return b"".join(parts)


class _Batch:
    __slots__ = ("db", "items", "read_at", "nbytes")

    def __init__(self, db: int, items: list, read_at: float, nbytes: int):
        self.db, self.items, self.read_at, self.nbytes = db, items, read_at, nbytes


class _Stop(Exception):
    pass


class _Reader:
    def __init__(self, conn: Conn, opts: CopyOptions, out: queue.Queue, stop: threading.Event):
        self.conn, self.opts, self.out, self.stop = conn, opts, out, stop
        self.expired = 0
        self.avg_payload = 128.0

    def _put(self, batch) -> None:
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

    def run_db(self, db: int) -> None:
        conn = self.conn
        conn.select(db)
        conn.send(_scan_cmd(b"0", self._count()))
        reply = conn.get()
        if isinstance(reply, hiredis.ReplyError):
            raise CopyError(f"SCAN failed on the source: {reply}")
        cursor, keys = reply
        prev: list[bytes] | None = None
        prev_at = 0.0
        while True:
            if self.stop.is_set():
                raise _Stop
            more = cursor != b"0"
            buf = [_scan_cmd(cursor, self._count())] if more else []
            buf.append(b"".join([_DUMP_PTTL % (len(k), k, len(k), k) for k in keys]))
            sent_at = time.monotonic()
            conn.send(b"".join(buf))
            if prev is not None:
                self._collect(db, prev, prev_at)
            if not more:
                self._collect(db, keys, sent_at)
                return
            reply = conn.get()
            if isinstance(reply, hiredis.ReplyError):
                raise CopyError(f"SCAN failed on the source: {reply}")
            prev, prev_at = keys, sent_at
            cursor, keys = reply


class _Writer:
    def __init__(self, conn: Conn, opts: CopyOptions, stats: CopyStats, fallback: _TypeAwareCopier,
                 target_empty: dict[int, bool]):
        self.conn, self.opts, self.stats, self.fallback = conn, opts, stats, fallback
        self.target_empty = target_empty

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
        data = _encode_restores(items, self.opts.replace)
        if batch.db != self.conn.db:
            data = encode("SELECT", batch.db) + data
            self.conn.db = batch.db
            items.insert(0, (b"", -1, b""))  # marks the SELECT reply
        self.conn.send(data)
        return items

    def _finish(self, batch: _Batch, items: list[tuple[bytes, int, bytes]]) -> None:
        get = self.conn.get
        gets = self.conn.reader.gets
        stats = self.stats
        db = batch.db
        ok = nbytes = 0
        redo: list[tuple[bytes, int]] = []
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
                    stats.duplicates += 1
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
        if redo:
            self.fallback.copy_keys(db, [k for k, _ in redo])

    def run(self, inq: queue.Queue, stop: threading.Event) -> None:
        pending: tuple[_Batch, list] | None = None
        while True:
            batch = inq.get()
            if batch is None or stop.is_set():
                break
            items = self._send(batch)
            if pending is not None:
                self._finish(*pending)
            pending = (batch, items)
        if pending is not None and not stop.is_set():
            self._finish(*pending)


# ---------------------------------------------------------------------------------------------
# The type-aware path (RESTORE refused the payload)


class _TypeAwareCopier:
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

    def _chunk_seen(self, n: int, string: bool = False) -> None:
        stats = self.stats
        stats.fallback_chunks += 1
        if string:
            stats.fallback_max_string_chunk = max(stats.fallback_max_string_chunk, n)
        else:
            stats.fallback_max_chunk = max(stats.fallback_max_chunk, n)

    def copy_keys(self, db: int, keys: list[bytes]) -> None:
        """Copy ``keys`` of ``db``; small values are read and written in pipelines, large ones in chunks."""
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
            for (k, kind, pttl), e in zip(live, exists, strict=True):
                if e == 1 and not self.opts.replace:
                    if self.target_empty.get(db):
                        stats.duplicates += 1
                    else:
                        stats.conflict(db, k)
                else:
                    todo.append((k, kind, pttl, e == 1))
            sizes = src.pipeline([(_SIZE_CMD[kind], k) for k, kind, _, _ in todo])
            small, large = [], []
            for (k, kind, pttl, existed), n in zip(todo, sizes, strict=True):
                n = n if isinstance(n, int) else 0
                limit = self.opts.chunk_bytes if kind == "string" else chunk
                (large if n > limit else small).append((k, kind, pttl, existed))
            if small:
                self._copy_small(db, small, read_at)
            for k, kind, pttl, existed in large:
                self._copy_large(db, k, kind, pttl, existed, read_at)

    def _copy_small(self, db: int, keys: list, read_at: float) -> None:
        """Values that fit in one chunk: one read pipeline on the source, one write pipeline on the target."""
        src, tgt, stats = self.src, self.tgt, self.stats
        cmds: list[tuple] = []
        for k, kind, _, _ in keys:
            if kind == "stream":
                cmds += [("XRANGE", k, "-", "+"), ("XINFO", "STREAM", k), ("XINFO", "GROUPS", k)]
            else:
                cmds.append(_READ_ALL[kind](k))
        replies = src.pipeline(cmds)
        writes: list[tuple] = []
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
        stats.keys += len(done)
        stats.fallback_keys += len(done)
        stats.bytes += sum(done)
        stats.count(db, len(done))

    def _copy_large(self, db: int, key: bytes, kind: str, pttl: int, existed: bool, read_at: float) -> None:
        src, tgt, stats, chunk = self.src, self.tgt, self.stats, self.opts.chunk
        if existed:
            tgt.call("DEL", key)
        nbytes = 0
        write = self._write  # the target writes chunk i while the source reads chunk i+1
        if kind == "string":
            step = self.opts.chunk_bytes
            off = 0
            while True:
                part = src.call("GETRANGE", key, off, off + step - 1)
                if not part and off:
                    break
                write(key, "APPEND" if off else "SET", key, part)
                self._chunk_seen(len(part), string=True)
                nbytes += len(part)
                off += len(part)
                if len(part) < step:
                    break
        elif kind == "list":
            i = 0
            while True:
                part = src.call("LRANGE", key, i, i + chunk - 1)
                if not part:
                    break
                write(key, "RPUSH", key, *part)
                self._chunk_seen(len(part))
                nbytes += _value_bytes(part)
                i += len(part)
                if len(part) < chunk:
                    break
        elif kind in ("hash", "set", "zset"):
            scan, add = {"hash": ("HSCAN", "HSET"), "set": ("SSCAN", "SADD"), "zset": ("ZSCAN", "ZADD")}[kind]
            cursor = b"0"
            while True:
                cursor, part = src.call(scan, key, cursor, "COUNT", chunk)
                if part:
                    args = part if kind != "zset" else _swap_pairs(part)
                    write(key, add, key, *args)
                    self._chunk_seen(len(part) // (1 if kind == "set" else 2))
                    nbytes += _value_bytes(part)
                if cursor == b"0":
                    break
        elif kind == "stream":
            nbytes = self._copy_stream(db, key)
        self._drain()
        # The TTL, and a last look at the source: a key that vanished meanwhile is not copied.
        if pttl >= 0:
            ttl = pttl - int((time.monotonic() - read_at) * 1000) - 1
            if ttl <= 0:
                tgt.call("DEL", key)
                stats.expired_during_copy += 1
                return
            tgt.call("PEXPIRE", key, ttl)
        if not src.call("EXISTS", key):
            tgt.call("DEL", key)
            stats.expired_during_copy += 1
            return
        stats.keys += 1
        stats.fallback_keys += 1
        stats.bytes += nbytes
        stats.count(db)

    def _write(self, key: bytes, *cmd) -> None:
        """Send a write to the target without waiting for its reply (read later by ``_drain``)."""
        self.tgt.send(encode(*cmd))
        self._unread.append((key, cmd[0]))
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

    def _copy_stream(self, db: int, key: bytes) -> int:
        src, chunk = self.src, self.opts.chunk
        nbytes = 0
        start = b"-"
        copied = 0
        while True:
            entries = src.call("XRANGE", key, start, b"+", "COUNT", chunk)
            if not entries:
                break
            for eid, fields in entries:
                self._write(key, "XADD", key, eid, *fields)
            self._chunk_seen(len(entries))
            nbytes += sum(len(eid) + _value_bytes(f) for eid, f in entries)
            copied += len(entries)
            start = b"(" + entries[-1][0]
            if len(entries) < chunk:
                break
        for cmd in self._stream_meta(db, key, src.call("XINFO", "STREAM", key), src.call("XINFO", "GROUPS", key), bool(copied)):
            self._write(key, *cmd)
        self._drain()
        return nbytes

    def _stream_meta(self, db: int, key: bytes, info: list, groups: list, has_entries: bool) -> list[tuple]:
        """Target commands that give a copied stream its last ID, counters and consumer groups (after its entries)."""
        cmds: list[tuple] = []
        if not has_entries:  # an empty stream still exists: create it without entries
            cmds += [("XGROUP", "CREATE", key, "h2a-tmp", "$", "MKSTREAM"), ("XGROUP", "DESTROY", key, "h2a-tmp")]
        info_d = _pairs(info)
        last = info_d.get(b"last-generated-id")
        new = self._target_is_7()
        if last:
            if new and b"entries-added" in info_d:
                cmds.append(("XSETID", key, last, "ENTRIESADDED", info_d[b"entries-added"],
                             "MAXDELETEDID", info_d.get(b"max-deleted-entry-id") or b"0-0"))
            else:
                cmds.append(("XSETID", key, last))
        for g in groups:
            g = _pairs(g)
            cmd = ("XGROUP", "CREATE", key, g[b"name"], g[b"last-delivered-id"])
            if new and g.get(b"entries-read") is not None:
                cmd += ("ENTRIESREAD", g[b"entries-read"])
            cmds.append(cmd)
            pending = int(g.get(b"pending") or 0)
            if pending:
                self.stats.stream_pending_not_copied += pending
                log.warning("stream consumer group pending entries not copied (type-aware path)",
                            extra={"db": db, "key": show(key), "group": show(g[b"name"]), "pending": pending})
        return cmds


_SIZE_CMD = {"string": "STRLEN", "list": "LLEN", "set": "SCARD", "zset": "ZCARD", "hash": "HLEN", "stream": "XLEN"}
_READ_ALL: dict[str, Callable[[bytes], tuple]] = {
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


_WRITE: dict[str, Callable[[bytes, object], tuple]] = {
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
        while not self._stop.wait(self.opts.progress_interval):
            with contextlib.suppress(Exception):
                self.opts.progress(self.snapshot())

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
        fallback = _TypeAwareCopier(source, target, opts, stats, target_empty)
        reader = _Reader(src, opts, q, stop)
        writer = _Writer(tgt, opts, stats, fallback, target_empty)
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


# ---------------------------------------------------------------------------------------------
# Verification


def _scan_keys(conn: Conn, count: int = 1000) -> Iterator[list[bytes]]:
    cursor = b"0"
    while True:
        cursor, keys = conn.call("SCAN", cursor, "COUNT", count)
        if keys:
            yield keys
        if cursor == b"0":
            return


def _live_count(ep: Endpoint, db: int) -> int:
    conn = Conn(ep)
    try:
        conn.select(db)
        return sum(len(k) for k in _scan_keys(conn))
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
        sizes_s, sizes_t = self.both([(_SIZE_CMD.get(kind, "EXISTS"), k) for k, kind in todo])
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
                    cmds.append(_READ_ALL[kind](k) if kind in _READ_ALL else ("DUMP", k))
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
    if _pairs(a[1]).get(b"last-generated-id") != _pairs(b[1]).get(b"last-generated-id"):
        return "stream last generated ID differs"

    def groups(reply: list) -> list:
        return sorted((g[b"name"], g[b"last-delivered-id"]) for g in map(_pairs, reply))

    if groups(a[2]) != groups(b[2]):
        return "stream consumer groups differ"
    return None


def _same_value(kind: str, a, b) -> bool:
    if kind in ("string", "list"):
        return a == b
    if kind == "set":
        return isinstance(a, list) and isinstance(b, list) and set(a) == set(b) and len(a) == len(b)
    if kind == "hash":
        return isinstance(a, list) and isinstance(b, list) and _pairs(a) == _pairs(b)
    if kind == "zset":
        if not (isinstance(a, list) and isinstance(b, list)) or len(a) != len(b):
            return False
        return {m: float(s) for m, s in _pairs(a).items()} == {m: float(s) for m, s in _pairs(b).items()}
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
                for keys in _scan_keys(src, 1000):
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


def peak_rss_bytes() -> int | None:
    """This process's resident-set high-water mark (Linux ``VmHWM``; unlike ``ru_maxrss`` it does not
    inherit the RSS of the parent that spawned us); ``None`` where /proc is missing."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def human_duration(s: float | None) -> str:
    if s is None or math.isinf(s):
        return "?"
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"
