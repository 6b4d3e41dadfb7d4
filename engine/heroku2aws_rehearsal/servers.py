"""Throw-away PostgreSQL clusters and Redis servers for rehearsals, tests and benchmarks.

Every server lives in its own temporary directory, listens on a free port on 127.0.0.1 and is
stopped (and its directory removed) by ``stop()``, by the context manager, or at interpreter exit.
No system service is touched: the machine's own PostgreSQL / Redis on 5432 / 6379 are never used.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

_LIVE: list[_Server] = []


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen | None, deadline_s: float, what: str) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode} before it listened on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not listen on port {port} within {deadline_s:.0f}s")


def make_self_signed_cert(directory: Path, owner_uid: int | None = None) -> tuple[Path, Path]:
    """A self-signed certificate and key for CN=localhost (as Heroku's data stores present)."""
    cert, key = directory / "server.crt", directory / "server.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    key.chmod(0o600)
    if owner_uid is not None:
        os.chown(cert, owner_uid, -1)
        os.chown(key, owner_uid, -1)
    return cert, key


class _Server:
    proc: subprocess.Popen | None = None
    root: Path

    def stop(self) -> None:
        raise NotImplementedError

    def _shutdown(self, sig: int, grace: float) -> None:
        """Stop the server's process group (``sig``, then SIGKILL after ``grace`` s) and remove its directory."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        shutil.rmtree(self.root, ignore_errors=True)
        if self in _LIVE:
            _LIVE.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _pg_bin(name: str) -> str:
    for base in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (base / name).exists():
            return str(base / name)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"PostgreSQL server binary {name!r} not found (install postgresql)")
    return found


@dataclass
class PostgresServer(_Server):
    """A PostgreSQL cluster of its own (initdb) on a free port.

    ``superuser``/``password`` own the cluster; ``url(db)`` gives a libpq URL. Connections over TCP
    need the password (scram), as on Heroku and RDS. ``ssl=True`` serves TLS with a self-signed
    certificate, like Heroku Postgres. ``wal_level=logical`` so CDC can be rehearsed.
    """

    name: str = "pg"
    ssl: bool = False
    port: int = 0
    superuser: str = "postgres"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    root: Path = field(init=False)

    def __post_init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=f"h2a-{self.name}-"))
        self._as_root = os.geteuid() == 0
        self._uid = pwd.getpwnam("postgres").pw_uid if self._as_root else os.geteuid()

    def _run_as(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if self._as_root else argv

    def start(self, deadline_s: float = 60) -> PostgresServer:
        data = self.root / "data"
        sock = self.root / "sock"
        sock.mkdir()
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if self._as_root:
            os.chown(self.root, self._uid, -1)
            os.chown(sock, self._uid, -1)
            os.chown(pwfile, self._uid, -1)
        subprocess.run(
            self._run_as([_pg_bin("initdb"), "-D", str(data), "-U", self.superuser, "--pwfile", str(pwfile),
                          "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"]),
            check=True, capture_output=True,
        )
        pwfile.unlink()
        self.port = self.port or free_port()
        conf = [
            f"port = {self.port}", "listen_addresses = '127.0.0.1'", f"unix_socket_directories = '{sock}'",
            "fsync = off", "synchronous_commit = off", "full_page_writes = off",
            "wal_level = logical", "max_replication_slots = 10", "max_wal_senders = 10",
            "max_connections = 100", "shared_buffers = 128MB", "logging_collector = off",
        ]
        if self.ssl:
            cert, key = make_self_signed_cert(data, self._uid if self._as_root else None)
            conf += ["ssl = on", f"ssl_cert_file = '{cert}'", f"ssl_key_file = '{key}'"]
        with open(data / "postgresql.conf", "a") as fh:
            fh.write("\n".join(conf) + "\n")
        hba = data / "pg_hba.conf"
        hba.write_text(
            "local all all trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
            "host replication all 127.0.0.1/32 scram-sha-256\n"
        )
        log = self.root / "server.log"
        self.proc = subprocess.Popen(
            self._run_as([_pg_bin("postgres"), "-D", str(data)]),
            stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True,  # noqa: SIM115
        )
        _LIVE.append(self)
        _wait_port(self.port, self.proc, deadline_s, f"PostgreSQL {self.name}")
        # The port answers before the server accepts logins: wait for a real one.
        end = time.monotonic() + deadline_s
        while True:
            r = subprocess.run(self.psql_argv("postgres", "-c", "select 1"), capture_output=True)
            if r.returncode == 0:
                break
            if time.monotonic() > end:
                raise TimeoutError(f"PostgreSQL {self.name} refused logins: {r.stderr.decode()[-300:]}")
            time.sleep(0.1)
        return self

    def psql_argv(self, db: str, *args: str) -> list[str]:
        return ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(self.root / "sock"), "-p", str(self.port),
                "-U", self.superuser, "-d", db, *args]

    def sql(self, db: str, sql: str) -> str:
        """Run SQL as the superuser over the private socket; returns psql's unaligned output."""
        r = subprocess.run(self.psql_argv(db, "-At", "-c", sql), capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"psql on {self.name}/{db} failed: {r.stderr.strip()}")
        return r.stdout

    def url(self, db: str = "postgres", user: str | None = None, password: str | None = None) -> str:
        user = user or self.superuser
        pw = self.password if password is None else password
        q = "?sslmode=require" if self.ssl else ""
        return f"postgresql://{quote(user)}:{quote(pw, safe='')}@127.0.0.1:{self.port}/{db}{q}"

    def stop(self) -> None:
        # SIGINT = PostgreSQL's "fast" shutdown: disconnect clients, stop at once.
        self._shutdown(signal.SIGINT, grace=20)


@dataclass
class RedisServer(_Server):
    """A redis-server of its own on a free port, persisting nothing.

    ``tls=True`` serves TLS only (self-signed, like Heroku Redis: connect with ``rediss://`` and
    verification off). ``password`` turns on ``requirepass``.
    """

    name: str = "redis"
    tls: bool = False
    password: str | None = None
    port: int = 0
    extra_args: tuple[str, ...] = ()
    root: Path = field(init=False)

    def __post_init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=f"h2a-{self.name}-"))

    def start(self, deadline_s: float = 30) -> RedisServer:
        binary = shutil.which("redis-server")
        if not binary:
            raise FileNotFoundError("redis-server not found: `make setup` installs it from Debian's packages")
        self.port = self.port or free_port()
        argv = [binary, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(self.root),
                "--daemonize", "no", "--logfile", str(self.root / "server.log")]
        if self.tls:
            cert, key = make_self_signed_cert(self.root)
            argv += ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", str(cert),
                     "--tls-key-file", str(key), "--tls-auth-clients", "no"]
        else:
            argv += ["--port", str(self.port)]
        if self.password:
            argv += ["--requirepass", self.password]
        argv += list(self.extra_args)
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        _LIVE.append(self)
        _wait_port(self.port, self.proc, deadline_s, f"redis-server {self.name}")
        return self

    def url(self, db: int = 0) -> str:
        scheme = "rediss" if self.tls else "redis"
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"{scheme}://{auth}127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0, **kw):
        import redis

        if self.tls:
            kw.setdefault("ssl_cert_reqs", None)
        return redis.Redis.from_url(self.url(db), **kw)

    def stop(self) -> None:
        self._shutdown(signal.SIGTERM, grace=10)


@atexit.register
def _stop_all() -> None:
    for server in list(_LIVE):
        with contextlib.suppress(Exception):
            server.stop()
