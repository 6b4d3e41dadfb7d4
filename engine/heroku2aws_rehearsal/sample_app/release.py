"""The sample app's ``release`` phase: a no-op "migration" that proves the database is usable.

Connects to ``DATABASE_URL``, checks the app's tables are there and readable; exit 0. Anything
else: a message on stderr (never a password) and exit 1 — Heroku (and the migration) then keep the
previous release.
"""

from __future__ import annotations

import signal

from .stores import ConfigError, describe_postgres, env_url, fail, log, postgres_connect, scrub

PROCESS = "release"
REQUIRED_TABLES = ("customers", "products", "orders", "order_items", "page_views", "jobs_done")


def _interrupted(signum, _frame) -> None:
    fail(PROCESS, f"interrupted by signal {signum}: nothing was changed", 128 + signum)


def main() -> int:
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _interrupted)
    try:
        url = env_url("DATABASE_URL")
    except ConfigError as exc:
        fail(PROCESS, str(exc))
    where = describe_postgres(url)
    try:
        with postgres_connect(url, timeout=10) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
            missing = [t for t in REQUIRED_TABLES
                       if conn.execute("SELECT to_regclass(%s)", (f"public.{t}",)).fetchone()[0] is None]
            if missing:
                fail(PROCESS, f"database {where} lacks the app's tables: {', '.join(missing)}")
            conn.execute("SELECT 1 FROM orders LIMIT 1").fetchall()
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - report any failure, exit non-zero
        fail(PROCESS, f"database {where} is not usable: {scrub(f'{type(exc).__name__}: {exc}', url)}")
    log(PROCESS, "release checks passed: nothing to migrate", database=where, server_version=version)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
