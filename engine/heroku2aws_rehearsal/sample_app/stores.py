"""How the sample app reaches its data stores: ``DATABASE_URL`` and ``REDIS_URL``, as on Heroku.

``rediss://`` is TLS without certificate verification (Heroku Redis presents self-signed
certificates). Descriptions and error messages never carry a password.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from urllib.parse import urlsplit

import psycopg
import redis

__all__ = ["StopFlag", "describe_postgres", "describe_redis", "log", "postgres_connect", "redis_connect", "scrub"]


class ConfigError(RuntimeError):
    """A required config var is missing or malformed."""


def env_url(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is not set")
    return value


def describe_postgres(url: str) -> str:
    """``host:port/db`` of a Postgres URL (what the app reads, never the credentials)."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 5432}/{parts.path.lstrip('/') or 'postgres'}"


def describe_redis(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}"


def scrub(text: str, *urls: str) -> str:
    """``text`` without the passwords of ``urls`` (nor the URLs themselves)."""
    out = str(text)
    for url in urls:
        if not url:
            continue
        out = out.replace(url, "<url>")
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        if password:
            out = out.replace(password, "***")
    return out


def postgres_connect(url: str, timeout: float = 5, **kw) -> psycopg.Connection:
    return psycopg.connect(url, connect_timeout=max(1, int(timeout)), application_name="sample-app", **kw)


def redis_connect(url: str, timeout: float = 3) -> redis.Redis:
    kw: dict = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    if urlsplit(url).scheme == "rediss":
        kw.update(ssl_cert_reqs=None, ssl_check_hostname=False)   # Heroku Redis: self-signed, verify off
    return redis.Redis.from_url(url, **kw)


def log(process: str, message: str, **fields) -> None:
    """One JSON line on stdout (Heroku's log router / CloudWatch pick it up)."""
    record = {"at": datetime.now(UTC).isoformat(timespec="milliseconds"), "process": process, "msg": message,
              **fields}
    print(json.dumps(record, default=str), flush=True)


class StopFlag:
    """Set by SIGTERM / SIGINT: how Heroku and ECS ask a process to stop."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal: int | None = None

    def install(self) -> StopFlag:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, _frame) -> None:
        self.signal = signum
        self.event.set()

    def __bool__(self) -> bool:
        return self.event.is_set()

    def wait(self, seconds: float) -> bool:
        return self.event.wait(seconds)


def fail(process: str, message: str, code: int = 1) -> None:
    log(process, message, level="error")
    print(f"{process}: {message}", file=sys.stderr, flush=True)
    sys.exit(code)
