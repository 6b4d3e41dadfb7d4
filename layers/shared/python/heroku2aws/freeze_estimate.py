"""The write freeze's length, estimated from measured rates applied to the sizes preflight measured.

An **estimate**, and this module says from what: each component is a size preflight measured on the user's
servers (table bytes, index bytes, the largest table, Redis keys and used memory) divided by a rate, and each rate
is either *measured* -- ``MEASURED``, by ``python -m bench freeze_estimate`` on the machine named in
``MEASURED_ON``, which also prints how far the estimate is from a measured run -- or *assumed* where nothing here
can measure it (AWS DMS's load rate, a Fargate task's start, the ECS redeploy after the switch), and then it says so.
Production differs from the bench machine (RDS and Fargate sizes, Heroku's network): the figures are an order of
magnitude to plan a maintenance window with, not a promise.

The model follows what the workflow does inside the freeze (stage 6):

- **freeze entry**: Heroku maintenance, dynos to 0, one-off dynos stopped, the source made read-only and probed;
- **task start**: the copy tasks are ECS tasks on Fargate (image pull, ENI): once, Postgres and Redis start side by side;
- **Postgres**, by strategy:

  - ``dump-restore`` (``heroku2aws.tasks.pg_copy``): the schema first (a fixed cost); then tables stream ``jobs``
    at a time (``data bytes / (copy rate x jobs)``); each table's indexes are built (``index bytes / (index rate x
    jobs)``) and it is verified (``data bytes / verify rate``: one verifier) as soon as it lands, while others
    stream. These overlap: that part is the longest of the three, plus the tail that cannot overlap -- the largest
    table's own index build and verification after its last row; then the post-data step (foreign keys validated:
    a scan of the referencing tables);
  - ``dms-full-load``: the DMS load (``data bytes / (DMS rate x subtasks)``, never less than the largest load unit at
    one subtask's rate), then the post-data task: indexes and constraints, then verification;
  - ``dms-cdc``: the copy and the indexes happened before the freeze; the freeze waits for change capture to drain
    (its check compares every table);

- **Redis** (side by side with Postgres): the copy, then its complete verification: per key plus per byte of used
  memory each;
- **switch**: the app's secret pointed at RDS / ElastiCache, the ECS services redeployed and health-checked.

``freeze = entry + task start + max(Postgres, Redis) + switch``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from pydantic import BaseModel

__all__ = ["ASSUMED", "MEASURED", "MEASURED_ON", "FreezeEstimate", "Rates", "Sizes", "estimate_freeze"]

MB = 1024 * 1024


@dataclass(frozen=True)
class Rates:
    """Throughputs, in the units preflight measures sizes in."""
    copy_bytes_per_s_per_stream: float   # table bytes (heap + TOAST, pg_table_size) streamed COPY TO -> COPY FROM
    index_bytes_per_s_per_job: float     # index bytes (pg_indexes_size of the source) built on the target
    verify_bytes_per_s: float            # table bytes verified (both servers hashed at once), one verifier
    post_data_bytes_per_s: float         # table bytes over the post-data step's time (foreign keys validated, ...)
    schema_seconds: float                # the schema's pre-data section (pg_dump | pg_restore): a fixed cost
    redis_copy_keys_per_s: float         # keys, per key cost of the copy (small values)
    redis_copy_bytes_per_s: float        # used_memory of the source (INFO memory), per byte cost of the copy
    redis_verify_keys_per_s: float
    redis_verify_bytes_per_s: float


#: Measured by ``BENCH_ESTIMATE_SCALE=40 python -m bench freeze_estimate`` (bench/freeze_estimate.py: each rate alone,
#: on a mixed database -- pgbench scale 40 with foreign keys and 200,000 rows of ~1 KB jsonb + bytea: 617 MB of tables,
#: 102 MB of indexes -- and a mixed Redis of 200,000 small keys and 178 MB of large values, two local PostgreSQL 15
#: clusters and two redis-servers), on MEASURED_ON. That run's estimate of the project's copy + verification (pg_copy
#: --jobs 2): 23.8 s against 23.5 s measured; of the Redis copy + verification: 11.5 s against 12.3 s.
MEASURED = Rates(
    copy_bytes_per_s_per_stream=30 * MB,
    index_bytes_per_s_per_job=16 * MB,
    verify_bytes_per_s=260 * MB,
    post_data_bytes_per_s=115 * MB,
    schema_seconds=1.0,
    redis_copy_keys_per_s=75_000,
    redis_copy_bytes_per_s=68 * MB,
    redis_verify_keys_per_s=50_000,
    redis_verify_bytes_per_s=79 * MB,
)
MEASURED_ON = "the project's build machine (2 shared vCPUs; PostgreSQL 15 and Redis 7.0 on it), 2026-12-02"


@dataclass(frozen=True)
class Assumed:
    """What nothing here can measure: stated as assumptions in every estimate."""
    dms_bytes_per_s_per_subtask: float = 2 * MB   # AWS DMS full load, per subtask (no DMS to measure here)
    cdc_catch_up_seconds: float = 60              # dms-cdc: changes drained after the source stops writing
    freeze_entry_seconds: float = 20              # maintenance, formation to 0, one-offs stopped, read-only + probe
    task_start_seconds: float = 60                # a Fargate task: placement, image pull, ENI
    switch_seconds: float = 300                   # secret switched, services redeployed, health-checked


ASSUMED = Assumed()


@dataclass(frozen=True)
class Sizes:
    """What preflight measured."""
    data_bytes: int            # table bytes: heap + TOAST of every table copied
    index_bytes: int
    largest_data_bytes: int    # the largest table's (or load unit's) own
    largest_index_bytes: int
    redis_keys: int = 0
    redis_bytes: int = 0       # used_memory


class Component(BaseModel):
    name: str
    seconds: float
    basis: str  # what it is computed from


class FreezeEstimate(BaseModel):
    seconds: int
    postgres_seconds: float
    postgres_copy_seconds: float  # the copy (load + indexes)
    verify_seconds: float         # Postgres verification not hidden behind the copy
    redis_seconds: float          # copy + verification
    components: list[Component]
    basis: str
    rates: dict[str, float]
    assumptions: dict[str, float]


def _mb(n: float) -> str:
    return f"{n / MB:,.0f} MB" if n >= MB else f"{n / 1024:,.0f} KB"


def estimate_freeze(strategy: str, sizes: Sizes, *, jobs: int = 4, subtasks: int = 8, load_units: int = 1,
                    rates: Rates = MEASURED, assumed: Assumed = ASSUMED) -> FreezeEstimate:
    """See the module docstring."""
    r, a, s = rates, assumed, sizes
    jobs = max(1, jobs)
    comps: list[Component] = []

    def add(name: str, seconds: float, basis: str) -> float:
        comps.append(Component(name=name, seconds=round(seconds, 1), basis=basis))
        return seconds

    entry = add("freeze entry", a.freeze_entry_seconds, "assumed: Heroku maintenance, dynos to 0, one-off dynos "
                "stopped, source read-only and probed")
    redis_present = bool(s.redis_keys or s.redis_bytes)
    start = 0.0
    if strategy != "dms-cdc" or redis_present:
        start = add("ECS task start", a.task_start_seconds, "assumed: Fargate placement and image pull (the copy tasks "
                    "start side by side)")
    if strategy == "dump-restore":
        schema = add("Postgres: schema (pre-data)", r.schema_seconds, "measured: pg_dump --section=pre-data | pg_restore")
        stream = add("Postgres: rows streamed", s.data_bytes / (r.copy_bytes_per_s_per_stream * jobs),
                     f"{_mb(s.data_bytes)} of tables at {_mb(r.copy_bytes_per_s_per_stream)}/s x {jobs} jobs (measured)")
        index = add("Postgres: indexes and constraints (overlapped)", s.index_bytes / (r.index_bytes_per_s_per_job * jobs),
                    f"{_mb(s.index_bytes)} of indexes at {_mb(r.index_bytes_per_s_per_job)}/s x {jobs} jobs (measured), "
                    "each table's as it lands")
        check = add("Postgres: verification (overlapped)", s.data_bytes / r.verify_bytes_per_s,
                    f"{_mb(s.data_bytes)} at {_mb(r.verify_bytes_per_s)}/s, one verifier (measured), each table as it "
                    "is indexed")
        tail = add("Postgres: the largest table's indexes and verification after its last row",
                   s.largest_index_bytes / r.index_bytes_per_s_per_job + s.largest_data_bytes / r.verify_bytes_per_s,
                   f"{_mb(s.largest_index_bytes)} of indexes and {_mb(s.largest_data_bytes)} to verify (measured rates)")
        post = add("Postgres: post-data (foreign keys validated, the rest of the schema), sequences",
                   s.data_bytes / r.post_data_bytes_per_s,
                   f"{_mb(s.data_bytes)} at {_mb(r.post_data_bytes_per_s)}/s (measured on a database with foreign keys "
                   "on its largest tables)")
        postgres = schema + max(stream, index, check) + tail + post
        copy_part = schema + max(stream, index) + s.largest_index_bytes / r.index_bytes_per_s_per_job + post
        verify_part = s.largest_data_bytes / r.verify_bytes_per_s
    elif strategy == "dms-full-load":
        units = max(1, min(subtasks, load_units))
        load = max(s.data_bytes / (a.dms_bytes_per_s_per_subtask * units),
                   s.largest_data_bytes / a.dms_bytes_per_s_per_subtask)
        add("Postgres: DMS full load", load, f"{_mb(s.data_bytes)} at {_mb(a.dms_bytes_per_s_per_subtask)}/s x {units} "
            f"subtasks, the largest unit ({_mb(s.largest_data_bytes)}) at one subtask's rate (assumed: no DMS to "
            "measure here)")
        index = add("Postgres: indexes and constraints (post-data task)", s.index_bytes / (r.index_bytes_per_s_per_job * jobs)
                    + s.data_bytes / r.post_data_bytes_per_s,
                    f"{_mb(s.index_bytes)} at {_mb(r.index_bytes_per_s_per_job)}/s x {jobs} jobs, foreign keys: "
                    f"{_mb(s.data_bytes)} at {_mb(r.post_data_bytes_per_s)}/s (measured)")
        verify = add("Postgres: verification (post-data task)", s.data_bytes / r.verify_bytes_per_s,
                     f"{_mb(s.data_bytes)} at {_mb(r.verify_bytes_per_s)}/s (measured)")
        start2 = add("ECS task start (post-data task)", a.task_start_seconds, "assumed: a second task, after the load")
        postgres = load + start2 + index + verify
        copy_part, verify_part = load + start2 + index, verify
    else:  # dms-cdc: loaded and indexed before the freeze; the drain check compares every table
        drain = add("Postgres: change capture drained and checked", a.cdc_catch_up_seconds,
                    "assumed: the load and indexes were done before the freeze")
        postgres = drain
        copy_part, verify_part = drain, 0.0
    redis = 0.0
    if redis_present:
        rc = add("Redis: copy (side by side with Postgres)",
                 s.redis_keys / r.redis_copy_keys_per_s + s.redis_bytes / r.redis_copy_bytes_per_s,
                 f"{s.redis_keys:,} keys at {r.redis_copy_keys_per_s:,.0f}/s + {_mb(s.redis_bytes)} at "
                 f"{_mb(r.redis_copy_bytes_per_s)}/s (measured)")
        rv = add("Redis: complete verification",
                 s.redis_keys / r.redis_verify_keys_per_s + s.redis_bytes / r.redis_verify_bytes_per_s,
                 f"{s.redis_keys:,} keys at {r.redis_verify_keys_per_s:,.0f}/s + {_mb(s.redis_bytes)} at "
                 f"{_mb(r.redis_verify_bytes_per_s)}/s (measured)")
        redis = rc + rv
    switch = add("switch", a.switch_seconds, "assumed: the app's secret pointed at RDS/ElastiCache, services "
                 "redeployed and health-checked")
    total = entry + start + max(postgres, redis) + switch
    return FreezeEstimate(
        seconds=math.ceil(total), postgres_seconds=round(postgres, 1), postgres_copy_seconds=round(copy_part, 1),
        verify_seconds=round(verify_part, 1), redis_seconds=round(redis, 1), components=comps,
        basis=(f"an estimate: the sizes preflight measured divided by rates measured on {MEASURED_ON} "
               "(`python -m bench freeze_estimate` prints how close it comes to a measured run there) and by stated "
               "assumptions where nothing here can measure (DMS, Fargate start, the redeploy); freeze = entry + task "
               "start + max(Postgres, Redis) + switch"),
        rates={k: float(v) for k, v in asdict(r).items()}, assumptions={k: float(v) for k, v in asdict(a).items()})
