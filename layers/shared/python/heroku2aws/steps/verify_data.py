"""Stage 6 "Verify the copy": Postgres parity, sequences past the source, Redis parity.

Event (built by the ASL)::

    {"input": <normalised execution input>, "execution_id": "<execution ARN>"}

Return::

    {"postgres": {"match": bool, "tables": int, "rows": int, "mismatched": [table names, at most 100],
                  "mismatched_count": int, "mode": "binary"|"text", "seconds": float},
     "sequences": {"synced": int, "total": int, "missing_on_target": [sequence names]},
     "redis": null | {"match": bool, "keys": int, "sampled": int, "mismatched_dbs": [int],
                      "mismatched_keys": ["db<n>:<key>", ...at most 20], "mismatched_key_count": int}}

1. **Postgres parity** — :func:`heroku2aws.postgres.verify.verify` between ``source.postgres_secret_arn``
   and ``target.postgres_secret_arn``: row count and content checksum per table (sequences are left
   to step 2, which moves them). Skipped when the event's ``postgres_verified_by`` names the copy step that
   verified every table already, inside the freeze and outside this function's 900 s: the streaming copy task
   (``dump-restore``), the post-data task after a DMS full load, or the drain check that found change capture
   complete (``dms-cdc``). Each exits or answers "match" only when every table matched, so running the check
   again here would only lengthen the freeze (issue 18).
2. **Sequence sync** — :func:`heroku2aws.postgres.sequences.sync_sequences`: every target sequence set
   to at least the source's value (never lowered). A sequence missing on the target is a mismatch.
3. **Redis parity** (when the input has Redis) — :func:`heroku2aws.redis.verify.verify`: every key both ways,
   present with the same type and TTL (keys expiring meanwhile are no difference). Values are compared for
   :data:`REDIS_SAMPLE` of the keys: none by default, because the restore task has just compared every key's
   value and exits 0 (which ``ecs:runTask.sync`` requires) only when all matched; comparing them again would
   double the cost inside the write freeze (and could outrun the Lambda's 15 minutes on a large Redis). This
   step still sees a key written, deleted or re-typed on either side since the task ended.

All three run, then any mismatch raises :class:`~heroku2aws.contracts.errors.DataMismatch` naming the tables,
sequences, databases and keys (names and counts only, never a value). A server that cannot be
reached raises the checker's own error (``DatabaseError``, ``ConfigError``/``CopyError`` from the
Redis module), with a password-free message.

Environment:
    ``REDIS_TLS_VERIFY`` — ``true`` to check the Redis servers' TLS certificates (default ``false``:
    Heroku Redis presents a self-signed certificate; the same setting the Redis restore task uses).
"""

from __future__ import annotations

import os

from ..clients import connections
from ..contracts.errors import DataMismatch
from ..contracts.events import VerifyDataEvent
from ..contracts.input import ExecutionInput
from ..contracts.results import CdcDrainedResult, PostgresParity, RedisParity, SequenceSync, VerifyDataResult
from ..obs import count, get_logger, seconds

log = get_logger("verify_data")

__all__ = ["MAX_NAMED", "REDIS_SAMPLE", "cdc_drained", "verify_copy", "verify_data"]

MAX_NAMED = 20          # names in an error message / Redis keys in the result
MAX_LISTED_TABLES = 100  # table names in the result (the state payload is capped at 256 KiB)
REDIS_SAMPLE = 0.0  # values: compared by the restore task (see the module docstring)


def _tls_verify() -> bool:
    return os.environ.get("REDIS_TLS_VERIFY", "false").strip().lower() in ("1", "true", "yes")


def verify_postgres(source_url: str, target_url: str) -> PostgresParity:
    from ..postgres.verify import verify

    result = verify(source_url, target_url, sequences=False)
    mismatched = result.differences  # tables, sequences, large objects, database settings
    return PostgresParity(match=result.match, tables=len(result.tables), rows=result.rows,
                          mismatched=mismatched[:MAX_LISTED_TABLES], mismatched_count=len(mismatched),
                          mode=result.mode, seconds=result.seconds)


def sync_sequences(source_url: str, target_url: str) -> SequenceSync:
    from ..postgres.sequences import sync_sequences as sync

    report = sync(source_url, target_url)
    return SequenceSync(synced=report.changed, total=len(report.sequences),
                        missing_on_target=report.missing_on_target)


def verify_redis(source_url: str, target_url: str, sample: float | None = None) -> RedisParity:
    from ..redis.options import CopyOptions
    from ..redis.urls import parse_endpoint
    from ..redis.verify import verify

    sample = REDIS_SAMPLE if sample is None else sample
    tls_verify = _tls_verify()
    source = parse_endpoint(source_url, tls_verify=tls_verify, label="source")
    target = parse_endpoint(target_url, tls_verify=tls_verify, label="target")
    result = verify(source, target, CopyOptions(verify_sample=sample))
    keys = sum(src for src, _ in result.counts.values())
    return RedisParity(match=result.ok, keys=keys, sampled=result.sampled,
                       mismatched_dbs=sorted(result.count_mismatches),
                       mismatched_keys=[f"db{m.db}:{m.key}" for m in result.mismatches][:MAX_NAMED],
                       mismatched_key_count=result.mismatch_count)


def _names(items: list[str], total: int | None = None, limit: int = MAX_NAMED) -> str:
    total = len(items) if total is None else total
    shown = items[:limit]
    return ", ".join(shown) + (f" and {total - len(shown)} more" if total > len(shown) else "")


def _postgres_urls(cfg: ExecutionInput) -> tuple[str, str]:
    return (connections.postgres_url(cfg.source.postgres_secret_arn),
            connections.postgres_url(cfg.target.postgres_secret_arn, default_sslmode=connections.TARGET_SSLMODE))


def cdc_drained(cfg: ExecutionInput) -> CdcDrainedResult:
    """In the write freeze with ``dms-cdc``: are the target's tables the source's yet?

    Writes are frozen, so once change capture has applied the last of them the two sides are equal,
    table by table (row counts and checksums; sequences are not compared, DMS does not carry them).
    This is the ground truth, where DMS's own CDC latency metric is a one-minute estimate. Returns
    ``{"drained": bool, "tables": int, "rows": int, "mismatched": [names], "mismatched_count": int}``
    and never raises for a mismatch: the state machine waits and asks again until its deadline.
    """
    source_pg, target_pg = _postgres_urls(cfg)
    postgres = verify_postgres(source_pg, target_pg)
    result = CdcDrainedResult(drained=postgres.match, tables=postgres.tables or 0, rows=postgres.rows or 0,
                              mismatched=postgres.mismatched[:MAX_NAMED], mismatched_count=postgres.mismatched_count)
    log.info("change capture drain check", extra=result.model_dump(include={"drained", "tables", "mismatched_count"}))
    return result


def verify_copy(cfg: ExecutionInput, postgres_verified_by: str | None = None) -> VerifyDataResult:
    """Run the three checks; see the module docstring."""
    source_pg, target_pg = _postgres_urls(cfg)
    if postgres_verified_by:
        postgres = PostgresParity(match=True, tables=None, rows=None, mismatched=[], mismatched_count=0,
                                  mode="binary", seconds=0.0, verified_by=postgres_verified_by)
        log.info("Postgres tables verified by the copy step", extra={"verified_by": postgres_verified_by})
    else:
        postgres = verify_postgres(source_pg, target_pg)
    sequences = sync_sequences(source_pg, target_pg)
    redis = None
    if cfg.source.redis_secret_arn and cfg.target.redis_secret_arn:
        redis = verify_redis(connections.redis_url(cfg.source.redis_secret_arn),
                             connections.redis_url(cfg.target.redis_secret_arn))
    result = VerifyDataResult(postgres=postgres, sequences=sequences, redis=redis)
    if postgres.tables is not None and postgres.rows is not None:
        count("PostgresTablesVerified", postgres.tables)
        count("PostgresRowsVerified", postgres.rows)
        seconds("PostgresVerifySeconds", postgres.seconds)
    count("SequencesSynced", sequences.synced)
    if redis is not None:
        count("RedisKeysVerified", redis.keys)
    log.info("copy verified", extra={"postgres_match": postgres.match, "tables": postgres.tables,
                                     "rows": postgres.rows, "mismatched": postgres.mismatched,
                                     "sequences_synced": sequences.synced,
                                     "sequences_missing": sequences.missing_on_target,
                                     "redis": None if redis is None else redis.model_dump(
                                         include={"match", "keys", "mismatched_dbs"})})
    problems: list[str] = []
    if postgres.mismatched_count or not postgres.match:
        problems.append(f"Postgres: {postgres.mismatched_count} of {postgres.tables} tables differ: "
                        f"{_names(postgres.mismatched, postgres.mismatched_count)}")
    if sequences.missing_on_target:
        missing = sequences.missing_on_target
        problems.append(f"Postgres: {len(missing)} sequences missing on the target: {_names(missing)}")
    if redis is not None and not redis.match:
        bits = []
        if redis.mismatched_dbs:
            bits.append("key counts differ in " + ", ".join(f"db{d}" for d in redis.mismatched_dbs))
        if redis.mismatched_key_count:
            bits.append(f"{redis.mismatched_key_count} of {redis.keys} keys differ: "
                        f"{_names(redis.mismatched_keys, redis.mismatched_key_count)}")
        problems.append("Redis: " + "; ".join(bits or ["differs"]))
    if problems:
        raise DataMismatch("the copy does not match the source. " + " | ".join(problems))
    return result


def verify_data(event: VerifyDataEvent) -> VerifyDataResult | CdcDrainedResult:
    """The check the event asks for: ``verify`` (the default) or ``cdc-drained``."""
    if event.check == "cdc-drained":
        return cdc_drained(event.input)
    return verify_copy(event.input, event.postgres_verified_by)
