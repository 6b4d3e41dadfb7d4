"""The largest LOB value per column, and the DMS LOB settings that copy every one of them whole.

AWS DMS takes PostgreSQL's ``text``, unbounded ``varchar``, ``bytea``, ``json``, ``jsonb``, ``xml``, arrays and
``hstore`` as LOBs (BLOB / NCLOB: AWS DMS user guide, "Source data types for PostgreSQL"). In its default
*limited* LOB mode (``LobMaxSize`` 32 KB) a larger value "is truncated, and a warning is issued to the log file"
(AWS DMS user guide, "Setting LOB support for source databases in an AWS DMS task"); limited mode accepts
``LobMaxSize`` up to 102400 KB. *Full* LOB mode copies any size, piece by piece, more slowly.

So preflight measures, per LOB column, the largest value, and :func:`dms_lob_settings` picks:

- limited LOB mode with ``LobMaxSize`` = the largest value + 25 % headroom (the app keeps writing until the
  freeze), at least DMS's default 32 KB, when every LOB column was measured and that fits in 102400 KB;
- full LOB mode otherwise (a column not measured in time, or a value too large for limited mode).

Cost: ``octet_length`` of a ``text`` or ``bytea`` value reads its TOAST header only (no detoasting), so those
columns cost one sequential scan of the heap; json, jsonb, xml, arrays and hstore must be printed to be measured
(their DMS form is text). Each table gets a ``statement_timeout`` and all together a time budget: what is not
measured in time is *unknown*, and unknown means full LOB mode, never a guess.

Sizes are in bytes as DMS will hold them: a BLOB's bytes; an NCLOB's characters taken as two bytes each (DMS's
wide strings; the stricter reading, so the size chosen is never too small), bounded above by twice the UTF-8
octet length, which is what is measured.
"""

from __future__ import annotations

import math
import time
from typing import Any

import psycopg
from psycopg import sql
from pydantic import BaseModel

#: Limited LOB mode's largest LobMaxSize (KB), and DMS's defaults.
LIMITED_MAX_KB = 102_400
DEFAULT_LOB_MAX_KB = 32
LOB_CHUNK_KB = 64
HEADROOM = 1.25

_TEXT_FORM = {"json", "jsonb", "xml"}


class LobColumn(BaseModel):
    table: str  # schema.table
    column: str
    type: str
    largest_bytes: int | None  # None: not measured in time


class LobReport(BaseModel):
    columns: list[LobColumn]  # the largest first, at most MAX_LISTED
    column_count: int
    largest_bytes: int  # over the measured columns
    complete: bool  # every LOB column measured


MAX_LISTED = 50


def lob_kind(type_display: str) -> str | None:
    """``"blob"``, ``"nclob"`` or None: how DMS takes a column of this type (format_type output)."""
    t = type_display.lower()
    if t == "bytea":
        return "blob"
    if t in ("text", "character varying", "json", "jsonb", "xml") or t.endswith("[]") or t.split(".")[-1] == "hstore":
        return "nclob"
    return None


def _size_expr(column: str, type_display: str) -> sql.Composable:
    ident = sql.Identifier(column)
    if lob_kind(type_display) == "blob":
        return sql.SQL("max(pg_catalog.octet_length({}))").format(ident)
    if type_display.lower() in ("text", "character varying"):  # no detoasting: the TOAST header says it
        return sql.SQL("2 * max(pg_catalog.octet_length({}))").format(ident)
    return sql.SQL("2 * max(pg_catalog.octet_length(({})::text))").format(ident)


_LOB_COLUMNS = """
SELECT n.nspname, c.relname, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)
  FROM pg_catalog.pg_attribute a
  JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND c.relpersistence <> 't' AND a.attnum > 0 AND NOT a.attisdropped
   AND a.attgenerated = '' AND {app}
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e
                    WHERE e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND e.objid = c.oid
                      AND e.deptype = 'e')
 ORDER BY n.nspname, c.relname, a.attnum
"""


def measure(conn: psycopg.Connection, app_filter: sql.Composable, *, table_timeout_s: float = 20,
            budget_s: float = 60) -> LobReport:
    """The largest value of every LOB column (see the module docstring); ``conn`` may be read-only."""
    by_table: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, column, type_display in conn.execute(sql.SQL(_LOB_COLUMNS).format(app=app_filter)):
        if lob_kind(type_display):
            by_table.setdefault((schema, table), []).append((column, type_display))
    deadline = time.monotonic() + budget_s
    columns: list[LobColumn] = []
    for (schema, table), cols in by_table.items():
        sizes: list[int | None] = [None] * len(cols)
        left = deadline - time.monotonic()
        if left > 0.5:
            query = sql.SQL("SELECT {} FROM ONLY {}").format(
                sql.SQL(", ").join(_size_expr(c, t) for c, t in cols), sql.Identifier(schema, table))
            try:
                with conn.transaction():
                    conn.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(
                        sql.Literal(f"{int(min(table_timeout_s, left) * 1000)}ms")))
                    row = conn.execute(query).fetchone()
                sizes = [int(v or 0) for v in row] if row else [0] * len(cols)
            except (psycopg.errors.QueryCanceled, psycopg.errors.InsufficientPrivilege):
                pass  # unknown: full LOB mode
        columns += [LobColumn(table=f"{schema}.{table}", column=c, type=t, largest_bytes=s)
                    for (c, t), s in zip(cols, sizes, strict=True)]
    measured = [c.largest_bytes for c in columns if c.largest_bytes is not None]
    columns.sort(key=lambda c: -1 if c.largest_bytes is None else -c.largest_bytes)
    return LobReport(columns=columns[:MAX_LISTED], column_count=len(columns), largest_bytes=max(measured, default=0),
                     complete=len(measured) == len(columns))


def dms_lob_settings(report: LobReport | None) -> dict[str, Any]:
    """The ``TargetMetadata`` LOB settings of the DMS replication task (see the module docstring)."""
    if report is not None and report.complete:
        kb = max(DEFAULT_LOB_MAX_KB, math.ceil(report.largest_bytes * HEADROOM / 1024))
        if kb <= LIMITED_MAX_KB:
            return {"SupportLobs": True, "FullLobMode": False, "LimitedSizeLobMode": True, "LobMaxSize": kb,
                    "LobChunkSize": LOB_CHUNK_KB}
    return {"SupportLobs": True, "FullLobMode": True, "LimitedSizeLobMode": False, "LobMaxSize": 0,
            "LobChunkSize": LOB_CHUNK_KB}
