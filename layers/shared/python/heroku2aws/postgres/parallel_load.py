"""How the DMS full load is parallelised, chosen from what preflight measured on the source.

AWS's rules this follows (AWS DMS user guide):

- "Full-load task settings"
  (https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Tasks.CustomizingTasks.TaskSettings.FullLoad.html):
  ``MaxFullLoadSubTasks`` is the number of tables *or table segments* loaded in parallel; default 8, maximum 49.
- "Table and collection settings rules and operations"
  (https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Tasks.CustomizingTasks.TableMapping.SelectionTransformation.Tablesettings.html):
  a ``table-settings`` rule with ``"parallel-load": {"type": "ranges", "columns": [...], "boundaries": [[...], ...]}``
  splits one table into segments, each loaded by its own subtask. A **PostgreSQL source supports only the
  ``ranges`` type** (``partitions-auto`` / ``partitions-list`` / ``subpartitions-auto`` are for other engines);
  the object-locator names one table, without wildcards; at most 10 columns; no DOUBLE, FLOAT, BLOB, CLOB or
  NCLOB column (DMS's types: ``real`` / ``double precision``, ``bytea``, and ``text``, unbounded ``varchar``,
  json, xml, arrays, hstore -- :func:`heroku2aws.postgres.lobs.lob_kind`); **rows whose range columns are NULL
  are not replicated**; each boundary is a segment's upper bound (segment *i* holds the rows whose column tuple is
  at or above boundary *i-1* and below boundary *i*; the rows above the last boundary form the last segment).

What is chosen, and why
  - ``MaxFullLoadSubTasks``: the number of load units (tables, plus the extra segments of split tables), capped by
    the replication instance (AWS's default 8 is sized for the 2-vCPU classes; 4 more per vCPU beyond, up to 49:
    each subtask holds a source and a target connection and a share of the instance's memory) and by the
    source's free connections (what preflight counted, less ``RESERVED_CONNECTIONS``).
  - Which tables are split: the largest ones that would otherwise serialise the load -- a table larger than its
    fair share (``total / subtasks``) and than twice ``MIN_SEGMENT_BYTES`` -- up to ``MAX_RANGE_TABLES``, each into
    ``ceil(size / max(share, MIN_SEGMENT_BYTES))`` segments (at most the number of subtasks).
  - On what: the primary key (else a unique index on NOT NULL columns): never NULL, so no row is left out,
    and indexed, so each segment is an index range scan. A table whose key is missing, wider than 10 columns or of a
    type DMS cannot range on is loaded whole, and the plan says why. Partitioned tables need nothing: their leaf
    partitions are tables of their own in the mapping (``postgres/mappings.py``), each already a load unit.
  - The boundaries: the key's quantiles, from a ``TABLESAMPLE SYSTEM`` sample of about ``SAMPLE_ROWS`` keys read on
    the source during preflight (a fraction of the table's pages; each table under a ``statement_timeout``, all under a
    time budget: what is not measured in time is loaded whole). Duplicates are dropped, so boundaries are strictly
    increasing -- under DMS's segment definition unordered boundaries would copy some rows twice.

State payload
  The boundaries travel only inside the TableMappings document (``PostgresPlan.table_mappings``); ``summary()`` -- what
  the plan shows -- carries none. ``MAX_BOUNDARY_CHARS`` bounds one value and ``PAYLOAD_BUDGET`` all the ranges rules
  together (a table that does not fit is loaded whole, and the plan says so), far below Step Functions' 256 KiB.
"""

from __future__ import annotations

import json
import math
import re
import time

import psycopg
from psycopg import sql
from pydantic import BaseModel

from heroku2aws.postgres.lobs import lob_kind

__all__ = ["MAX_SUBTASKS", "ParallelLoadPlan", "RangeTable", "instance_subtask_cap", "plan_parallel_load",
           "rangeable", "ranges_rules"]

#: Full-load task settings: MaxFullLoadSubTasks "default is 8; the maximum value is 49".
DEFAULT_SUBTASKS = 8
MAX_SUBTASKS = 49
#: Table-settings parallel-load ranges: "You can specify up to 10 columns".
MAX_RANGE_COLUMNS = 10
#: A segment smaller than this is not worth a scan of its own.
MIN_SEGMENT_BYTES = 256 * 1024 * 1024
MAX_RANGE_TABLES = 10
SAMPLE_ROWS = 20_000
MAX_BOUNDARY_CHARS = 200
PAYLOAD_BUDGET = 32 * 1024
#: Source connections left to others (the app's one-off dynos, a console) when sizing the subtasks.
RESERVED_CONNECTIONS = 5

_VCPUS = {"micro": 1, "small": 1, "medium": 2, "large": 2, "xlarge": 4}


class RangeTable(BaseModel):
    table: str  # schema.table
    schema_name: str
    table_name: str
    size_bytes: int
    rows_estimate: int | None
    columns: list[str]
    boundaries: list[list[str]]
    sampled_rows: int
    why: str

    def summary(self) -> dict:
        return {"table": self.table, "size_bytes": self.size_bytes, "segments": len(self.boundaries) + 1,
                "columns": self.columns, "sampled_rows": self.sampled_rows, "why": self.why}


class ParallelLoadPlan(BaseModel):
    max_full_load_subtasks: int
    why: str
    total_bytes: int
    load_units: int
    ranges: list[RangeTable]
    not_split: dict[str, str]  # large tables loaded whole: why

    def summary(self) -> dict:
        """What the plan shows: every choice and its reason, no boundary values (they stay in the mapping)."""
        return {"MaxFullLoadSubTasks": self.max_full_load_subtasks, "why": self.why, "total_bytes": self.total_bytes,
                "load_units": self.load_units, "ranges": [r.summary() for r in self.ranges],
                "not_split": dict(self.not_split),
                "guidance": ["https://docs.aws.amazon.com/dms/latest/userguide/"
                             "CHAP_Tasks.CustomizingTasks.TaskSettings.FullLoad.html",
                             "https://docs.aws.amazon.com/dms/latest/userguide/"
                             "CHAP_Tasks.CustomizingTasks.TableMapping.SelectionTransformation.Tablesettings.html"]}


def _size(n: float) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


def instance_subtask_cap(instance_class: str | None) -> int:
    """Subtasks a replication instance class is given: 8 (AWS's default) up to 2 vCPUs, 4 per vCPU beyond, <= 49."""
    size = (instance_class or "").rsplit(".", 1)[-1]
    found = re.fullmatch(r"(\d+)xlarge", size)
    vcpus = int(found.group(1)) * 4 if found else _VCPUS.get(size, 2)
    return min(MAX_SUBTASKS, max(DEFAULT_SUBTASKS, 4 * vcpus))


def rangeable(type_display: str) -> bool:
    """May DMS range on a column of this type (no DOUBLE, FLOAT, BLOB, CLOB, NCLOB)?"""
    t = type_display.lower()
    return lob_kind(t) is None and t not in ("real", "double precision", "float4", "float8")


_KEY = """
SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])
 WHERE i.indexrelid = (
       SELECT i2.indexrelid FROM pg_catalog.pg_index i2
        WHERE i2.indrelid = {rel}::regclass AND i2.indisunique AND i2.indimmediate AND i2.indpred IS NULL
          AND i2.indexprs IS NULL AND i2.indisvalid
          AND NOT EXISTS (SELECT 1 FROM unnest(i2.indkey::int2[]) k(attnum)
                           JOIN pg_catalog.pg_attribute a2 ON a2.attrelid = i2.indrelid AND a2.attnum = k.attnum
                          WHERE NOT a2.attnotnull)
        ORDER BY i2.indisprimary DESC, i2.indnatts, i2.indexrelid LIMIT 1)
 ORDER BY array_position(i.indkey::int2[], a.attnum)
"""


def _key(conn: psycopg.Connection, schema: str, table: str) -> list[tuple[str, str]]:
    rel = sql.Literal(sql.Identifier(schema, table).as_string(conn))
    return [(r[0], r[1]) for r in conn.execute(sql.SQL(_KEY).format(rel=rel)).fetchall()]


def _quantiles(conn: psycopg.Connection, schema: str, table: str, columns: list[str], rows: int | None,
               size: int, segments: int, timeout_s: float) -> tuple[list[list[str]], int]:
    """``segments - 1`` boundaries of the key from a sample (strictly increasing), and the sample's size."""
    expected = rows if rows and rows > 0 else max(1, size // 100)
    percent = min(100.0, 100.0 * SAMPLE_ROWS / expected)
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    texts = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in columns)
    query = sql.SQL("SELECT {texts} FROM (SELECT {cols}, row_number() OVER (ORDER BY {cols}) AS i, "
                    "count(*) OVER () AS n FROM ONLY {rel} TABLESAMPLE SYSTEM ({pct}) REPEATABLE (18)) s "
                    "WHERE i = ANY (SELECT DISTINCT greatest(1, (g * s.n) / {k}) FROM generate_series(1, {k1}) g) "
                    "ORDER BY i").format(texts=texts, cols=cols, rel=sql.Identifier(schema, table),
                                         pct=sql.Literal(round(percent, 4)), k=sql.Literal(segments),
                                         k1=sql.Literal(segments - 1))
    count = sql.SQL("SELECT count(*) FROM ONLY {} TABLESAMPLE SYSTEM ({}) REPEATABLE (18)").format(
        sql.Identifier(schema, table), sql.Literal(round(percent, 4)))
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL statement_timeout = {}").format(sql.Literal(f"{int(timeout_s * 1000)}ms")))
        row = conn.execute(count).fetchone()
        sampled = int(row[0]) if row else 0
        points = [list(r) for r in conn.execute(query).fetchall()]
    out: list[list[str]] = []
    for p in points:  # distinct and increasing (the sample is ordered; equal keys collapse)
        if not out or p != out[-1]:
            out.append(p)
    return out, sampled


def ranges_rules(plan: ParallelLoadPlan | None, first_rule_id: int) -> list[dict]:
    """The ``table-settings`` rules of ``plan`` (rule ids from ``first_rule_id``)."""
    rules = []
    for i, r in enumerate(plan.ranges if plan else [], start=first_rule_id):
        rules.append({"rule-type": "table-settings", "rule-id": str(i), "rule-name": f"{i}-parallel-load-{r.table}"[:255],
                      "object-locator": {"schema-name": r.schema_name, "table-name": r.table_name},
                      "parallel-load": {"type": "ranges", "columns": list(r.columns),
                                        "boundaries": [list(b) for b in r.boundaries]}})
    return rules


def plan_parallel_load(conn: psycopg.Connection, tables: list, free_connections: int,
                       instance_class: str | None = None, *, min_segment_bytes: int = MIN_SEGMENT_BYTES,
                       table_timeout_s: float = 20, budget_s: float = 60) -> ParallelLoadPlan:
    """The plan (see the module docstring) for ``tables`` (:class:`~heroku2aws.postgres.analysis.TableInfo`) of the
    database ``conn`` is connected to."""
    stored = [t for t in tables if t.kind != "partitioned"]
    total = sum(t.size_bytes for t in stored)
    by_instance = instance_subtask_cap(instance_class)
    by_connections = max(1, free_connections - RESERVED_CONNECTIONS)
    cap = min(MAX_SUBTASKS, by_instance, by_connections)
    share = total / cap if cap else total
    unit = max(share, min_segment_bytes)
    candidates = sorted((t for t in stored if t.size_bytes > share and t.size_bytes >= 2 * min_segment_bytes),
                        key=lambda t: -t.size_bytes)
    ranges: list[RangeTable] = []
    not_split: dict[str, str] = {}
    deadline = time.monotonic() + budget_s
    used = 0
    for t in candidates:
        segments = min(cap, math.ceil(t.size_bytes / unit))
        if len(ranges) >= MAX_RANGE_TABLES:
            not_split[t.name] = f"only the {MAX_RANGE_TABLES} largest tables are split (state payload)"
            continue
        if segments < 2:
            continue
        key = _key(conn, t.schema_name, t.table_name)
        if not key:
            not_split[t.name] = "no primary key or unique index on NOT NULL columns to range on"
            continue
        if len(key) > MAX_RANGE_COLUMNS:
            not_split[t.name] = f"its key has {len(key)} columns; DMS ranges on at most {MAX_RANGE_COLUMNS}"
            continue
        bad = [f"{c} ({ty})" for c, ty in key if not rangeable(ty)]
        if bad:
            not_split[t.name] = f"DMS cannot range on {', '.join(bad)} (DOUBLE, FLOAT, BLOB, CLOB and NCLOB refused)"
            continue
        left = deadline - time.monotonic()
        if left < 0.5:
            not_split[t.name] = "its key was not sampled within preflight's time budget"
            continue
        try:
            boundaries, sampled = _quantiles(conn, t.schema_name, t.table_name, [c for c, _ in key], t.rows_estimate,
                                             t.size_bytes, segments, min(table_timeout_s, left))
        except (psycopg.errors.QueryCanceled, psycopg.errors.InsufficientPrivilege) as exc:
            not_split[t.name] = f"its key could not be sampled ({type(exc).__name__})"
            continue
        if not boundaries:
            not_split[t.name] = "the sample held too few distinct keys"
            continue
        if any(len(v) > MAX_BOUNDARY_CHARS for b in boundaries for v in b):
            not_split[t.name] = f"key values longer than {MAX_BOUNDARY_CHARS} characters (state payload)"
            continue
        r = RangeTable(table=t.name, schema_name=t.schema_name, table_name=t.table_name, size_bytes=t.size_bytes,
                       rows_estimate=t.rows_estimate, columns=[c for c, _ in key], boundaries=boundaries,
                       sampled_rows=sampled,
                       why=(f"{_size(t.size_bytes)}, above its fair share {_size(share)} "
                            f"(total / {cap} subtasks): {len(boundaries) + 1} segments of about "
                            f"{_size(t.size_bytes / (len(boundaries) + 1))} on "
                            f"{', '.join(c for c, _ in key)} (key quantiles from {sampled:,} sampled rows)"))
        size = len(json.dumps(ranges_rules(ParallelLoadPlan(max_full_load_subtasks=1, why="", total_bytes=0,
                                                            load_units=0, ranges=[r], not_split={}), 1)))
        if used + size > PAYLOAD_BUDGET:
            not_split[t.name] = f"its boundaries would take the ranges rules past {PAYLOAD_BUDGET // 1024} KiB"
            continue
        used += size
        ranges.append(r)
    units = len(stored) + sum(len(r.boundaries) for r in ranges)
    chosen = max(1, min(cap, units))
    limits = [f"the replication instance ({instance_class or 'unknown class'}: {by_instance})",
              f"the source's free connections ({free_connections} - {RESERVED_CONNECTIONS} kept free: "
              f"{by_connections})", f"DMS's maximum ({MAX_SUBTASKS})"]
    binding = min(zip((by_instance, by_connections, MAX_SUBTASKS), limits, strict=True))[1]
    why = (f"{units} load unit(s) ({len(stored)} table(s)"
           + (f" + {units - len(stored)} extra segment(s) of split tables" if units > len(stored) else "") + "); "
           + ("all of them at once" if chosen == units else f"capped by {binding}"))
    return ParallelLoadPlan(max_full_load_subtasks=chosen, why=why, total_bytes=total, load_units=units,
                            ranges=ranges, not_split=not_split)
