"""The sample app's ``web`` process: an HTTP server on ``$PORT``.

``GET /health`` → 200 ``{"status": "ok", "database": "host:port/db", "redis": "host:port",
"orders": N}`` when a real query on the seeded ``orders`` table and a Redis PING both succeed,
else 503 with the reason (never a password). ``GET /`` → a short page. ``GET /slow?seconds=N``
(0 < N ≤ 20) answers after N seconds: a request in flight, for the stop tests.

SIGTERM stops it as a Heroku web process should (Dev Center "Dynos and the Dyno Manager": SIGTERM, then
SIGKILL 30 seconds later): it stops accepting connections, finishes the requests in flight (at most
``DRAIN_S``, under the 30 s grace), then exits 0. ``HOST`` (default 127.0.0.1: the rehearsal runs it on this
machine) and ``PORT`` (default 5000) say where it listens. At start it logs whether the app's
``.profile.d`` script ran (``profile_d``), which the rehearsal's wrapper sources as Heroku does.
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
#: How long a stopping web process waits for the requests in flight (Heroku kills at 30 s).
DRAIN_S = 25
MAX_SLOW_S = 20


class _Quiet(WSGIRequestHandler):
    """No access log; a request counts as in flight until its response is written out (a WSGI call returns
    before werkzeug writes the body, so counting calls would let a stopping process cut bodies; counting
    connections would wait for idle keep-alive ones)."""

    def log_request(self, *args, **kwargs) -> None:
        pass

    def run_wsgi(self) -> None:
        app = self.server.app  # type: ignore[attr-defined]
        app.started()
        try:
            super().run_wsgi()
        finally:
            app.finished()


class App:
    def __init__(self, database_url: str, redis_url: str) -> None:
        self.database_url, self.redis_url = database_url, redis_url
        self._db_lock = threading.Lock()     # one database connection, reused (requests run in threads)
        self._db_conn = None
        self._redis_client = None            # redis-py clients are thread-safe (a connection pool)
        self._in_flight = 0
        self._idle = threading.Condition()

    def drain(self, seconds: float) -> int:
        """Wait until no request is in flight (at most ``seconds``); the number still in flight."""
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0, timeout=seconds)
            return self._in_flight

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
    def started(self) -> None:
        with self._idle:
            self._in_flight += 1

    def finished(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def __call__(self, environ, start_response):
        request = Request(environ)
        started = time.monotonic()
        if request.path == "/health":
            ok, body = self.check()
            response = Response(json.dumps(body), status=200 if ok else 503, mimetype="application/json")
            if not ok:
                log(PROCESS, "health check failed", error=body["error"])
        elif request.path == "/slow":
            try:
                seconds = float(request.args.get("seconds", "1"))
            except ValueError:
                seconds = -1
            if not 0 < seconds <= MAX_SLOW_S:
                response = Response(json.dumps({"error": f"seconds: 0 < N <= {MAX_SLOW_S}"}), status=400,
                                    mimetype="application/json")
            else:
                log(PROCESS, "slow request started", seconds=seconds)
                time.sleep(seconds)
                response = Response(json.dumps({"slept": seconds}), mimetype="application/json")
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
    # What the slug's buildpack set up must be there, as a real app's runtime on PATH would be: the process
    # refuses to start when the slug's .profile.d was not sourced (the image or the wrapper did not run it).
    if os.environ.get("SAMPLE_APP_PROFILE_D") != "sourced":
        log(PROCESS, "the slug's .profile.d was not sourced (SAMPLE_APP_PROFILE_D unset): not starting", level="error")
        return 3
    try:
        database_url, redis_url = env_url("DATABASE_URL"), env_url("REDIS_URL")
    except ConfigError as exc:
        log(PROCESS, str(exc), level="error")
        return 1
    stop = StopFlag().install()
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    app = App(database_url, redis_url)
    server = make_server(host, port, app, threaded=True, request_handler=_Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    log(PROCESS, "listening", host=host, port=port, database=describe_postgres(database_url),
        redis=describe_redis(redis_url), profile_d=os.environ.get("SAMPLE_APP_PROFILE_D", "not sourced"),
        code=os.path.dirname(os.path.abspath(__file__)))  # where the code ran from (the slug in a built image)
    stop.event.wait()
    log(PROCESS, "stopping", signal=stop.signal)
    server.shutdown()  # no new request is accepted from here on
    thread.join(5)
    left = app.drain(DRAIN_S)
    server.server_close()
    log(PROCESS, "stopped", requests_cut=left)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
