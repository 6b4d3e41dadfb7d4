"""ECS task: stream a PostgreSQL database into another, table by table, verifying each as it lands.

    python -m heroku2aws.tasks.pg_copy [--jobs N] [--index-jobs N] [--no-verify]

The ``dump-restore`` strategy's copy inside the write freeze (issue 18). Where ``pg_dump_restore`` dumps the whole
database to disk and only then restores it, building every index after the last row, this task:

1. copies the schema's pre-data section (``pg_dump --section=pre-data`` | ``pg_restore``, through
   :func:`heroku2aws.tasks.pg_dump_restore.copy_database`: Heroku's own objects left out, database settings copied);
2. streams every table's rows from source to target, ``--jobs`` at a time, largest first, never touching disk:
   ``COPY ... TO STDOUT`` on the source piped into ``COPY ... FROM STDIN`` on the target (two ``psql`` processes
   joined through this process by ``os.splice``, so no row passes through Python; tables under
   ``SMALL_TABLE_BYTES`` go through psycopg on kept connections instead, sparing two process starts each). A table
   larger than ``split_bytes`` is cut into ranges of heap blocks (``ctid``: a TID range scan, PostgreSQL 14+) copied
   side by side, so one huge table does not serialise the copy (default 8 GiB: below that one frozen stream is
   faster, see ``SPLIT_BYTES``). A table copied in one piece is truncated and
   loaded ``WITH (FREEZE)`` in one transaction (rows written frozen and all-visible: no hint-bit rewrite when it is
   first read, no anti-wraparound vacuum later). The format is binary when both servers run the same major version
   and every column has a built-in type, text otherwise (PostgreSQL docs, COPY: the binary format "is less portable
   across machine architectures and PostgreSQL versions").
3. as soon as a table's rows are in -- while other tables still stream -- ``ANALYZE`` it (statistics: the foreign-key
   checks at the end then take well under the time they take on a table without them; rows loaded ``FREEZE`` are
   all-visible already, the PostgreSQL 15 docs' "VACUUM ANALYZE after a bulk load" without the rewrite), then builds
   its indexes, ``--index-jobs`` at a time across tables (a primary key or unique constraint as
   a unique index, then ``ADD CONSTRAINT ... USING INDEX``, so it builds side by side with the table's other
   indexes), then verifies it: complete, with :func:`heroku2aws.postgres.verify.verify`'s per-type checksums, on
   both servers at once;
4. restores the rest of the post-data section (foreign keys, triggers, rules, policies, partitioned indexes,
   materialized views' data...) minus what step 3 built, copies large objects' contents, sets every sequence to the
   source's value, and verifies what was not verified yet (tables whose indexes came with post-data, materialized
   views, tables on one side only, sequences, large objects, database settings).

The task's verdict is its exit status (``ecs:runTask.sync`` fails the state on a non-zero exit): 0 copied *and*
verified, so the workflow's "Verify the copy" step does not compare the tables again; 1 a step failed (the message
names the table or object and the step) or verification found a difference; 2 bad configuration. A failure leaves
the target partly copied: the workflow's rollback empties it (the ``target-database`` compensation); run against
an empty target again.

Why not pgcopydb (which streams and overlaps the same way): the version the task image can install from Debian
(bookworm: 0.10, 2022) copies Heroku's own objects -- run against a database with Heroku's ``_heroku`` schema and its
event triggers, ``pgcopydb clone --no-owner --no-acl`` recreated both event triggers and the schema on the target
(tests/tasks/test_pg_heroku_objects.py's source; on RDS only ``rds_superuser`` may create event triggers, and they are
not the app's); excluding the schema with a filter would leave the triggers naming a missing function, the failure
issue 15 fixed here. It verifies nothing (0.10 has no ``compare`` command), reports progress in free text, and would
add a C binary to an image that already has psql and psycopg. ``bench/pg_freeze.py`` measures both side by side.

Progress goes to the structured log (stdout, JSON), one line per table copied, indexed and verified; a failure is
also printed plainly on stderr. Passwords never reach a command line nor a log line: ``psql`` gets a password-free
connection string and its password in its own environment, and everything it prints is scrubbed.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from ..clients import connections
from ..obs import count, get_logger, seconds
from ..postgres.common import SESSION_SETTINGS, DatabaseError, connect
from ..redaction import scrub
from .pg_dump_restore import (
    HEROKU_SCHEMAS,
    TaskError,
    _child_env,
    _tool,
    conninfo_without_password,
    copy_database,
    dump_schema,
    run_task,
)

log = get_logger("tasks.pg_copy")

APP = "heroku2aws-pg-copy"
SMALL_TABLE_BYTES = 8 << 20   # heap bytes: copied through psycopg on kept connections (no process start)
# Heap bytes per range of a large table. Measured (bench/pg_freeze.py, 1 GB, 2 jobs): a 600 MB table in two ranges
# loaded side by side took 9.4 s to land where one stream loaded FREEZE took 5.5 s (the ranges contend for the table's
# extension, cannot be loaded frozen, and the index build then rewrites every page to set hint bits): only a table big
# enough to serialise the whole copy is worth cutting.
SPLIT_BYTES = 8 << 30
MAINTENANCE_WORK_MEM = "256MB"  # per index build, on the target's sessions
PIPE_BYTES = 1 << 20

_EXCLUDED_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast", *HEROKU_SCHEMAS)

# Every ordinary table whose rows pg_dump would dump (tables of extensions and of Heroku's schema left out), its
# columns COPY can write (generated columns are computed again on the target), and whether all their types are
# built in (so the binary format is safe).
_TABLES = """
SELECT c.oid::int8, n.nspname::text, c.relname::text, pg_catalog.pg_relation_size(c.oid)::int8, c.relispartition,
       COALESCE(array_agg(a.attname::text ORDER BY a.attnum)
                FILTER (WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''), '{}'),
       COALESCE(bool_and(a.atttypid < 16384) FILTER (WHERE a.attnum > 0 AND NOT a.attisdropped), true)
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
 WHERE c.relkind = 'r' AND c.relpersistence <> 't'
   AND n.nspname <> ALL(%(excluded)s) AND n.nspname NOT LIKE 'pg\\_temp\\_%%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%%'
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e
                    WHERE e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND e.objid = c.oid AND e.deptype = 'e')
 GROUP BY c.oid, n.nspname, c.relname, c.relispartition
"""

# Each table's own indexes (not partitions': theirs attach to a partitioned index, which post-data builds), with
# the constraint an index backs. pg_dump writes a constraint's index as the CONSTRAINT entry (catalog 2606), any
# other as an INDEX entry (1259); CLUSTER ON and REPLICA IDENTITY go with it, so they come here too.
_INDEXES = """
SELECT i.indrelid::int8, i.indexrelid::int8, ic.relname::text, pg_catalog.pg_get_indexdef(i.indexrelid),
       con.oid::int8, con.conname::text, con.contype::text, pg_catalog.pg_get_constraintdef(con.oid),
       con.condeferrable, con.condeferred, i.indisclustered, i.indisreplident
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
  LEFT JOIN pg_catalog.pg_constraint con
         ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
 WHERE i.indrelid = ANY(%(tables)s) AND i.indisvalid
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h WHERE h.inhrelid = i.indexrelid)
 ORDER BY i.indrelid, i.indexrelid
"""


@dataclass
class _Index:
    entry: tuple[int, int]   # the pg_dump archive entry this builds: (catalog OID, object OID)
    name: str
    build: str               # CREATE [UNIQUE] INDEX ...
    after: list[str]         # ADD CONSTRAINT ... USING INDEX, CLUSTER ON, REPLICA IDENTITY: once it is built


@dataclass
class _Table:
    oid: int
    schema: str
    name: str
    size: int
    partition: bool
    columns: list[str]
    builtin_types: bool
    indexes: list[_Index] = field(default_factory=list)
    exclusions: list[tuple[tuple[int, int], str]] = field(default_factory=list)  # EXCLUDE: ALTER TABLE ADD
    units: int = 1
    units_done: int = 0
    indexes_left: int = 0
    rows: int = 0

    @property
    def display(self) -> str:
        from ..postgres.common import unambiguous

        return unambiguous(self.schema, self.name)

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    @property
    def early(self) -> bool:
        """Indexed and verified as soon as its rows are in (a partition waits for post-data's partitioned indexes)."""
        return not self.partition


@dataclass
class _Unit:
    table: _Table
    part: int
    lower: int | None = None  # heap block range [lower, upper)
    upper: int | None = None


class _Failed(Exception):
    """Another worker failed: stop quietly."""


def _pinned_options() -> str:
    """``PGOPTIONS`` for psql: the session settings every connection of ours pins (text forms identical on both
    sides), blanks escaped as libpq wants (``\\ ``)."""
    keep = ("TimeZone", "DateStyle", "IntervalStyle", "extra_float_digits", "bytea_output", "standard_conforming_strings",
            "statement_timeout", "idle_in_transaction_session_timeout", "row_security", "xmloption", "xmlbinary")
    return " ".join(f"-c {k}={SESSION_SETTINGS[k].replace(' ', '')}" for k in keep)


class StreamCopy:
    """One run of the copy; see the module docstring."""

    def __init__(self, source_url: str, target_url: str, *, jobs: int = 2, index_jobs: int | None = None,
                 verify: bool = True, split_bytes: int = SPLIT_BYTES, small_bytes: int = SMALL_TABLE_BYTES,
                 progress: Callable[[str], None] | None = None):
        self.source_url = connections.normalise_url(source_url)
        self.target_url = connections.normalise_url(target_url)
        self.urls = (self.source_url, self.target_url)
        self.jobs = max(1, jobs)
        self.index_jobs = max(1, index_jobs or jobs)
        self.verify = verify
        self.split_bytes = max(1 << 20, split_bytes)
        self.small_bytes = small_bytes
        self.progress = progress
        self.lock = threading.Lock()
        self.failure: TaskError | None = None
        self.procs: set[subprocess.Popen] = set()
        self.verified: dict[str, bool] = {}
        self.differences: list[str] = []
        self.rows_verified = 0
        self.tables_indexed = 0
        self.tables_copied = 0
        self.timings: dict[str, float] = {}
        self._verify_queue: queue.Queue[_Table | None] = queue.Queue()
        self.idle = threading.Condition()
        self.pending = 0
        self._all_conns: list[psycopg.Connection] = []
        self._local = threading.local()

    # -- reporting

    def say(self, msg: str, **extra) -> None:
        log.info(msg, extra=extra)
        if self.progress:
            self.progress(msg)

    def fail(self, error: TaskError) -> None:
        with self.lock:
            if self.failure is None:
                self.failure = error
            procs = list(self.procs)
        for p in procs:  # stop every stream: a failed copy must not go on writing
            with contextlib.suppress(Exception):
                p.kill()

    def check(self) -> None:
        if self.failure is not None:
            raise _Failed()

    # -- connections

    def _conn(self, side: str) -> psycopg.Connection:
        """This thread's kept connection to ``side`` (autocommit, pinned settings)."""
        conns = self._local.__dict__.setdefault("conns", {})
        conn = conns.get(side)
        if conn is None or conn.closed:
            url = self.source_url if side == "source" else self.target_url
            conn = connect(url, label=side, application_name=APP, autocommit=True)
            if side == "target":
                conn.execute("SELECT pg_catalog.set_config('maintenance_work_mem', %s, false)",
                             (MAINTENANCE_WORK_MEM,))
            conns[side] = conn
            with self.lock:
                self._all_conns.append(conn)
        return conn

    def _close_all(self) -> None:
        for conn in self._all_conns:
            with contextlib.suppress(Exception):
                conn.close()

    # -- catalog

    def read_tables(self) -> tuple[list[_Table], int, int]:
        try:
            with connect(self.source_url, label="source", application_name=APP, autocommit=True) as src, \
                    connect(self.target_url, label="target", application_name=APP, autocommit=True) as tgt:
                rows = src.execute(_TABLES, {"excluded": list(_EXCLUDED_SCHEMAS)}).fetchall()
                tables = [_Table(int(oid), s, n, int(size), bool(part), list(cols), bool(builtin))
                          for oid, s, n, size, part, cols, builtin in rows]
                by_oid = {t.oid: t for t in tables}
                for (relid, idxid, idxname, indexdef, conoid, conname, contype, condef, deferrable, deferred,
                     clustered, replident) in src.execute(_INDEXES, {"tables": [t.oid for t in tables if t.early]}):
                    t = by_oid[int(relid)]
                    if contype == "x":  # an exclusion constraint builds its own index: ALTER TABLE ... ADD
                        t.exclusions.append(((2606, int(conoid)), sql.SQL("ALTER TABLE ONLY {} ADD CONSTRAINT {} {}").format(
                            t.ident, sql.Identifier(conname), sql.SQL(condef)).as_string(src)))
                        continue
                    after = []
                    if conoid is not None:
                        kind = "PRIMARY KEY" if contype == "p" else "UNIQUE"
                        when = (" DEFERRABLE INITIALLY DEFERRED" if deferred else " DEFERRABLE") if deferrable else ""
                        after.append(sql.SQL("ALTER TABLE ONLY {} ADD CONSTRAINT {} {} USING INDEX {}{}").format(
                            t.ident, sql.Identifier(conname), sql.SQL(kind), sql.Identifier(idxname),
                            sql.SQL(when)).as_string(src))
                    final_name = conname if conoid is not None else idxname
                    if clustered:
                        after.append(sql.SQL("ALTER TABLE ONLY {} CLUSTER ON {}").format(
                            t.ident, sql.Identifier(final_name)).as_string(src))
                    if replident:
                        after.append(sql.SQL("ALTER TABLE ONLY {} REPLICA IDENTITY USING INDEX {}").format(
                            t.ident, sql.Identifier(final_name)).as_string(src))
                    entry = (2606, int(conoid)) if conoid is not None else (1259, int(idxid))
                    t.indexes.append(_Index(entry, idxname, str(indexdef), after))
                return tables, src.info.server_version // 10000, tgt.info.server_version // 10000
        except DatabaseError as exc:
            raise TaskError(str(exc), 2) from None
        except psycopg.Error as exc:
            raise TaskError(f"cannot read the source's catalog: {scrub(str(exc), *self.urls)}", 2) from None

    def plan_units(self, tables: list[_Table], source_major: int) -> list[_Unit]:
        units: list[_Unit] = []
        for t in tables:
            pieces = math.ceil(t.size / self.split_bytes) if source_major >= 14 else 1
            if pieces <= 1:
                units.append(_Unit(t, 0))
                continue
            blocks = math.ceil(t.size / 8192)
            step = math.ceil(blocks / pieces)
            t.units = pieces
            for i in range(pieces):
                units.append(_Unit(t, i, None if i == 0 else i * step, None if i == pieces - 1 else (i + 1) * step))
        # Largest first: the long streams start at once and the small ones fill in around them.
        units.sort(key=lambda u: (-(u.table.size / u.table.units), u.table.display, u.part))
        return units

    # -- one unit of data

    def _statements(self, unit: _Unit, binary: bool) -> tuple[str, str, bool]:
        t = unit.table
        cols = sql.SQL(", ").join(sql.Identifier(c) for c in t.columns)
        fmt = "FORMAT binary" if binary else "FORMAT text"
        conds = []
        if unit.lower is not None:
            conds.append(sql.SQL("ctid >= {}::pg_catalog.tid").format(sql.Literal(f"({unit.lower},0)")))
        if unit.upper is not None:
            conds.append(sql.SQL("ctid < {}::pg_catalog.tid").format(sql.Literal(f"({unit.upper},0)")))
        if conds:
            out = sql.SQL("COPY (SELECT {} FROM ONLY {} WHERE {}) TO STDOUT ({})").format(
                cols, t.ident, sql.SQL(" AND ").join(conds), sql.SQL(fmt))
        else:
            out = sql.SQL("COPY {} ({}) TO STDOUT ({})").format(t.ident, cols, sql.SQL(fmt))
        freeze = t.units == 1
        inp = sql.SQL("COPY {} ({}) FROM STDIN ({}{})").format(
            t.ident, cols, sql.SQL(fmt), sql.SQL(", FREEZE" if freeze else ""))
        return out.as_string(None), inp.as_string(None), freeze

    def copy_unit(self, unit: _Unit, binary_ok: bool) -> None:
        self.check()
        t = unit.table
        binary = binary_ok and t.builtin_types
        out, inp, freeze = self._statements(unit, binary)
        where = f" (range {unit.part + 1}/{t.units})" if t.units > 1 else ""
        t0 = time.monotonic()
        try:
            if not t.columns:  # a table without columns (it may still have rows): as pg_dump, nothing to copy
                rows = 0
            elif t.size < self.small_bytes and t.units == 1:
                rows = self._copy_in_process(t, out, inp, freeze)
            else:
                rows = self._copy_piped(t, out, inp, freeze)
        except _Failed:
            raise
        except TaskError as exc:
            self.fail(TaskError(f"copy of table {t.display}{where} failed: {exc}", exc.status))
            raise _Failed() from None
        except Exception as exc:
            self.fail(TaskError(f"copy of table {t.display}{where} failed: "
                                f"{scrub(str(exc).strip(), *self.urls)}", 1))
            raise _Failed() from None
        with self.lock:
            t.rows += rows
            t.units_done += 1
            finished = t.units_done == t.units
            if finished:
                self.tables_copied += 1
        if finished:
            self.say(f"copied table {t.display}: {t.size / 1e6:.1f} MB "
                     f"({self.tables_copied}/{self.total_tables}){where and f' in {t.units} ranges'}",
                     phase="copy", table=t.display, tables_done=self.tables_copied,
                     tables_total=self.total_tables, seconds=round(time.monotonic() - t0, 2))
            self.table_copied(t)

    def _copy_in_process(self, t: _Table, out: str, inp: str, freeze: bool) -> int:
        src, tgt = self._conn("source"), self._conn("target")
        rows = 0  # counted by the verification
        with tgt.transaction():
            if freeze:
                tgt.execute(sql.SQL("TRUNCATE ONLY {}").format(t.ident))
            with src.cursor().copy(out) as cout, tgt.cursor().copy(inp) as cin:
                for data in cout:
                    cin.write(data)
        return rows

    def _copy_piped(self, t: _Table, out: str, inp: str, freeze: bool) -> int:
        """Two psql processes, joined here with ``os.splice``: the target's psql gets end of input only once the
        source's COPY succeeded, so a failed read can never commit a partial table (its psql is killed instead)."""
        psql = _tool("psql")
        src_ci, src_pw = conninfo_without_password(self.source_url)
        tgt_ci, tgt_pw = conninfo_without_password(self.target_url)
        opts = _pinned_options()
        base = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "--no-password"]
        src_argv = [*base, "-d", src_ci, "-c", out]
        tgt_cmds = (["-c", f"TRUNCATE ONLY {sql.Identifier(t.schema, t.name).as_string(None)}"] if freeze else [])
        tgt_argv = [*base, "-d", tgt_ci, *(["-1"] if freeze else []), *tgt_cmds, "-c", inp]
        src_env = dict(_child_env(src_pw), PGOPTIONS=opts, PGCLIENTENCODING="UTF8", PGAPPNAME=APP)
        tgt_env = dict(_child_env(tgt_pw), PGOPTIONS=opts, PGCLIENTENCODING="UTF8", PGAPPNAME=APP)
        sp = subprocess.Popen(src_argv, env=src_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL)
        tp = subprocess.Popen(tgt_argv, env=tgt_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
        with self.lock:
            self.procs.update((sp, tp))
        assert sp.stdout is not None and tp.stdin is not None
        errs: dict[str, bytes] = {}
        readers = [threading.Thread(target=lambda p=p, k=k: errs.__setitem__(k, p.stderr.read()), daemon=True)
                   for p, k in ((sp, "source"), (tp, "target"))]
        for r in readers:
            r.start()
        src_fd, tgt_fd = sp.stdout.fileno(), tp.stdin.fileno()
        with contextlib.suppress(Exception):
            import fcntl

            fcntl.fcntl(src_fd, 1031, PIPE_BYTES)  # F_SETPIPE_SZ: fewer, larger hand-overs
            fcntl.fcntl(tgt_fd, 1031, PIPE_BYTES)
        moved = 0
        broken = False
        try:
            while True:
                try:
                    n = os.splice(src_fd, tgt_fd, PIPE_BYTES) if hasattr(os, "splice") else \
                        os.write(tgt_fd, os.read(src_fd, PIPE_BYTES) or b"")
                except BrokenPipeError:
                    broken = True  # the target's psql stopped: its error says why
                    break
                if not n:
                    break
                moved += n
            if broken:
                sp.kill()  # the source's psql would block on a pipe nobody reads any more
            src_rc = sp.wait()
            if src_rc != 0 and not broken:
                tp.kill()  # before it sees end of input and commits a partial table
            elif not broken:
                with contextlib.suppress(BrokenPipeError):
                    tp.stdin.close()
            tgt_rc = tp.wait()
        finally:
            for p in (sp, tp):
                if p.poll() is None:
                    p.kill()
                    p.wait()
            with self.lock:
                self.procs.discard(sp)
                self.procs.discard(tp)
            for r in readers:
                r.join(timeout=10)
            with contextlib.suppress(Exception):
                sp.stdout.close()
            with contextlib.suppress(Exception):
                tp.stdin.close()
        self.check()  # killed because another worker failed: that failure is the one to report
        if src_rc != 0 or tgt_rc != 0:
            side = "target" if broken or src_rc == 0 else "source"
            text = scrub(errs.get(side, b"").decode("utf-8", "replace").strip(), *self.urls)
            raise TaskError(f"psql on the {side} exited with {src_rc if side == 'source' else tgt_rc}: "
                            f"{text or 'no message'}", 1)
        return 0  # psql -q prints no "COPY n": rows are counted by the verification

    # -- once a table is in

    def table_copied(self, t: _Table) -> None:
        self._submit(self._vacuum_then_index, t)

    def _submit(self, fn: Callable, *args) -> None:
        """Queue index work; ``wait_for_index_work`` returns once none is queued or running."""
        with self.idle:
            self.pending += 1
        self.index_pool.submit(self._guard, fn, *args)

    def wait_for_index_work(self) -> None:
        with self.idle:
            while self.pending:
                self.idle.wait()

    def _guard(self, fn: Callable, *args) -> None:
        try:
            fn(*args)
        except _Failed:
            pass
        except TaskError as exc:
            self.fail(exc)
        except Exception as exc:
            self.fail(TaskError(scrub(f"{type(exc).__name__}: {exc}", *self.urls), 1))
        finally:
            with self.idle:
                self.pending -= 1
                self.idle.notify_all()

    def _ddl(self, t: _Table, what: str, statement: str) -> None:
        self.check()
        try:
            self._conn("target").execute(statement.encode())
        except psycopg.Error as exc:
            raise TaskError(f"{what} on {t.display} failed: {scrub(str(exc).strip(), *self.urls)}", 1) from None

    def _vacuum_then_index(self, t: _Table) -> None:
        t0 = time.monotonic()
        # Statistics before the foreign keys are checked (post-data): on a table without them the check plans badly
        # (issue 18: 5 s a key before, under 1 s after). A table loaded in one piece came in frozen and all-visible
        # (COPY FREEZE); one loaded in ranges gets its hint bits from its first index build's scan, and a visibility
        # map would not speed up a foreign key's check (a join), so it is analyzed too, not vacuumed.
        self._ddl(t, "ANALYZE", sql.SQL("ANALYZE {}").format(t.ident).as_string(None))
        if not t.early:
            return
        builds = t.indexes
        t.indexes_left = len(builds)
        self.timings.setdefault("first_index_at", time.monotonic())
        if not builds:
            self._indexed(t, t0)
            return
        for ix in builds:
            self._submit(self._build_index, t, ix, t0)

    def _build_index(self, t: _Table, ix: _Index, t0: float) -> None:
        self._ddl(t, f"index {ix.name}", ix.build)
        with self.lock:
            t.indexes_left -= 1
            last = t.indexes_left == 0
        if last:
            self._indexed(t, t0)

    def _indexed(self, t: _Table, t0: float) -> None:
        for ix in t.indexes:
            for statement in ix.after:
                self._ddl(t, f"constraint of index {ix.name}", statement)
        for _entry, statement in t.exclusions:
            self._ddl(t, "exclusion constraint", statement)
        with self.lock:
            self.tables_indexed += 1
        self.say(f"indexed table {t.display}: {len(t.indexes) + len(t.exclusions)} index(es) in "
                 f"{time.monotonic() - t0:.1f}s", phase="index", table=t.display)
        if self.verify:
            self._verify_queue.put(t)

    # -- verification, overlapped

    def _verifier(self) -> None:
        from ..postgres.verify import verify

        while True:
            first = self._verify_queue.get()
            if first is None or self.failure is not None:
                return
            batch = [first]
            done = False
            while True:
                try:
                    nxt = self._verify_queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    done = True
                    break
                batch.append(nxt)
            names = [t.display for t in batch]
            try:
                result = verify(self.source_url, self.target_url, tables=names, sequences=False,
                                large_objects=False, database_settings=False)
            except Exception as exc:
                self.fail(TaskError(f"verification of {', '.join(names[:5])} failed: "
                                    f"{scrub(str(exc), *self.urls)}", 1))
                return
            with self.lock:
                for tr in result.tables:
                    self.verified[tr.name] = tr.match
                    if not tr.match:
                        self.differences.append(tr.name + (f" ({tr.note})" if tr.note else ""))
                self.rows_verified += result.rows
            for tr in result.tables:
                self.say(f"verified table {tr.name}: {'match' if tr.match else 'DIFFERENT'}, "
                         f"{tr.rows_source if tr.rows_source is not None else '-'} rows",
                         phase="verify", table=tr.name, match=tr.match)
            if done:
                return

    # -- large objects

    def copy_large_objects(self) -> int:
        """Contents of the large objects (pre-data created them, empty), 1 MiB at a time."""
        src, tgt = self._conn("source"), self._conn("target")
        oids = [r[0] for r in src.execute("SELECT oid FROM pg_catalog.pg_largeobject_metadata ORDER BY oid")]
        chunk = 1 << 20
        for oid in oids:
            offset = 0
            with tgt.transaction():
                while True:
                    row = src.execute("SELECT pg_catalog.lo_get(%s, %s, %s)", (oid, offset, chunk)).fetchone()
                    data = bytes(row[0]) if row and row[0] is not None else b""
                    if not data:
                        break
                    tgt.execute("SELECT pg_catalog.lo_put(%s, %s, %s)", (oid, offset, data))
                    offset += len(data)
                    if len(data) < chunk:
                        break
        return len(oids)

    # -- the whole run

    def run(self) -> dict:
        t0 = time.monotonic()
        tables, source_major, target_major = self.read_tables()
        self.total_tables = len(tables)
        binary_ok = source_major == target_major
        workdir = tempfile.mkdtemp(prefix="heroku2aws-pgcopy-")
        os.chmod(workdir, 0o700)
        try:
            schema = dump_schema(self.source_url, workdir)  # once: pre-data now, post-data at the end
            pre = copy_database(self.source_url, self.target_url, jobs=self.jobs, sections=["pre-data"],
                                progress=self.progress, from_dump=schema)
            return self._run(t0, tables, source_major, binary_ok, schema, pre)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _run(self, t0: float, tables: list[_Table], source_major: int, binary_ok: bool, schema: str,
             pre: dict) -> dict:
        self.timings["pre_data"] = time.monotonic() - t0
        units = self.plan_units(tables, source_major)
        self.say(f"streaming {len(tables)} tables in {len(units)} pieces, {self.jobs} at a time "
                 f"({'binary' if binary_ok else 'text'} where every column type is built in), "
                 f"{sum(t.size for t in tables) / 1e6:.1f} MB", phase="copy", tables_total=len(tables))
        t1 = time.monotonic()
        verifier = threading.Thread(target=self._verifier, name="pg-copy-verify", daemon=True)
        if self.verify:
            verifier.start()
        self.index_pool = ThreadPoolExecutor(max_workers=self.index_jobs, thread_name_prefix="pg-copy-index")
        try:
            with ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="pg-copy") as pool:
                futures: list[Future] = [pool.submit(self.copy_unit, u, binary_ok) for u in units]
                for f in futures:
                    with contextlib.suppress(_Failed):
                        f.result()
            self.timings["stream"] = time.monotonic() - t1
            self.wait_for_index_work()  # index builds queue further builds: until none is left
            if self.failure is not None:
                raise _Failed()
            self.timings["indexed"] = time.monotonic() - t1
            done = {ix.entry for t in tables for ix in t.indexes} | {e for t in tables for e, _ in t.exclusions}
            t2 = time.monotonic()
            post = copy_database(self.source_url, self.target_url, jobs=self.jobs, sections=["post-data"],
                                 progress=self.progress, done=done, analyze=False, from_dump=schema)
            self.timings["post_data"] = time.monotonic() - t2
            large_objects = self.copy_large_objects()
            from ..postgres.sequences import sync_sequences

            seqs = sync_sequences(self.source_url, self.target_url)
            self.say(f"sequences set: {seqs.changed} of {len(seqs.sequences)}", phase="sequences")
        except _Failed:
            pass
        except BaseException:
            self.fail(self.failure or TaskError("interrupted", 1))
            raise
        finally:
            self._verify_queue.put(None)
            if verifier.is_alive():
                verifier.join()
            self.index_pool.shutdown(wait=True, cancel_futures=True)
            self._close_all()
        if self.failure is not None:
            raise TaskError(f"{self.failure}\nThe target is left partly copied: the workflow's rollback empties it; "
                            "empty it before running this copy again.", self.failure.status)
        summary: dict = {"tables": len(tables), "pieces": len(units), "jobs": self.jobs, "index_jobs": self.index_jobs,
                         "left_out": sorted(set(pre.get("left_out", [])) | set(post.get("left_out", []))),
                         "large_objects": large_objects, "sequences_set": seqs.changed,
                         "bytes": sum(t.size for t in tables)}
        if self.verify:
            from ..postgres.verify import verify

            t3 = time.monotonic()
            early = set(self.verified)  # verified as they landed (a difference among them is reported already)
            rest = verify(self.source_url, self.target_url, exclude_tables=early)
            self.rows_verified += rest.rows
            self.differences += rest.differences
            self.say(f"verified the rest: {len(rest.tables)} table(s), {len(rest.sequences)} sequence(s), "
                     f"large objects and database settings: {'match' if rest.match else 'DIFFERENT'}",
                     phase="verify", match=rest.match)
            self.timings["final_verify"] = time.monotonic() - t3
            summary.update(verified=not self.differences, rows=self.rows_verified,
                           tables_verified=len(self.verified) + len(rest.tables),
                           differences=self.differences[:100], difference_count=len(self.differences))
        summary["seconds"] = round(time.monotonic() - t0, 2)
        summary["timings"] = {k: round(v, 2) for k, v in self.timings.items() if k != "first_index_at"}
        return summary


def copy_and_verify(source_url: str, target_url: str, **kwargs) -> dict:
    """Run the copy (see the module docstring); the summary, with ``verified`` when verification ran."""
    return StreamCopy(source_url, target_url, **kwargs).run()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m heroku2aws.tasks.pg_copy",
        description="Stream SOURCE_DATABASE_URL into TARGET_DATABASE_URL table by table, indexing and verifying "
                    "each as it lands (URLs or Secrets Manager ARNs, from the environment).")
    p.add_argument("--jobs", "-j", type=int, default=int(os.environ.get("PG_JOBS", "0") or 0) or None,
                   help="tables (or ranges) streamed at once (default: PG_JOBS, else CPU count, max 8)")
    p.add_argument("--index-jobs", type=int, default=None, help="index builds at once (default: --jobs)")
    p.add_argument("--split-mb", type=int, default=SPLIT_BYTES >> 20,
                   help="tables larger than this many MB are copied in ranges side by side")
    p.add_argument("--no-verify", action="store_true", help="copy only (the workflow always verifies)")
    p.add_argument("--source-env", default="SOURCE_DATABASE_URL", help=argparse.SUPPRESS)
    p.add_argument("--target-env", default="TARGET_DATABASE_URL", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    return run_task("pg_copy", _parser(), argv, _run)


def _run(args: argparse.Namespace, source_url: str, target_url: str) -> int:
    jobs = max(1, args.jobs or min(os.cpu_count() or 1, 8))
    summary = copy_and_verify(source_url, target_url, jobs=jobs, index_jobs=args.index_jobs,
                              verify=not args.no_verify, split_bytes=args.split_mb << 20)
    if summary.get("verified") is False:
        raise TaskError(f"copy finished but verification found {summary['difference_count']} difference(s): "
                        f"{', '.join(summary['differences'][:20])}", 1)
    log.info("pg_copy succeeded", extra=summary)
    count("PostgresTablesCopied", summary["tables"])
    seconds("PostgresCopySeconds", summary["seconds"])
    if "rows" in summary:
        count("PostgresRowsVerified", summary["rows"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
