"""One RESP2 connection over a plain (or TLS) socket, parsed by hiredis, and the few server facts the copier reads.

redis-py's per-command machinery costs more than Redis itself at a few hundred thousand keys a second: the copier
writes RESP itself (:func:`encode`) and reads replies through hiredis' parser.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator

import hiredis

from ..redaction import scrub
from .errors import CommandError, ConfigError
from .urls import Endpoint

__all__ = ["Conn", "encode", "keyspace", "pairs", "scan_keys", "server_version"]


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


def pairs(flat: list) -> dict:
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



def scan_keys(conn: Conn, count: int = 1000) -> Iterator[list[bytes]]:
    cursor = b"0"
    while True:
        cursor, keys = conn.call("SCAN", cursor, "COUNT", count)
        if keys:
            yield keys
        if cursor == b"0":
            return

