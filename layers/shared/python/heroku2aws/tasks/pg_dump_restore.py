"""ECS task: copy a PostgreSQL database with ``pg_dump -Fd -j N`` and ``pg_restore -j N``.

    python -m heroku2aws.tasks.pg_dump_restore [--jobs N] [--schema-only | --section S ...] [--verify]

The source and target come from the environment: ``SOURCE_DATABASE_URL`` and
``TARGET_DATABASE_URL``, each a libpq URL or the ARN of a Secrets Manager secret holding one (a
plain string, or JSON with a ``url`` field). The database is dumped in directory format with N
parallel workers into a private temporary directory (``DUMP_DIR`` picks its parent: on Fargate,
the task's ephemeral storage), then restored with N workers, ``--no-owner --no-acl`` (RDS's master
user is not the Heroku role, and Heroku's grants mean nothing on RDS) and ``--exit-on-error``:
the first failing statement stops the copy and the task exits non-zero with that error.

``--schema-only`` copies the schema alone: the workflow runs it before an AWS DMS full load.
Finer: ``--section pre-data`` (tables, types, functions) before the load and ``--section
post-data`` (indexes, constraints, triggers) after it, so DMS does not maintain indexes or trip on
foreign keys while it loads tables in parallel.

Passwords never reach a command line: each tool gets a password-free connection string in argv
and its password in its own environment (``PGPASSWORD``), and every line the tools print is
scrubbed before it is logged. Progress (tables dumped / restored out of the total) goes to the
structured log (stdout, JSON); a failure is also printed plainly on stderr.

Exit status: 0 copied (and verified, with ``--verify``); 1 a tool failed or verification found a
difference; 2 bad configuration (missing URL, unreachable server, client tools missing or too old).

The PostgreSQL client tools are not in the Lambda runtime: this module runs in the task image
built from ``docker/task.Dockerfile`` (python:3.12-slim + postgresql-client from PGDG +
the pinned dependencies + this package). pg_dump must be at least as new as the source server.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable

from ..clients import connections
from ..obs import count, get_logger, publish_task_metrics, seconds
from ..postgres.common import DATABASE_SETTINGS, DatabaseError, connect, one
from ..redaction import redact, scrub

log = get_logger("tasks.pg_dump_restore")

SECTIONS = ("pre-data", "data", "post-data")

#: Schemas Heroku manages in every Heroku Postgres database (not the app's): never dumped. ``heroku_ext``
#: is not among them: the app's extensions live there and its search_path names it.
HEROKU_SCHEMAS = ("_heroku",)

# Objects that are not in a schema, so ``--exclude-schema`` does not leave them out, yet belong to Heroku:
# event triggers whose function is in a Heroku schema (restoring them fails with 'schema "_heroku" does not
# exist'; they are not the app's, and on RDS only rds_superuser may create event triggers at all), and
# extensions installed into a Heroku schema. Matched in ``pg_restore -l``'s list by catalog and OID; the
# list, filtered, goes back to pg_restore with ``-L`` (PostgreSQL docs, pg_restore: "-L list-file ... Restore
# only those archive elements that are listed in list-file"). Neon skips event triggers the same way
# (neondatabase/neon#11794).
_HEROKU_MANAGED = """
SELECT 'pg_catalog.pg_event_trigger'::pg_catalog.regclass::int8, e.oid::int8, 'EVENT TRIGGER', e.evtname::text
  FROM pg_catalog.pg_event_trigger e
  JOIN pg_catalog.pg_proc p ON p.oid = e.evtfoid
  JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = ANY(%(schemas)s)
UNION ALL
SELECT 'pg_catalog.pg_extension'::pg_catalog.regclass::int8, x.oid::int8, 'EXTENSION', x.extname::text
  FROM pg_catalog.pg_extension x
  JOIN pg_catalog.pg_namespace n ON n.oid = x.extnamespace
 WHERE n.nspname = ANY(%(schemas)s)
"""


class TaskError(RuntimeError):
    """A failure with a printable, password-free message and an exit status."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


def conninfo_without_password(url: str) -> tuple[str, str | None]:
    """(libpq connection string without the password, the password) for ``url``."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        params = conninfo_to_dict(connections.normalise_url(url))
    except Exception:  # libpq's message echoes the part of the URL it choked on: a password's tail, perhaps
        raise TaskError(f"not a valid PostgreSQL URL ({redact(url)})", 2) from None
    password = params.pop("password", None)
    params.setdefault("connect_timeout", "15")
    return make_conninfo("", **{k: str(v) for k, v in params.items() if v is not None}), (
        str(password) if password is not None else None)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        raise TaskError(f"{name} not found: run this task in the image built from docker/task.Dockerfile "
                        "(it installs postgresql-client)", 2)
    return path


def _tool_major(path: str) -> int:
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=False).stdout
    m = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(m.group(1)) if m else 0


def _server_major(url: str, label: str) -> int:
    try:
        with connect(url, label=label, application_name="heroku2aws-pg-dump-restore", autocommit=True) as conn:
            return conn.info.server_version // 10000
    except DatabaseError as exc:
        raise TaskError(str(exc), 2) from None


def _source_facts(url: str) -> tuple[int, list[tuple[int, int, str, str]], list[str]]:
    """(server major version, Heroku-managed objects to leave out, database-level settings ``name=value``)."""
    try:
        with connect(url, label="source", application_name="heroku2aws-pg-dump-restore", autocommit=True) as conn:
            managed = [(int(a), int(b), str(c), str(d))
                       for a, b, c, d in conn.execute(_HEROKU_MANAGED, {"schemas": list(HEROKU_SCHEMAS)})]
            settings = [str(r[0]) for r in conn.execute(DATABASE_SETTINGS)]
            return conn.info.server_version // 10000, managed, settings
    except DatabaseError as exc:
        raise TaskError(str(exc), 2) from None
    except Exception as exc:  # psycopg.Error: no password in a server's message, but scrub all the same
        raise TaskError(f"cannot read the source's catalog: {scrub(str(exc), url)}", 2) from None


def filter_restore_list(listing: str, managed: list[tuple[int, int, str, str]],
                        done: set[tuple[int, int]] | None = None) -> tuple[str, list[str]]:
    """``pg_restore -l`` output without the entries of ``managed`` objects (and their comments); (list, left out).

    ``done``: (catalog OID, object OID) of entries already on the target (the streaming copy builds each table's
    indexes and keys as soon as its rows are in): left out too, their comments kept (they apply to what exists)."""
    keys = {(classid, oid) for classid, oid, _desc, _name in managed}
    comments = {f"{desc} {name}" for _classid, _oid, desc, name in managed}
    kept, dropped = [], []
    for line in listing.splitlines():
        m = re.match(r"^\s*(\d+); (\d+) (\d+) (.*)$", line)
        if m and done and (int(m.group(2)), int(m.group(3))) in done:
            continue
        if m:
            entry = m.group(4)
            target = entry[len("COMMENT - "):] if entry.startswith("COMMENT - ") else None
            if (int(m.group(2)), int(m.group(3))) in keys or (
                    target is not None and any(target == c or target.startswith(c + " ") for c in comments)):
                dropped.append(entry.strip())
                continue
        kept.append(line)
    return "\n".join(kept) + "\n", dropped


def apply_database_settings(target_url: str, settings: list[str]) -> list[str]:
    """``ALTER DATABASE <the target's database> SET`` each ``name=value``; returns those the target refused.

    Heroku's docs recommend database-level settings (``statement_timeout``, ``timezone``, ``search_path``);
    they change what the app's queries mean (``now()::timestamp``), so the copy carries them: PostgreSQL docs,
    ALTER DATABASE: "the session default for a run-time configuration variable".
    """
    from psycopg import sql

    refused = []
    with connect(target_url, label="target", application_name="heroku2aws-pg-dump-restore", autocommit=True,
                 pin_settings=False) as conn:
        db = one(conn, "SELECT pg_catalog.current_database()")[0]
        for item in settings:
            name, _, value = item.partition("=")
            try:
                # set_config-style quoting: the value as one literal, as pg_dump writes it for a single value.
                conn.execute(sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                    sql.Identifier(db), sql.Identifier(name), _setting_value(name, value)))
            except Exception as exc:
                refused.append(f"{name}: {str(exc).strip().splitlines()[0]}")
    return refused


def analyze_target(target_url: str) -> None:
    """``VACUUM (ANALYZE)`` the target before post-data: a freshly loaded table has no statistics and no visibility
    map, so validating a foreign key against it plans and reads badly (measured in issue 18: 5 s per key before,
    under 1 s after a 2 s vacuum; the whole post-data step 18.8 s -> 10.4 s)."""
    try:
        with connect(target_url, label="target", application_name="heroku2aws-pg-dump-restore", autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
    except DatabaseError as exc:
        raise TaskError(str(exc), 2) from None
    except Exception as exc:
        raise TaskError(f"VACUUM (ANALYZE) on the target failed: {scrub(str(exc), target_url)}", 1) from None


def _setting_value(name: str, value: str):
    """A setting's value as SQL: list-valued settings (search_path & co.) keep their elements apart."""
    from psycopg import sql

    if name.lower() in ("search_path", "temp_tablespaces", "session_preload_libraries", "local_preload_libraries"):
        parts = [p.strip() for p in value.split(",")]
        return sql.SQL(", ").join(sql.Literal(p.strip('"')) for p in parts)
    return sql.Literal(value)


def _child_env(password: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PGPASSWORD", "PGPASSFILE", "SOURCE_DATABASE_URL", "TARGET_DATABASE_URL")}
    if password is not None:
        env["PGPASSWORD"] = password
    else:
        env["PGPASSFILE"] = os.devnull  # never fall back to someone's ~/.pgpass
    env.setdefault("PGAPPNAME", "heroku2aws-pg-dump-restore")
    return env


_DUMP_DONE = re.compile(r"(?:finished item \d+ TABLE DATA (?P<a>.+)|dumping contents of table \"?(?P<b>[^\"]+)\"?)$")
_RESTORE_DONE = re.compile(r"finished item \d+ TABLE DATA (?P<a>.+)$|processing data for table \"?(?P<b>[^\"]+)\"?$")
_TOC_ENTRY = re.compile(r"from TOC entry \d+; \d+ \d+ (.+?)\s*$")
_ERROR = re.compile(r"\b(error|fatal|FATAL|ERROR)\b")


def _run_tool(argv: list[str], env: dict[str, str], urls: tuple[str, ...], what: str,
              on_line: Callable[[str], None]) -> None:
    """Run a tool, streaming its stderr (scrubbed) through ``on_line``; TaskError on failure."""
    log.info(f"{what} started", extra={"argv": [scrub(a, *urls) for a in argv]})
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            errors="replace")
    tail: deque[str] = deque(maxlen=30)
    errors: list[str] = []

    def pump_stdout() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(scrub(line.rstrip(), *urls))

    t = threading.Thread(target=pump_stdout, daemon=True)
    t.start()
    assert proc.stderr is not None
    for raw in proc.stderr:
        line = scrub(raw.rstrip(), *urls)
        if not line:
            continue
        tail.append(line)
        if (_ERROR.search(line) and "errors ignored" not in line) or "from TOC entry" in line:
            errors.append(line)  # "from TOC entry 215; 1259 16390 TABLE public customers": the object that failed
        on_line(line)
    status = proc.wait()
    t.join(timeout=5)
    if status != 0:
        detail = "\n".join(errors[-10:] or list(tail)[-10:])
        failed_on = [m.group(1) for m in map(_TOC_ENTRY.search, errors) if m]
        where = f" on {failed_on[0]}" if failed_on else ""
        raise TaskError(f"{what} failed{where} (exit status {status}):\n{detail}", 1)


def _count_table_data(pg_restore: str, dump_dir: str) -> int:
    r = subprocess.run([pg_restore, "-l", dump_dir], capture_output=True, text=True, check=False)
    return sum(1 for line in r.stdout.splitlines() if not line.startswith(";") and " TABLE DATA " in line)


def copy_database(
    source_url: str,
    target_url: str,
    *,
    jobs: int = 2,
    schema_only: bool = False,
    sections: list[str] | None = None,
    dump_parent: str | None = None,
    keep_dump: bool = False,
    progress: Callable[[str], None] | None = None,
    done: set[tuple[int, int]] | None = None,
    analyze: bool | None = None,
    from_dump: str | None = None,
) -> dict:
    """Dump ``source_url`` and restore it into ``target_url``; returns a summary (no secrets).

    ``from_dump``: a directory dump of the schema made already (:func:`dump_schema`): restore ``sections`` of it
    instead of dumping again (the streaming copy dumps the schema once, restores pre-data first and post-data last).
    """
    pg_dump, pg_restore = _tool("pg_dump"), _tool("pg_restore")
    source_url, target_url = connections.normalise_url(source_url), connections.normalise_url(target_url)
    urls = (source_url, target_url)
    src_conninfo, src_pw = conninfo_without_password(source_url)
    tgt_conninfo, tgt_pw = conninfo_without_password(target_url)

    def say(msg: str, **extra) -> None:
        log.info(msg, extra=extra)
        if progress:
            progress(msg)

    source_major, managed, db_settings = _source_facts(source_url)
    _server_major(target_url, "target")
    dump_major = _tool_major(pg_dump)
    if dump_major and dump_major < source_major:
        raise TaskError(f"pg_dump {dump_major} cannot dump a PostgreSQL {source_major} server: build the task image "
                        f"with PG_CLIENT_MAJOR={source_major} or later", 2)

    selection: list[str] = []
    if schema_only:
        selection.append("--schema-only")
    for s in sections or []:
        selection += ["--section", s]

    parent = tempfile.mkdtemp(prefix="heroku2aws-pgdump-", dir=dump_parent)
    os.chmod(parent, 0o700)
    dump_dir = from_dump or os.path.join(parent, "dump")
    summary: dict = {"jobs": jobs, "schema_only": schema_only, "sections": sections or [],
                     "source": redact(source_url), "target": redact(target_url)}
    t0 = time.monotonic()
    try:
        dumped = 0

        def on_dump(line: str) -> None:
            nonlocal dumped
            m = _DUMP_DONE.search(line)
            if m and ("finished item" in line or jobs == 1):  # -j 1 prints no "finished item"
                dumped += 1
                say(f"dumped table {m.group('a') or m.group('b')} ({dumped})", phase="dump", tables_done=dumped)

        if from_dump is None:
            _run_tool([pg_dump, "--format=directory", f"--jobs={jobs}", f"--file={dump_dir}", "--verbose",
                       "--no-password", *[f"--exclude-schema={x}" for x in HEROKU_SCHEMAS], *selection,
                       f"--dbname={src_conninfo}"], _child_env(src_pw), urls, "pg_dump", on_dump)
        dump_s = time.monotonic() - t0
        total = _count_table_data(pg_restore, dump_dir)
        size = sum(os.path.getsize(os.path.join(dump_dir, f)) for f in os.listdir(dump_dir))
        say(f"dump done: {total} tables of data, {size / 1e6:.1f} MB in {dump_s:.1f}s", phase="dump",
            tables=total, bytes=size, seconds=round(dump_s, 2))

        if analyze if analyze is not None else sections == ["post-data"]:  # the streaming copy analyzed each table
            analyze_target(target_url)
            say("target vacuumed and analyzed before its indexes and foreign keys", phase="restore")
        listing = subprocess.run([pg_restore, "-l", dump_dir], capture_output=True, text=True, check=False).stdout
        kept, left_out = filter_restore_list(listing, managed, done)
        list_file = os.path.join(parent, "restore.list")
        with open(list_file, "w") as fh:
            fh.write(kept)
        if left_out:
            say(f"left out {len(left_out)} Heroku-managed object(s): {', '.join(left_out)}", phase="restore",
                left_out=left_out)
        summary["left_out"] = left_out

        restored = 0

        def on_restore(line: str) -> None:
            nonlocal restored
            m = _RESTORE_DONE.search(line)
            if m and ("finished item" in line or jobs == 1):
                restored += 1
                say(f"restored table {m.group('a') or m.group('b')} ({restored}/{total})", phase="restore",
                    tables_done=restored, tables_total=total)

        t1 = time.monotonic()
        step = "pg_restore" + (f" ({', '.join(sections)})" if sections else " (schema only)" if schema_only else "")
        try:
            _run_tool([pg_restore, f"--jobs={jobs}", "--no-owner", "--no-acl", "--exit-on-error", "--verbose",
                       "--no-password", f"--use-list={list_file}", f"--dbname={tgt_conninfo}",
                       *([f"--section={x}" for x in sections or []] if from_dump else []), dump_dir],
                      _child_env(tgt_pw), urls, step, on_restore)
        except TaskError as exc:
            progress_note = f" ({restored}/{total} tables of data)" if total else ""
            raise TaskError(f"{exc}\nThe target is left partly restored{progress_note}: the "
                            "workflow's rollback empties it; empty it before running this copy again.",
                            exc.status) from None
        restore_s = time.monotonic() - t1
        if not sections or "pre-data" in sections:  # the schema step of the DMS strategies, or the whole copy
            refused = apply_database_settings(target_url, db_settings)
            summary.update(database_settings=[x.partition("=")[0] for x in db_settings], settings_refused=refused)
            if refused:
                raise TaskError("the target refused database settings of the source: " + "; ".join(refused), 1)
            if db_settings:
                say(f"database settings copied: {', '.join(x.partition('=')[0] for x in db_settings)}",
                    phase="restore")
        summary.update(tables=total, dump_bytes=size, dump_seconds=round(dump_s, 2),
                       restore_seconds=round(restore_s, 2), seconds=round(time.monotonic() - t0, 2))
        say(f"restore done in {restore_s:.1f}s", phase="restore", seconds=round(restore_s, 2))
        return summary
    finally:
        if keep_dump:
            log.info("dump kept", extra={"dump_dir": dump_dir})
        else:
            shutil.rmtree(parent, ignore_errors=True)


def dump_schema(source_url: str, parent: str) -> str:
    """The schema's pre-data and post-data sections (directory format, Heroku's schemas left out) into ``parent``.

    One dump serves both ends of the streaming copy: ``copy_database(..., from_dump=path, sections=[...])``."""
    pg_dump = _tool("pg_dump")
    source_url = connections.normalise_url(source_url)
    conninfo, password = conninfo_without_password(source_url)
    path = os.path.join(parent, "schema")
    # The two sections, not --schema-only: that would leave large objects out (pg_dump docs, -b: "the default behavior
    # except when --schema, --table, or --schema-only is specified"), whose metadata is pre-data.
    _run_tool([pg_dump, "--format=directory", f"--file={path}", "--no-password", "--section=pre-data",
               "--section=post-data",
               *[f"--exclude-schema={x}" for x in HEROKU_SCHEMAS], f"--dbname={conninfo}"],
              _child_env(password), (source_url,), "pg_dump (schema)", lambda _line: None)
    return path


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m heroku2aws.tasks.pg_dump_restore",
        description="Copy SOURCE_DATABASE_URL into TARGET_DATABASE_URL with pg_dump -Fd -j N | pg_restore -j N "
                    "(URLs or Secrets Manager ARNs, from the environment).")
    p.add_argument("--jobs", "-j", type=int, default=int(os.environ.get("PG_JOBS", "0") or 0) or None,
                   help="parallel workers for pg_dump and pg_restore (default: PG_JOBS, else CPU count, max 8)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--schema-only", action="store_true", help="copy the schema only (before a DMS full load)")
    g.add_argument("--section", action="append", choices=SECTIONS,
                   help="copy only this section (repeatable): pre-data before a DMS load, post-data after it")
    p.add_argument("--verify", action="store_true",
                   help="run pg-verify afterwards (whole copy, or --section post-data after a DMS load: sequences "
                        "left out); a difference fails the task")
    p.add_argument("--dump-dir", default=os.environ.get("DUMP_DIR"),
                   help="parent directory for the dump (default: DUMP_DIR, else the system temp directory)")
    p.add_argument("--keep-dump", action="store_true", help="leave the dump directory in place")
    p.add_argument("--source-env", default="SOURCE_DATABASE_URL", help=argparse.SUPPRESS)
    p.add_argument("--target-env", default="TARGET_DATABASE_URL", help=argparse.SUPPRESS)
    return p


def run_task(name: str, parser: argparse.ArgumentParser, argv: list[str] | None,
             work: Callable[[argparse.Namespace, str, str], int]) -> int:
    """The Postgres tasks' entry (this one and ``pg_copy``): parse the arguments, read both database URLs from the
    environment (URLs or Secrets Manager ARNs), run ``work(args, source_url, target_url)``, and turn any failure
    into an exit status and one line with no secret and no traceback; the task's metrics are published either way."""
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return int(exc.code or 0)
    source_url = target_url = ""
    try:
        try:
            source_url = connections.resolve_env(args.source_env)
            target_url = connections.resolve_env(args.target_env)
        except KeyError as exc:
            raise TaskError(str(exc).strip("'\""), 2) from None
        except Exception as exc:
            raise TaskError(f"cannot read the database URLs: {type(exc).__name__}: {exc}", 2) from None
        return work(args, source_url, target_url)
    except TaskError as exc:
        message, status = scrub(str(exc), source_url, target_url), exc.status
    except Exception as exc:  # DatabaseError from verify, anything unexpected: still no traceback, no secret
        message, status = scrub(f"{type(exc).__name__}: {exc}", source_url, target_url), 1
    finally:
        publish_task_metrics()
    log.error(f"{name} failed", extra={"error": message, "status": status})
    print(f"{name}: {message}", file=sys.stderr)
    return status


def main(argv: list[str] | None = None) -> int:
    return run_task("pg_dump_restore", _parser(), argv, _run)


def _run(args: argparse.Namespace, source_url: str, target_url: str) -> int:
    jobs = max(1, args.jobs or min(os.cpu_count() or 1, 8))
    summary = copy_database(source_url, target_url, jobs=jobs, schema_only=args.schema_only,
                            sections=args.section, dump_parent=args.dump_dir, keep_dump=args.keep_dump)
    if args.verify and not args.schema_only and (not args.section or args.section == ["post-data"]):
        from ..postgres.verify import verify

        # After a DMS load (post-data) sequences are not compared: DMS does not carry them, the workflow's
        # "Verify the copy" step sets them next.
        result = verify(source_url, target_url, sequences=not args.section)
        summary.update(verified=result.match, verify_seconds=result.seconds, rows=result.rows)
        if not result.match:
            raise TaskError("copy finished but verification found differences in: "
                            f"{', '.join(result.differences)}", 1)
    log.info("pg_dump_restore succeeded", extra=summary)
    if "tables" in summary:
        count("PostgresTablesCopied", summary["tables"])
        seconds("PostgresDumpSeconds", summary["dump_seconds"])
        seconds("PostgresRestoreSeconds", summary["restore_seconds"])
    if "rows" in summary:
        count("PostgresRowsVerified", summary["rows"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
