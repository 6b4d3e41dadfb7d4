"""ECS task and command: copy Heroku Redis into ElastiCache, verified.

    python -m heroku2aws.tasks.redis_restore [SOURCE_URL TARGET_URL] [options]
    heroku2aws redis-copy SOURCE_URL TARGET_URL [--json] [options]

Without the positional URLs, ``SOURCE_REDIS_URL`` and ``TARGET_REDIS_URL`` are read from the
environment (the task definition). Each value, positional or from the environment, is a
``redis://`` / ``rediss://`` URL or the ARN of a Secrets Manager secret holding one (a plain string,
or JSON with a ``url`` field). URLs are printed and logged only with their password replaced.

Every logical database the source uses is copied to the same number on the target with SCAN +
DUMP/PTTL + RESTORE (see :mod:`heroku2aws.redis.copy`), keys RESTORE refuses are copied type by
type, and the copy is verified completely: every key both ways, its type, TTL and value (see
:mod:`heroku2aws.redis.verify`; keys expiring meanwhile are no difference).

Options (environment defaults in brackets, for the task definition):
  --replace                 overwrite keys that exist on the target [REDIS_REPLACE=true]
  --insecure-skip-verify    do not verify TLS certificates (Heroku Redis is self-signed) [REDIS_TLS_VERIFY=false]
  --verify-sample SHARE     share of keys compared value by value, 0..1 [REDIS_VERIFY_SAMPLE, 1 = all]
  --db N                    copy only database N (repeatable) [REDIS_DBS=0,1]
  --json                    print one JSON object as the last line of stdout

``--json`` line: ``keys`` and ``bytes`` (DUMP payload bytes) written, ``seconds`` and
``keys_per_second`` of the copy phase (verification has its own ``verify_seconds``),
``fallback_keys`` (copied type by type), ``expired_during_copy``, ``verified`` (true only with exit
status 0), plus per-database counts, conflicts and mismatches by name, versions, ``peak_rss_bytes``.

Progress: a live line on stderr when it is a terminal; otherwise a structured (JSON) log line every
``--progress-interval`` seconds with keys and bytes done, rate and time left.

Exit status: 0 the copy is complete and verified; 1 conflicts, keys that could not be copied, or a
verification difference (keys named); 2 bad input (URL, unreachable server, login, TLS).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from ..clients import connections
from ..obs import MetricUnit, count, get_logger, publish_task_metrics, seconds
from ..redaction import redact, scrub
from ..redis.copy import copy_and_verify
from ..redis.errors import ConfigError, CopyError
from ..redis.options import CopyOptions, Progress, human_bytes, human_duration, peak_rss_bytes
from ..redis.urls import parse_endpoint

log = get_logger("tasks.redis_restore")

_FALSE = {"0", "false", "no", "off"}
_TRUE = {"1", "true", "yes", "on"}


def _env_flag(name: str, default: bool) -> bool:
    v = os.environ.get(name, "").strip().lower()
    return True if v in _TRUE else False if v in _FALSE else default


def _share(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1 (0.05 = 5 %)")
    return v


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="heroku2aws redis-copy",
        description="Copy every key of SOURCE Redis into TARGET Redis (SCAN + DUMP/PTTL + RESTORE), then verify. "
                    "URLs (or Secrets Manager ARNs) as arguments or in SOURCE_REDIS_URL / TARGET_REDIS_URL.")
    p.add_argument("source", nargs="?", metavar="SOURCE_URL", help="source redis:// or rediss:// URL, or a secret ARN")
    p.add_argument("target", nargs="?", metavar="TARGET_URL", help="target redis:// or rediss:// URL, or a secret ARN")
    p.add_argument("--json", action="store_true", help="print a JSON summary as the last line of stdout")
    p.add_argument("--replace", action="store_true", default=_env_flag("REDIS_REPLACE", False),
                   help="overwrite existing target keys (default: an existing key is an error naming it)")
    p.add_argument("--insecure-skip-verify", action="store_true",
                   default=not _env_flag("REDIS_TLS_VERIFY", True),
                   help="rediss://: do not verify server certificates (Heroku Redis's are self-signed)")
    p.add_argument("--verify-sample", type=_share, default=_share(os.environ.get("REDIS_VERIFY_SAMPLE", "1")),
                   metavar="SHARE", help="share of keys compared value by value (default 1: every key; presence, "
                                         "type and TTL of every key are checked whatever the share)")
    p.add_argument("--ttl-tolerance-ms", type=int, default=2000, help="TTL difference accepted by verification")
    p.add_argument("--db", type=int, action="append", dest="dbs", metavar="N",
                   help="copy only database N (repeatable; default: every database the source uses)")
    p.add_argument("--batch-keys", type=int, default=int(os.environ.get("REDIS_BATCH_KEYS", "1000")),
                   help="keys per SCAN batch (default 1000)")
    p.add_argument("--chunk", type=int, default=1000,
                   help="members per read/write in the type-aware path and in verification (default 1000)")
    p.add_argument("--progress-interval", type=float, default=float(os.environ.get("REDIS_PROGRESS_INTERVAL", "10")),
                   help="seconds between progress log lines (default 10)")
    p.add_argument("--no-progress", action="store_true", help="no live progress line on a terminal")
    p.add_argument("--source-env", default="SOURCE_REDIS_URL", help=argparse.SUPPRESS)
    p.add_argument("--target-env", default="TARGET_REDIS_URL", help=argparse.SUPPRESS)
    return p


def _stderr_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _LogProgress:
    def __call__(self, p: Progress) -> None:
        log.info("redis copy progress", extra={
            "phase": p.phase, "keys": p.keys, "total_keys": p.total_keys, "bytes": p.bytes,
            "keys_per_second": round(p.keys_per_second, 1), "seconds": round(p.seconds, 1),
            "eta_seconds": None if p.eta_seconds is None else round(p.eta_seconds, 1),
        })

    def close(self) -> None:
        pass


class _TerminalProgress:
    """One live line on stderr (rich)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live
        from rich.text import Text

        self._text = Text
        self._live = Live(Text("redis copy: connecting..."), console=Console(stderr=True), refresh_per_second=4,
                          transient=False, redirect_stdout=False, redirect_stderr=False)
        self._live.start()

    def __call__(self, p: Progress) -> None:
        pct = f" ({100 * p.keys / p.total_keys:.0f}%)" if p.total_keys else ""
        line = (f"redis copy: {p.keys:,}/{p.total_keys:,} keys{pct}  {human_bytes(p.bytes)}  "
                f"{p.keys_per_second:,.0f} keys/s  ")
        line += "verifying..." if p.phase == "verify" else f"ETA {human_duration(p.eta_seconds)}"
        self._live.update(self._text(line), refresh=True)

    def close(self) -> None:
        self._live.stop()


def _resolve(value: str | None, env: str) -> str:
    try:
        return connections.resolve(value) if value else connections.resolve_env(env)
    except KeyError as exc:
        raise ConfigError(str(exc).strip("'\"") + " (give the URL as an argument or in the environment)") from None
    except Exception as exc:
        where = redact(value) if value else env
        raise ConfigError(f"cannot read the Redis URL from {where}: {type(exc).__name__}: "
                          f"{scrub(exc, *([value] if value else []))}") from None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed usage and the error on stderr
        if exc.code and "--json" in argv:
            print(json.dumps({"keys": 0, "bytes": 0, "seconds": 0.0, "keys_per_second": 0.0, "fallback_keys": 0,
                              "expired_during_copy": 0, "verified": False, "error": "bad arguments"}), flush=True)
        return int(exc.code or 0)
    if args.dbs is None and os.environ.get("REDIS_DBS", "").strip():
        args.dbs = [int(x) for x in os.environ["REDIS_DBS"].split(",") if x.strip()]
    source_url = target_url = ""
    summary: dict = {}
    sink = None
    status = 1
    try:
        source_url = _resolve(args.source, args.source_env)
        target_url = _resolve(args.target, args.target_env)
        verify_tls = not args.insecure_skip_verify
        source = parse_endpoint(source_url, tls_verify=verify_tls, label="source")
        target = parse_endpoint(target_url, tls_verify=verify_tls, label="target")
        if args.batch_keys < 1 or args.chunk < 1:
            raise ConfigError("--batch-keys and --chunk must be at least 1")
        tty = _stderr_tty() and not args.no_progress
        sink = _TerminalProgress() if tty else _LogProgress()
        opts = CopyOptions(replace=args.replace, dbs=args.dbs, batch_keys=args.batch_keys, chunk=args.chunk,
                              verify_sample=args.verify_sample, ttl_tolerance_ms=args.ttl_tolerance_ms,
                              progress=sink, progress_interval=0.25 if tty else max(0.05, args.progress_interval))
        result = copy_and_verify(source, target, opts)
        sink.close()
        sink = None
        summary = result.summary()
        problems = []
        s = result.stats
        count("RedisKeysCopied", s.keys)
        count("RedisBytesCopied", s.bytes, MetricUnit.Bytes)
        count("RedisKeysPerSecond", summary["keys_per_second"], MetricUnit.CountPerSecond)
        seconds("RedisCopySeconds", s.seconds)
        if result.verify is not None:
            count("RedisKeysVerified", result.verify.sampled)
            seconds("RedisVerifySeconds", result.verify.seconds)
        if s.conflicts:
            problems.append(f"{s.conflicts} keys already exist on the target with other values than the source's "
                            "(there before the copy, or written by someone else during it; use --replace to "
                            "overwrite): "
                            + ", ".join(s.conflict_keys) + (" ..." if s.conflicts > len(s.conflict_keys) else ""))
        if s.stream_pending_not_copied:
            problems.append(f"{s.stream_pending_not_copied} pending entries of stream consumer groups could not be "
                            "reproduced on the target (their messages were deleted from the stream)")
        if s.failed:
            problems.append(f"{s.failed} keys could not be copied: " + ", ".join(s.failed_keys)
                            + (" ..." if s.failed > len(s.failed_keys) else ""))
        if result.verify is not None and not result.verify.ok:
            problems.append("verification failed: " + result.verify.describe())
        rate = summary["keys_per_second"]
        line = (f"redis-copy: {s.keys:,} keys ({human_bytes(s.bytes)}) in {s.seconds:.1f}s, {rate:,.0f} keys/s; "
                f"{s.fallback_keys:,} type-aware, {s.expired_during_copy:,} expired during the copy; "
                f"databases {', '.join(map(str, result.dbs)) or 'none'}; "
                f"verified {result.verify.sampled if result.verify else 0:,} values"
                f"{' (every key)' if result.verify and result.verify.complete else ' (a sample)'}"
                f" in {result.verify.seconds if result.verify else 0:.1f}s")
        print(line, file=sys.stderr)
        if problems:
            for msg in problems:
                print(f"redis-copy: {scrub(msg, source_url, target_url)}", file=sys.stderr)
            log.error("redis copy failed", extra={"errors": [scrub(m, source_url, target_url) for m in problems]})
            status = 1
        else:
            log.info("redis copy complete and verified", extra={"keys": s.keys, "seconds": round(s.seconds, 3)})
            status = 0
    except CopyError as exc:
        message = scrub(str(exc), source_url, target_url)
        log.error("redis copy failed", extra={"error": message, "status": exc.status})
        print(f"redis-copy: {message}", file=sys.stderr)
        summary = summary or {"error": message}
        status = exc.status
    except Exception as exc:  # anything unexpected: still no traceback, no password
        message = scrub(f"{type(exc).__name__}: {exc}", source_url, target_url)
        log.error("redis copy failed", extra={"error": message, "status": 1})
        print(f"redis-copy: {message}", file=sys.stderr)
        summary = summary or {"error": message}
        status = 1
    finally:
        if sink is not None:
            sink.close()
    publish_task_metrics()  # before the --json line: that one stays the last line of stdout
    if args.json:
        out = {"keys": 0, "bytes": 0, "seconds": 0.0, "keys_per_second": 0.0, "fallback_keys": 0,
               "expired_during_copy": 0, "verified": False, **summary}
        out["verified"] = bool(out["verified"]) and status == 0
        out["peak_rss_bytes"] = peak_rss_bytes()
        sys.stdout.flush()
        print(json.dumps(out, separators=(",", ":")), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
