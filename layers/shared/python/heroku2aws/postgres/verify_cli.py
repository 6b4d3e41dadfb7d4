"""``heroku2aws pg-verify SOURCE_URL TARGET_URL [--json]``: are two databases the same?

Each URL is a libpq URL (``postgres://user:password@host:5432/db``) or the ARN of a Secrets
Manager secret holding one. Both servers checksum every table at once (see
``heroku2aws.postgres.verify``). Progress goes to stderr; the result to stdout: a table for
people, or with ``--json`` one JSON line (the last line of stdout)::

    {"match": true, "tables": [{"name", "rows_source", "rows_target", "match", "mismatched_ranges", ...}],
     "rows": 2500000, "seconds": 1.4, "sequences": [...], "mode": "binary"}

Exit status: 0 identical, 1 a difference (table, row, value or sequence), 2 could not compare
(bad URL, unreachable server, bad arguments). A password is never printed.

Also runnable as ``python -m heroku2aws.postgres.verify_cli`` (e.g. in the ECS task image).
"""

from __future__ import annotations

import argparse
import logging
import sys

from heroku2aws.clients.secret_values import is_secret_arn
from heroku2aws.redaction import redact, scrub


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse echoes stray arguments: they may be URLs with passwords
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {scrub(message)}\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="heroku2aws pg-verify",
                description="Compare two PostgreSQL databases table by table: row counts and content checksums, "
                            "computed on both servers at once.")
    p.add_argument("source", metavar="SOURCE_URL", help="source database URL or Secrets Manager ARN")
    p.add_argument("target", metavar="TARGET_URL", help="target database URL or Secrets Manager ARN")
    p.add_argument("--json", action="store_true", help="print the result as one JSON line on stdout")
    p.add_argument("--table", action="append", metavar="SCHEMA.TABLE", help="compare only this table (repeatable)")
    p.add_argument("--chunk-rows", type=int, default=10_000, metavar="N",
                   help="rows per key range when locating a difference (default 10000)")
    p.add_argument("--no-sequences", action="store_true", help="do not compare sequences")
    p.add_argument("--exact-sequences", action="store_true",
                   help="sequences must be equal (default: the target may be ahead of the source)")
    p.add_argument("--parallel-workers", type=int, metavar="N",
                   help="max_parallel_workers_per_gather for both sessions (default: the servers' setting)")
    p.add_argument("--mode", choices=("auto", "binary", "text"), default="auto", help=argparse.SUPPRESS)
    p.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    p.add_argument("--log", action="store_true", help="also emit the structured (JSON) log lines")
    return p


def _quiet_logs() -> None:
    for name in ("heroku2aws", *[n for n in logging.root.manager.loggerDict if n.startswith("heroku2aws.")]):
        logging.getLogger(name).setLevel(logging.WARNING)


def _human(result) -> str:
    lines = []
    width = max([len(t.name) for t in result.tables] + [len(s.name) for s in result.sequences] + [5])
    for t in result.tables:
        rs = '-' if t.rows_source is None else t.rows_source
        rt = '-' if t.rows_target is None else t.rows_target
        rows = f"{rs:>12} {rt:>12}"
        lines.append(f"{'ok  ' if t.match else 'DIFF'}  {t.name.ljust(width)}  {rows}"
                     + (f"  {t.note}" if t.note else ""))
        for r in t.mismatched_ranges:
            where = (f"{', '.join(r.key)} in [{'-inf' if r.lower is None else r.lower}, "
                     f"{'+inf' if r.upper is None else r.upper})" if r.key else "whole table (no primary key)")
            lines.append(f"        {where}: {r.rows_source} rows on source, {r.rows_target} on target")
        if t.mismatched_range_count > len(t.mismatched_ranges):
            lines.append(f"        ... {t.mismatched_range_count - len(t.mismatched_ranges)} more ranges")
    for s in result.sequences:
        src = f"{s.source.last_value}{'' if s.source.is_called else ' (not called)'}" if s.source else "-"
        tgt = f"{s.target.last_value}{'' if s.target.is_called else ' (not called)'}" if s.target else "-"
        lines.append(f"{'ok  ' if s.match else 'DIFF'}  {s.name.ljust(width)}  sequence {src} -> {tgt}"
                     + (f"  {s.note}" if s.note else ""))
    lo = result.large_objects
    if lo is not None:
        lines.append(f"{'ok  ' if lo.match else 'DIFF'}  {'large objects'.ljust(width)}  {lo.count_source!s:>12} "
                     f"{lo.count_target!s:>12}" + (f"  {lo.note}" if lo.note else ""))
    for d in result.database_settings:
        lines.append(f"{'ok  ' if d.match else 'DIFF'}  database setting {d.name}: {d.source} -> {d.target}")
    bad = len(result.differences)
    lines.append(f"{'MATCH' if result.match else 'MISMATCH'}: {len(result.tables)} tables, "
                 f"{len(result.sequences)} sequences, {result.rows:,} rows, {bad} difference(s), "
                 f"{result.seconds:.2f}s ({result.mode} checksums)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return int(exc.code or 0)
    from heroku2aws.postgres.common import StructuredLog

    was, StructuredLog.enabled = StructuredLog.enabled, args.log  # people read stderr, not JSON logs
    try:
        return _run(args)
    finally:
        StructuredLog.enabled = was


def _run(args: argparse.Namespace) -> int:
    from heroku2aws.postgres.common import DatabaseError
    from heroku2aws.postgres.verify import verify

    if not args.log:
        _quiet_logs()

    def progress(msg: str) -> None:
        print(f"pg-verify: {msg}", file=sys.stderr, flush=True)

    if not args.quiet:
        progress(f"source {_shown(args.source)}, target {_shown(args.target)}")
    try:
        result = verify(args.source, args.target, chunk_rows=args.chunk_rows, tables=args.table,
                        sequences=not args.no_sequences, exact_sequences=args.exact_sequences,
                        mode=args.mode, parallel_workers=args.parallel_workers,
                        progress=None if args.quiet else progress)
    except DatabaseError as exc:
        print(f"pg-verify: error: {scrub(str(exc))}", file=sys.stderr)
        return 2
    except Exception as exc:  # never a traceback with a URL in it
        msg = scrub(f"{type(exc).__name__}: {exc}", args.source, args.target)
        print(f"pg-verify: error: {msg}", file=sys.stderr)
        return 2
    if args.json:
        print(result.model_dump_json(), flush=True)
    else:
        print(_human(result), flush=True)
    return 0 if result.match else 1


def _shown(value: str) -> str:
    return value if is_secret_arn(value) else redact(value)


if __name__ == "__main__":
    sys.exit(main())
