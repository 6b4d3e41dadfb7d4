"""The sample app's ``worker`` process: jobs from Redis, rows in Postgres.

Pops JSON jobs from the Redis list ``jobs`` (BLPOP, 1 s at a time) and writes one row per job to
``jobs_done``. A job whose row cannot be written goes back to the head of the queue. Data-store
outages are logged and retried with backoff (as a Heroku worker would ride them out). SIGTERM: the
job in hand is finished, then the process exits 0.
"""

from __future__ import annotations

import json
import os
import socket

from . import JOBS_KEY
from .stores import ConfigError, StopFlag, describe_postgres, describe_redis, env_url, log, postgres_connect, redis_connect, scrub

PROCESS = "worker"
POP_TIMEOUT_S = 1


def _job_doc(raw: bytes) -> dict:
    try:
        doc = json.loads(raw)
        return doc if isinstance(doc, dict) else {"value": doc}
    except ValueError:
        return {"raw": raw.decode(errors="replace")}


def main() -> int:
    try:
        database_url, redis_url = env_url("DATABASE_URL"), env_url("REDIS_URL")
    except ConfigError as exc:
        log(PROCESS, str(exc), level="error")
        return 1
    stop = StopFlag().install()
    name = f"{socket.gethostname()}:{os.getpid()}"
    log(PROCESS, "started", database=describe_postgres(database_url), redis=describe_redis(redis_url), queue=JOBS_KEY)
    r = redis_connect(redis_url, timeout=POP_TIMEOUT_S + 4)
    db = None
    done = 0
    backoff = 0.2
    while not stop:
        try:
            item = r.blpop([JOBS_KEY], timeout=POP_TIMEOUT_S)
            if item is None:
                backoff = 0.2
                continue
            raw = item[1]
            try:
                if db is None or db.closed or db.broken:
                    db = postgres_connect(database_url, autocommit=True)
                db.execute("INSERT INTO jobs_done (job, worker) VALUES (%s::jsonb, %s)",
                           (json.dumps(_job_doc(raw)), name))
            except Exception:
                r.lpush(JOBS_KEY, raw)          # not lost: back to the head of the queue
                db = None
                raise
            done += 1
            backoff = 0.2
            if done % 100 == 0:
                log(PROCESS, "progress", done=done)
        except Exception as exc:  # noqa: BLE001 - ride out outages
            log(PROCESS, "retrying after an error", level="warning",
                error=scrub(f"{type(exc).__name__}: {exc}", database_url, redis_url), delay_s=backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, 5.0)
    log(PROCESS, "stopping", signal=stop.signal, done=done)
    if db is not None:
        db.close()
    r.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
