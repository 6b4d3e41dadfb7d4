"""The sample app's ``web`` process: an HTTP server on ``$PORT``.

``GET /health`` → 200 ``{"status": "ok", "database": "host:port/db", "redis": "host:port",
"orders": N}`` when a real query on the seeded ``orders`` table and a Redis PING both succeed,
else 503 with the reason (never a password). ``GET /`` → a short page. SIGTERM stops it cleanly
(exit 0). ``HOST`` (default 127.0.0.1: the rehearsal runs it on this machine) and ``PORT``
(default 5000) say where it listens.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from .stores import (
    ConfigError,
    StopFlag,
    describe_postgres,
    describe_redis,
    env_url,
    log,
    postgres_connect,
    redis_connect,
    scrub,
)

PROCESS = "web"
CHECK_TIMEOUT_S = 3


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        pass


class App:
    def __init__(self, database_url: str, redis_url: str) -> None:
        self.database_url, self.redis_url = database_url, redis_url
        self._db_lock = threading.Lock()     # one database connection, reused (requests run in threads)
        self._db_conn = None
        self._redis_client = None            # redis-py clients are thread-safe (a connection pool)

    # ------------------------------------------------------------------ checks
    def _count_orders(self) -> int:
        with self._db_lock:
            try:
                if self._db_conn is None or self._db_conn.closed or self._db_conn.broken:
                    self._db_conn = postgres_connect(self.database_url, timeout=CHECK_TIMEOUT_S, autocommit=True)
                (orders,) = self._db_conn.execute("SELECT count(*) FROM orders").fetchone()
                return int(orders)
            except Exception:
                if self._db_conn is not None:
                    with contextlib.suppress(Exception):
                        self._db_conn.close()
                self._db_conn = None
                raise

    def _ping_redis(self) -> bool:
        if self._redis_client is None:
            self._redis_client = redis_connect(self.redis_url, timeout=CHECK_TIMEOUT_S)
        return bool(self._redis_client.ping())

    def check(self) -> tuple[bool, dict]:
        body: dict = {"database": describe_postgres(self.database_url), "redis": describe_redis(self.redis_url)}
        problems = []
        try:
            body["orders"] = self._count_orders()
        except Exception as exc:  # noqa: BLE001 - any failure is a reason to be unhealthy
            problems.append(f"database: {type(exc).__name__}: {exc}".strip())
        try:
            if not self._ping_redis():
                problems.append("redis: PING did not answer PONG")
        except Exception as exc:  # noqa: BLE001
            problems.append(f"redis: {type(exc).__name__}: {exc}".strip())
        if problems:
            body["status"] = "unhealthy"
            body["error"] = scrub("; ".join(problems), self.database_url, self.redis_url)
            return False, body
        body["status"] = "ok"
        return True, body

    # ------------------------------------------------------------------ WSGI
    def __call__(self, environ, start_response):
        request = Request(environ)
        started = time.monotonic()
        if request.path == "/health":
            ok, body = self.check()
            response = Response(json.dumps(body), status=200 if ok else 503, mimetype="application/json")
            if not ok:
                log(PROCESS, "health check failed", error=body["error"])
        elif request.path == "/":
            response = Response(
                "<!doctype html><title>Sample app</title><h1>Sample app</h1>"
                "<p>The app heroku2aws migrates in its rehearsal. See <a href=\"/health\">/health</a>.</p>",
                mimetype="text/html")
        else:
            response = Response(json.dumps({"error": "not found"}), status=404, mimetype="application/json")
        if request.path != "/health" or response.status_code != 200:
            log(PROCESS, "request", method=request.method, path=request.path, status=response.status_code,
                ms=round((time.monotonic() - started) * 1000, 1))
        return response(environ, start_response)


def main() -> int:
    try:
        database_url, redis_url = env_url("DATABASE_URL"), env_url("REDIS_URL")
    except ConfigError as exc:
        log(PROCESS, str(exc), level="error")
        return 1
    stop = StopFlag().install()
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    server = make_server(host, port, App(database_url, redis_url), threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    log(PROCESS, "listening", host=host, port=port, database=describe_postgres(database_url),
        redis=describe_redis(redis_url))
    stop.event.wait()
    log(PROCESS, "stopping", signal=stop.signal)
    server.shutdown()
    thread.join(5)
    server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
