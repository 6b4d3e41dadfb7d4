"""What AWS DMS does with a replication task, done for real between two PostgreSQL databases.

moto's DMS keeps task records but moves no data; the engine hooks StartReplicationTask /
StopReplicationTask / DescribeReplicationTasks / DescribeTableStatistics to a
:class:`ReplicationRun`, which copies the rows and reports status and statistics in DMS's shapes.

Full load
    Every table the DMS table mappings select (selection rules, ``%`` wildcards, excludes win) is
    copied with ``COPY (SELECT ...) TO STDOUT`` streamed into ``COPY ... FROM STDIN`` (text format:
    it tolerates column type differences the way DMS does), a few tables in parallel. All tables
    are read in one consistent snapshot. ``TargetTablePrepMode``: ``DROP_AND_CREATE`` drops the
    target table and creates it from the source's columns and primary key only (no defaults,
    sequences, indexes, constraints, as DMS); ``TRUNCATE_BEFORE_LOAD`` truncates the target tables
    first; ``DO_NOTHING`` appends. A table that fails (missing on the target, type mismatch, ...)
    is marked "Table error" and the task ends ``failed``. Sequences are not moved (DMS doesn't).
    Partitioned tables: each leaf partition's rows are copied exactly once, into the nearest
    selected table among the partition and its ancestors.

Change data capture (``full-load-and-cdc``, ``cdc``)
    PostgreSQL logical decoding with the ``pgoutput`` plugin, consumed over SQL
    (``pg_logical_slot_peek_binary_changes``) and applied by this process, so the target needs no
    superuser and no subscription. Before the full load a publication and a logical slot are
    created on the source; the slot is created on a replication connection that *exports its
    snapshot*, and the full load reads exactly that snapshot: every transaction is either in the
    copy or in the change stream, never both, never neither. After the load, changes are applied
    transaction by transaction (batched into one target transaction, then the slot is advanced past
    them). The endpoint user needs REPLICATION (the real DMS requirement). As with DMS, UPDATE and
    DELETE on a table without a primary key (or other replica identity) are not captured: such
    tables are published for INSERT and TRUNCATE only, so the source application's own UPDATEs
    and DELETEs on them keep working. ``stop()`` drops the slot and the publications.

Parallel load (``FullLoadSettings.MaxFullLoadSubTasks``, ``table-settings`` rules)
    As DMS does ("Full-load task settings"; "Table and collection settings rules and operations", AWS DMS user
    guide): ``MaxFullLoadSubTasks`` (default 8, 1 to 49, anything else fails the task) is the number of tables or
    table segments loaded at once. A ``table-settings`` rule with ``"parallel-load": {"type": "ranges", "columns":
    [...], "boundaries": [[...], ...]}`` splits its table into segments loaded side by side, each with the WHERE
    clause DMS builds -- segment *i* is ``NOT (key < boundary i-1) AND (key < boundary i)``, "key < boundary" being
    ``(c1 < v1) OR (c1 = v1 AND c2 < v2) OR ...`` -- so rows whose range columns are NULL are not copied (DMS: "Records
    with null values aren't replicated") and unordered boundaries copy rows twice, as they would on DMS. Refused, and
    the task fails, as DMS refuses them: another parallel-load type on a PostgreSQL source (it supports ``ranges``
    only), a wildcard in the rule's object-locator, no or more than 10 columns, a column the table does not have or
    of a type DMS cannot range on (DOUBLE, FLOAT, BLOB, CLOB, NCLOB), a boundary whose length differs from the
    columns', no boundaries.

LOB columns (``TargetMetadata`` of the task settings)
    As DMS takes them (AWS DMS user guide, "Source data types for PostgreSQL"): ``bytea`` is a BLOB;
    ``text``, unbounded ``varchar``, ``json``, ``jsonb``, ``xml``, arrays and ``hstore`` are NCLOBs. With
    DMS's defaults (``SupportLobs`` true, ``LimitedSizeLobMode`` true, ``LobMaxSize`` 32 KB), or any
    limited LOB mode, a longer value is truncated to ``LobMaxSize`` KB ("LOBs that exceed the maximum LOB
    size are truncated, and a warning is issued to the log file": "Setting LOB support for source
    databases in an AWS DMS task") -- a BLOB to that many bytes, an NCLOB to half as many characters
    (two bytes each: the stricter reading). A truncated json/jsonb/xml/array no longer parses: its table
    fails, as it would on a real target. ``FullLobMode`` copies everything; ``SupportLobs`` false leaves
    LOB columns NULL. Truncations are counted in ``warnings``. The LOB mode is the task's, so the changes CDC
    applies (INSERT values, UPDATE SETs) are cut by the same rule (:func:`_lob_value`).

Stats and table statistics follow DMS's ``ReplicationTaskStats`` and ``TableStatistics`` shapes,
with ``datetime`` values; :func:`to_wire` turns them into JSON-ready values (epoch seconds, as the
DMS JSON protocol sends timestamps) for moto's ``json.dumps`` responses.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import re
import secrets
import struct
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from heroku2aws.postgres.lobs import lob_kind  # one answer to "is this a LOB to DMS", shared with preflight
from heroku2aws.postgres.parallel_load import MAX_SUBTASKS, rangeable  # DMS's rules, shared with preflight

__all__ = ["ReplicationRun", "TableMappingError", "parse_parallel_load", "parse_table_mappings", "select_tables",
           "to_wire"]

FULL_LOAD = "full-load"
FULL_LOAD_AND_CDC = "full-load-and-cdc"
CDC = "cdc"
MIGRATION_TYPES = (FULL_LOAD, FULL_LOAD_AND_CDC, CDC)
PREP_MODES = ("DO_NOTHING", "TRUNCATE_BEFORE_LOAD", "DROP_AND_CREATE")

# DMS table states (DescribeTableStatistics TableState).
BEFORE_LOAD = "Before load"
FULL_LOAD_STATE = "Full load"
COMPLETED = "Table completed"
TABLE_ERROR = "Table error"
CANCELLED = "Table cancelled"

STOP_FULL_LOAD_FINISHED = "Stop Reason FULL_LOAD_ONLY_FINISHED"
STOP_NORMAL = "Stop Reason NORMAL"
STOP_FATAL = "Stop Reason FATAL_ERROR"

CONNECT_TIMEOUT_S = 10
DEFAULT_SUBTASKS = 8             # FullLoadSettings.MaxFullLoadSubTasks when the task settings name none (DMS's)
MAX_RANGE_COLUMNS = 10
COPY_FLUSH_BYTES = 256 * 1024    # COPY OUT yields one row per chunk; write to the target in batches.
CDC_POLL_S = 0.1
CDC_BATCH_CHANGES = 20000
_SYSTEM_SCHEMAS = ("pg_catalog", "information_schema")

log = logging.getLogger("heroku2aws_rehearsal.dms")


class TableMappingError(ValueError):
    """The table mappings are not valid DMS table-mapping JSON."""


class _Stopped(Exception):
    """stop() was called while work was in progress."""


# ============================================================================================
# Table mappings
# ============================================================================================


@dataclass(frozen=True)
class _Rule:
    action: str  # include | exclude | explicit
    schema: re.Pattern[str]
    table: re.Pattern[str]


def _like(pattern: str, explicit: bool) -> re.Pattern[str]:
    if explicit:
        return re.compile(re.escape(pattern))
    return re.compile(".*".join(re.escape(part) for part in pattern.split("%")))


def parse_table_mappings(mappings: dict | str | None) -> list[_Rule]:
    """The selection rules of DMS table-mapping JSON (other rule types are ignored)."""
    if mappings is None or mappings == "":
        mappings = {"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "1",
                               "object-locator": {"schema-name": "%", "table-name": "%"}, "rule-action": "include"}]}
    if isinstance(mappings, str | bytes):
        try:
            mappings = json.loads(mappings)
        except ValueError as exc:
            raise TableMappingError(f"Table mappings are not valid JSON: {exc}") from None
    if not isinstance(mappings, dict) or not isinstance(mappings.get("rules"), list):
        raise TableMappingError("Table mappings must be an object with a 'rules' list")
    rules: list[_Rule] = []
    for rule in mappings["rules"]:
        if not isinstance(rule, dict):
            raise TableMappingError("Each table-mapping rule must be an object")
        if rule.get("rule-type") != "selection":
            continue
        action = rule.get("rule-action")
        locator = rule.get("object-locator") or {}
        if action not in ("include", "exclude", "explicit"):
            raise TableMappingError(f"Selection rule {rule.get('rule-name')!r}: unknown rule-action {action!r}")
        schema, table = locator.get("schema-name"), locator.get("table-name", "%")
        if not isinstance(schema, str) or not isinstance(table, str):
            raise TableMappingError(f"Selection rule {rule.get('rule-name')!r}: object-locator needs schema-name "
                                    "and table-name strings")
        explicit = action == "explicit"
        rules.append(_Rule(action, _like(schema, explicit), _like(table, explicit)))
    if not any(r.action in ("include", "explicit") for r in rules):
        raise TableMappingError("Table mappings select nothing: at least one selection rule must include tables")
    return rules


def select_tables(rules: list[_Rule], tables: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (schema, table) pairs the rules select: included by some rule and excluded by none."""
    out = []
    for schema, table in tables:
        hit = [r for r in rules if r.schema.fullmatch(schema) and r.table.fullmatch(table)]
        if any(r.action == "exclude" for r in hit):
            continue
        if any(r.action in ("include", "explicit") for r in hit):
            out.append((schema, table))
    return out


@dataclass(frozen=True)
class _ParallelLoad:
    columns: tuple[str, ...]
    boundaries: tuple[tuple[str, ...], ...]


def parse_parallel_load(mappings: dict | str | None) -> dict[tuple[str, str], _ParallelLoad]:
    """The ``parallel-load`` settings of the ``table-settings`` rules, by (schema, table); what a PostgreSQL source
    refuses raises :class:`TableMappingError` (see the module docstring)."""
    if not mappings:
        return {}
    doc = json.loads(mappings) if isinstance(mappings, str | bytes) else mappings
    out: dict[tuple[str, str], _ParallelLoad] = {}
    for rule in doc.get("rules", []) if isinstance(doc, dict) else []:
        if not isinstance(rule, dict) or rule.get("rule-type") != "table-settings" or "parallel-load" not in rule:
            continue
        name = rule.get("rule-name")
        loc = rule.get("object-locator") or {}
        schema, table = loc.get("schema-name"), loc.get("table-name")
        if not isinstance(schema, str) or not isinstance(table, str):
            raise TableMappingError(f"Table-settings rule {name!r}: object-locator needs schema-name and table-name")
        if "%" in schema or "%" in table:
            raise TableMappingError(f"Table-settings rule {name!r}: parallel-load takes one table, not the wildcard "
                                    f"{schema}.{table}")
        pl = rule["parallel-load"]
        kind = pl.get("type") if isinstance(pl, dict) else None
        if kind == "none":
            continue
        if kind in ("partitions-auto", "partitions-list", "subpartitions-auto"):
            raise TableMappingError(f"Table-settings rule {name!r}: parallel-load type {kind} is not supported for a "
                                    "PostgreSQL source (ranges only)")
        if kind != "ranges":
            raise TableMappingError(f"Table-settings rule {name!r}: unknown parallel-load type {kind!r}")
        columns, boundaries = pl.get("columns"), pl.get("boundaries")
        if (not isinstance(columns, list) or not columns or len(columns) > MAX_RANGE_COLUMNS
                or not all(isinstance(c, str) for c in columns)):
            raise TableMappingError(f"Table-settings rule {name!r}: ranges need 1 to {MAX_RANGE_COLUMNS} column names")
        if not isinstance(boundaries, list) or not boundaries:
            raise TableMappingError(f"Table-settings rule {name!r}: ranges need boundaries")
        for b in boundaries:
            if (not isinstance(b, list) or len(b) != len(columns)
                    or not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in b)):
                raise TableMappingError(f"Table-settings rule {name!r}: each boundary must hold one value per column "
                                        f"({len(columns)})")
        out[(schema, table)] = _ParallelLoad(tuple(columns), tuple(tuple(str(v) for v in b) for b in boundaries))
    return out


def _below(columns: list[_Column], values: tuple[str, ...]) -> sql.Composable:
    """DMS's "key < boundary": ``(c1 < v1) OR (c1 = v1 AND c2 < v2) OR ...`` (values cast to the columns' types)."""
    def lit(c: _Column, v: str) -> sql.Composable:
        return sql.SQL("CAST({} AS {})").format(sql.Literal(v), sql.SQL(c.type))

    terms = []
    for j, (c, v) in enumerate(zip(columns, values, strict=True)):
        eq = [sql.SQL("{} = {}").format(sql.Identifier(p.name), lit(p, pv)) for p, pv in zip(columns[:j], values[:j],
                                                                                             strict=True)]
        terms.append(sql.SQL("({})").format(sql.SQL(" AND ").join(
            [*eq, sql.SQL("{} < {}").format(sql.Identifier(c.name), lit(c, v))])))
    return sql.SQL("({})").format(sql.SQL(" OR ").join(terms))


def _segments(columns: list[_Column], boundaries: tuple[tuple[str, ...], ...]) -> list[sql.Composable]:
    """The WHERE clause of each segment, as DMS builds them (one more segment than boundaries)."""
    below = [_below(columns, b) for b in boundaries]
    out = [below[0]]
    out += [sql.SQL("NOT {} AND {}").format(below[i - 1], below[i]) for i in range(1, len(below))]
    out.append(sql.SQL("NOT {}").format(below[-1]))
    return out


# ============================================================================================
# Small helpers
# ============================================================================================


def _now() -> datetime:
    return datetime.now(UTC)


def _lsn(text: str) -> int:
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def _lsn_text(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def _where(url: str) -> str:
    """host:port/db of a libpq URL, never its password."""
    try:
        parts = urlsplit(url)
        return f"{parts.hostname}:{parts.port or 5432}{parts.path or '/'}"
    except ValueError:
        return "<unparseable URL>"


def _scrub(message: str, url: str) -> str:
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        message = message.replace(password, "****")
    return message.strip()


def _qname(schema: str, name: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))


def to_wire(value: Any) -> Any:
    """``stats()`` / ``table_statistics()`` values made JSON-ready: datetimes become epoch seconds."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_wire(v) for v in value]
    return value


# ============================================================================================
# The tables of a task
# ============================================================================================


@dataclass
class _Column:
    name: str
    type: str          # format_type() on the source
    not_null: bool
    user_type: bool    # the type (or array element type) lives outside pg_catalog


@dataclass
class _Table:
    """One table of the task: what DMS lists in DescribeTableStatistics."""

    oid: int
    schema: str
    name: str
    relkind: str                       # r | p
    columns: list[_Column] = field(default_factory=list)
    primary_key: list[str] = field(default_factory=list)
    leaves: list[int] = field(default_factory=list)       # the heap relations whose rows this table carries
    segments: list[sql.Composable] = field(default_factory=list)  # parallel-load ranges: one WHERE per segment
    units_left: int = 0                                   # segments (or 1) not yet loaded
    all_leaves: bool = True                               # partitioned: carries every leaf of its tree
    expected_rows: int = 0
    state: str = BEFORE_LOAD
    full_load_rows: int = 0
    loaded_rows: int = 0                                  # rows streamed so far (progress)
    error_rows: int = 0
    full_load_start: datetime | None = None
    full_load_end: datetime | None = None
    inserts: int = 0
    updates: int = 0
    deletes: int = 0
    applied_inserts: int = 0
    applied_updates: int = 0
    applied_deletes: int = 0
    last_update: datetime | None = None
    error: str | None = None

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.name}"

    def select_sql(self, leaf_names: dict[int, tuple[str, str]], lob_limit: int | None = None,
                   where: sql.Composable | None = None) -> sql.Composable:
        """``lob_limit``: DMS's limited LOB mode, in bytes (0: LOBs not supported, NULL); None: full LOB mode;
        ``where``: one parallel-load segment."""
        cols = sql.SQL(", ").join(_lob_column(c, lob_limit) for c in self.columns)
        if where is not None:
            inner = self.select_sql(leaf_names)
            return sql.SQL("SELECT {} FROM ({}) s WHERE {}").format(cols, inner, where)
        if self.relkind == "r":
            return sql.SQL("SELECT {} FROM ONLY {}").format(cols, _qname(self.schema, self.name))
        if self.all_leaves:
            return sql.SQL("SELECT {} FROM {}").format(cols, _qname(self.schema, self.name))
        if not self.leaves:
            return sql.SQL("SELECT {} FROM ONLY {} WHERE false").format(cols, _qname(self.schema, self.name))
        return sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT {} FROM ONLY {}").format(cols, _qname(*leaf_names[oid])) for oid in self.leaves)


def _lob_column(c: _Column, limit: int | None) -> sql.Composable:
    ident = sql.Identifier(c.name)
    kind = lob_kind(c.type)
    if kind is None or limit is None:
        return ident
    if limit == 0:
        return sql.SQL("NULL AS {}").format(ident)
    if kind == "blob":
        return sql.SQL("pg_catalog.substr({}, 1, {}) AS {}").format(ident, sql.Literal(limit), ident)
    return sql.SQL("pg_catalog.left(({})::text, {}) AS {}").format(ident, sql.Literal(limit // 2), ident)


def _lob_value(value: sql.Composable, type_: str, limit: int | None) -> sql.Composable:
    """A captured value of a column of ``type_`` as limited LOB mode keeps it (``_lob_column``'s rule, for CDC)."""
    kind = lob_kind(type_)
    if kind is None or limit is None:
        return value
    if limit == 0:
        return sql.SQL("(CASE WHEN {} IS NULL THEN NULL END)::{}").format(value, sql.SQL(type_))  # always NULL
    if kind == "blob":
        return sql.SQL("pg_catalog.substr({}, 1, {})").format(value, sql.Literal(limit))
    return sql.SQL("pg_catalog.left(({})::text, {})::{}").format(value, sql.Literal(limit // 2), sql.SQL(type_))


def _lob_cut(value: Any, type_: str, limit: int | None) -> bool:
    """Whether limited LOB mode cuts this captured value (pgoutput's text form: bytea as ``\\x`` hex)."""
    kind = lob_kind(type_)
    if not kind or not limit or not isinstance(value, str):
        return False
    if kind == "blob":
        return (len(value) - 2) // 2 > limit if value.startswith("\\x") else len(value) > limit
    return len(value) > limit // 2


def lob_limit(target_metadata: dict | None) -> int | None:
    """Bytes a LOB keeps under these TargetMetadata settings (DMS's defaults when absent); None: no limit."""
    md = {"SupportLobs": True, "FullLobMode": False, "LimitedSizeLobMode": True, "LobMaxSize": 32,
          **(target_metadata or {})}
    if not md["SupportLobs"]:
        return 0
    if md["FullLobMode"]:
        return None
    return int(md["LobMaxSize"] or 32) * 1024


_TABLES_SQL = """
SELECT c.oid, n.nspname, c.relname, c.relkind, c.relreplident,
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk,
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident) AS has_ri_index,
       c.relispartition
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_%'
ORDER BY n.nspname, c.relname
"""

_COLUMNS_SQL = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       tn.nspname <> 'pg_catalog' OR coalesce(en.nspname, 'pg_catalog') <> 'pg_catalog'
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid JOIN pg_namespace tn ON tn.oid = t.typnamespace
LEFT JOIN pg_type e ON e.oid = t.typelem AND t.typcategory = 'A'
LEFT JOIN pg_namespace en ON en.oid = e.typnamespace
WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
ORDER BY a.attnum
"""

_PK_SQL = """
SELECT a.attname FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])
WHERE i.indrelid = %s AND i.indisprimary
ORDER BY array_position(i.indkey::int2[], a.attnum)
"""

_TARGET_COLUMNS_SQL = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attidentity = 'a'
FROM pg_attribute a
WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""


@dataclass
class _Leaf:
    oid: int
    schema: str
    name: str
    identity: bool   # UPDATE/DELETE can be published (primary key or other replica identity)
    owner: int       # oid of the task table that carries its rows


# ============================================================================================
# pgoutput (protocol version 1), as returned by pg_logical_slot_peek_binary_changes
# ============================================================================================

UNCHANGED = object()   # an unchanged TOASTed value: not sent, so not to be written


@dataclass
class _Relation:
    relid: int
    schema: str
    name: str
    columns: list[str]
    key: list[bool]
    full_identity: bool = False   # REPLICA IDENTITY FULL: every column is "key", rows may repeat


@dataclass
class _Change:
    op: str                         # I | U | D | T
    relid: int
    new: list[Any] | None = None
    old: list[Any] | None = None    # key ('K') or full ('O') old tuple
    relids: list[int] | None = None  # TRUNCATE
    truncate_options: int = 0


@dataclass
class _Txn:
    xid: int
    end_lsn: int = 0
    changes: list[_Change] = field(default_factory=list)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def unpack(self, fmt: str) -> tuple:
        s = struct.Struct(fmt)
        out = s.unpack_from(self.data, self.pos)
        self.pos += s.size
        return out

    def byte(self) -> bytes:
        self.pos += 1
        return self.data[self.pos - 1:self.pos]

    def cstring(self) -> str:
        end = self.data.index(b"\0", self.pos)
        out = self.data[self.pos:end].decode()
        self.pos = end + 1
        return out

    def tuple(self) -> list[Any]:
        (n,) = self.unpack(">H")
        values: list[Any] = []
        for _ in range(n):
            kind = self.byte()
            if kind == b"n":
                values.append(None)
            elif kind == b"u":
                values.append(UNCHANGED)
            elif kind == b"t":
                (length,) = self.unpack(">I")
                values.append(self.data[self.pos:self.pos + length].decode())
                self.pos += length
            else:
                raise ValueError(f"pgoutput: unknown tuple value kind {kind!r}")
        return values


def _decode(messages: list[tuple[str, bytes]], relations: dict[int, _Relation]) -> Iterator[_Txn]:
    """Transactions from pgoutput messages (one message per row of the SQL decoding functions)."""
    txn: _Txn | None = None
    for _lsn_str, data in messages:
        r = _Reader(bytes(data))
        kind = r.byte()
        if kind == b"B":
            _final_lsn, _ts, xid = r.unpack(">QqI")
            txn = _Txn(xid)
        elif kind == b"C":
            _flags, _commit_lsn, end_lsn, _ts = r.unpack(">BQQq")
            if txn is not None:
                txn.end_lsn = end_lsn
                yield txn
            txn = None
        elif kind == b"R":
            (relid,) = r.unpack(">I")
            schema, name = r.cstring(), r.cstring()
            ident, ncols = r.unpack(">BH")
            cols, key = [], []
            for _ in range(ncols):
                (flags,) = r.unpack(">B")
                cols.append(r.cstring())
                r.unpack(">Ii")
                key.append(bool(flags & 1))
            relations[relid] = _Relation(relid, schema, name, cols, key, full_identity=ident == ord("f"))
        elif kind == b"I":
            (relid,) = r.unpack(">I")
            r.byte()  # 'N'
            assert txn is not None
            txn.changes.append(_Change("I", relid, new=r.tuple()))
        elif kind == b"U":
            (relid,) = r.unpack(">I")
            old = None
            marker = r.byte()
            if marker in (b"K", b"O"):
                old = r.tuple()
                marker = r.byte()
            assert txn is not None and marker == b"N"
            txn.changes.append(_Change("U", relid, new=r.tuple(), old=old))
        elif kind == b"D":
            (relid,) = r.unpack(">I")
            r.byte()  # 'K' | 'O'
            assert txn is not None
            txn.changes.append(_Change("D", relid, old=r.tuple()))
        elif kind == b"T":
            nrels, options = r.unpack(">IB")
            relids = list(r.unpack(f">{nrels}I"))
            assert txn is not None
            txn.changes.append(_Change("T", 0, relids=relids, truncate_options=options))
        # 'Y' (type), 'O' (origin), 'M' (message): nothing to apply


# ============================================================================================
# The replication run
# ============================================================================================

_LIVE: weakref.WeakSet[ReplicationRun] = weakref.WeakSet()


class ReplicationRun:
    """One start of a DMS replication task, moving data for real. See the module docstring."""

    def __init__(self, source_url: str, target_url: str, table_mappings: dict | str | None,
                 migration_type: str, target_prep_mode: str = "DO_NOTHING", task_id: str = "task",
                 target_metadata: dict | None = None, full_load_settings: dict | None = None) -> None:
        if migration_type not in MIGRATION_TYPES:
            raise ValueError(f"migration_type must be one of {MIGRATION_TYPES}, not {migration_type!r}")
        self.source_url, self.target_url = source_url, target_url
        self.table_mappings = table_mappings
        self.migration_type = migration_type
        self.task_id = task_id
        self.warnings: list[str] = []
        self.target_prep_mode = target_prep_mode if target_prep_mode in PREP_MODES else "DO_NOTHING"
        if target_prep_mode not in PREP_MODES:
            self.warnings.append(f"unknown TargetTablePrepMode {target_prep_mode!r}: DO_NOTHING used")
        subtasks = (full_load_settings or {}).get("MaxFullLoadSubTasks", DEFAULT_SUBTASKS)
        self._settings_error: str | None = None
        if not isinstance(subtasks, int) or isinstance(subtasks, bool) or not 1 <= subtasks <= MAX_SUBTASKS:
            self._settings_error = (f"Task settings: FullLoadSettings.MaxFullLoadSubTasks must be an integer from 1 to "
                                    f"{MAX_SUBTASKS}, not {subtasks!r}")
            subtasks = DEFAULT_SUBTASKS
        self.max_parallel = subtasks
        self._parallel: dict[tuple[str, str], _ParallelLoad] = {}
        self.lob_limit = lob_limit(target_metadata)
        suffix = secrets.token_hex(4)
        base = re.sub(r"[^a-z0-9_]", "_", task_id.lower())[:40]
        self.slot_name = f"h2a_{base}_{suffix}"
        self.publications: list[str] = []

        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._status = "ready"
        self._stop_reason: str | None = None
        self._failure: str | None = None
        self._tables: list[_Table] = []
        self._start_date: datetime | None = None
        self._stop_date: datetime | None = None
        self._full_load_start: datetime | None = None
        self._full_load_finish: datetime | None = None
        self._full_load_done = False
        self._cdc_active = False
        self._synced_to = 0            # every transaction committed before this LSN is on the target
        self._applied_end = 0          # end LSN of the last transaction applied
        self._slot_created = False
        self._live_conns: set[psycopg.Connection] = set()
        self.apply_misses = 0          # UPDATE/DELETE that found no row on the target (DMS logs these)
        self._statements: dict[tuple, str] = {}

    # ------------------------------------------------------------------ public surface
    @property
    def status(self) -> str:
        return self._status

    @property
    def stop_reason(self) -> str | None:
        return self._stop_reason

    @property
    def last_failure_message(self) -> str | None:
        return self._failure

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("this replication run was already started")
            self._status = "starting"
            self._start_date = _now()
            self._thread = threading.Thread(target=self._main, name=f"dms-{self.task_id}", daemon=True)
            _LIVE.add(self)
            self._thread.start()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop copying / applying and drop the slot and publications; returns when done. Idempotent."""
        with self._lock:
            if self._thread is None:
                if self._status == "ready":
                    self._status, self._stop_reason = "stopped", STOP_NORMAL
                return
            if self._status not in ("stopped", "failed"):
                self._status = "stopping"
            self._stop.set()
            conns = list(self._live_conns)
        for conn in conns:   # interrupt a long COPY or decoding call
            with contextlib.suppress(Exception):
                conn.cancel_safe(timeout=2)
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._cleanup_source()

    def wait(self, timeout: float | None = None) -> str:
        """Block until the full load is over (or the run ends); returns the status."""
        end = None if timeout is None else time.monotonic() + timeout
        while self._status in ("starting", "running", "stopping") and not (
                self._full_load_done and self._cdc_active):
            if end is not None and time.monotonic() > end:
                break
            time.sleep(0.02)
        return self._status

    def stats(self) -> dict[str, Any]:
        with self._lock:
            tables = list(self._tables)
            total = sum(t.expected_rows for t in tables)
            loaded = sum(t.full_load_rows if t.state == COMPLETED else
                         t.loaded_rows if t.state == FULL_LOAD_STATE else 0 for t in tables)
            if self.migration_type == CDC:
                percent = 100 if self._cdc_active or self._stop_reason == STOP_NORMAL else 0
            elif self._full_load_done:
                percent = 100
            elif total:
                percent = min(99, int(100 * loaded / total))
            else:
                percent = 0
            end = self._stop_date or _now()
            out: dict[str, Any] = {
                "FullLoadProgressPercent": percent,
                "ElapsedTimeMillis": int((end - self._start_date).total_seconds() * 1000) if self._start_date else 0,
                "TablesLoaded": sum(t.state == COMPLETED for t in tables),
                "TablesLoading": sum(t.state == FULL_LOAD_STATE for t in tables),
                "TablesQueued": sum(t.state == BEFORE_LOAD for t in tables),
                "TablesErrored": sum(t.state == TABLE_ERROR for t in tables),
            }
            for key, value in (("FreshStartDate", self._start_date), ("StartDate", self._start_date),
                               ("StopDate", self._stop_date), ("FullLoadStartDate", self._full_load_start),
                               ("FullLoadFinishDate", self._full_load_finish)):
                if value is not None:
                    out[key] = value
            return out

    def table_statistics(self) -> list[dict[str, Any]]:
        with self._lock:
            out = []
            for t in self._tables:
                row: dict[str, Any] = {
                    "SchemaName": t.schema, "TableName": t.name,
                    "Inserts": t.inserts, "Deletes": t.deletes, "Updates": t.updates, "Ddls": 0,
                    "AppliedInserts": t.applied_inserts, "AppliedDeletes": t.applied_deletes,
                    "AppliedUpdates": t.applied_updates, "AppliedDdls": 0,
                    "FullLoadRows": t.full_load_rows if t.state != FULL_LOAD_STATE else t.loaded_rows,
                    "FullLoadCondtnlChkFailedRows": 0, "FullLoadErrorRows": t.error_rows,
                    "FullLoadReloaded": False, "TableState": t.state,
                    "ValidationPendingRecords": 0, "ValidationFailedRecords": 0, "ValidationSuspendedRecords": 0,
                    "ValidationState": "Not enabled",
                }
                for key, value in (("FullLoadStartTime", t.full_load_start), ("FullLoadEndTime", t.full_load_end),
                                   ("LastUpdateTime", t.last_update)):
                    if value is not None:
                        row[key] = value
                if t.error:
                    row["ValidationStateDetails"] = t.error
                out.append(row)
            return out

    def cdc_caught_up(self, timeout: float = 0.0) -> bool:
        """True when the target has applied every transaction the source has committed so far.

        ``timeout`` > 0 waits up to that long for it to become true.
        """
        if self.migration_type == FULL_LOAD:
            return False
        deadline = time.monotonic() + timeout
        try:
            goal = self._commit_horizon()
        except psycopg.Error:
            return False
        while True:
            if self._cdc_active and self._status == "running" and self._synced_to >= goal:
                return True
            if time.monotonic() >= deadline or self._status in ("stopped", "failed"):
                return False
            time.sleep(0.02)

    def _commit_horizon(self) -> int:
        """An LSN at or past the end of every transaction committed on the source so far, once decodable.

        Logical decoding reads only flushed WAL. With ``synchronous_commit = off`` (the rehearsal's
        clusters) a commit is visible before it is flushed; the WAL writer flushes it within three
        ``wal_writer_delay``. Records that are no commits (running-xacts snapshots, in-progress
        transactions) may stay unflushed much longer, so the horizon is the insert position once
        flushed, or else the flush position after that grace period.
        """
        with self._connect(self.source_url, "caught-up probe", register=False, autocommit=True) as conn:
            insert_lsn = _lsn(conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()[0])
            delay_ms = int(conn.execute("SELECT setting FROM pg_settings WHERE name = 'wal_writer_delay'")
                           .fetchone()[0])
            grace = time.monotonic() + 3 * delay_ms / 1000 + 0.1
            while True:
                flush_lsn = _lsn(conn.execute("SELECT pg_current_wal_flush_lsn()::text").fetchone()[0])
                if flush_lsn >= insert_lsn or time.monotonic() >= grace:
                    return min(insert_lsn, flush_lsn)
                time.sleep(0.02)

    # ------------------------------------------------------------------ connections
    def _connect(self, url: str, purpose: str, register: bool = True, **kw) -> psycopg.Connection:
        try:
            conn = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S,
                                   application_name=f"heroku2aws-dms-{self.task_id}"[:63], **kw)
        except psycopg.Error as exc:
            side = "source" if url == self.source_url else "target"
            raise _EndpointError(f"Cannot connect to the {side} endpoint {_where(url)} ({purpose}): "
                                 f"{_scrub(str(exc), url)}") from None
        if register:
            with self._lock:
                self._live_conns.add(conn)
        return conn

    def _close(self, conn: psycopg.Connection | None) -> None:
        if conn is None:
            return
        with self._lock:
            self._live_conns.discard(conn)
        with contextlib.suppress(Exception):
            conn.close()

    # ------------------------------------------------------------------ the worker thread
    def _main(self) -> None:
        outcome: tuple[str, str, str | None] = ("failed", STOP_FATAL, "the task ended unexpectedly")
        try:
            self._run()   # returns once a full-load-only task has loaded everything
            outcome = ("stopped", STOP_FULL_LOAD_FINISHED, None)
        except _Stopped:
            outcome = ("stopped", STOP_NORMAL, None)
        except (_EndpointError, TableMappingError) as exc:
            outcome = ("failed", STOP_FATAL, str(exc))
        except psycopg.Error as exc:
            outcome = ("stopped", STOP_NORMAL, None) if self._stop.is_set() else (
                "failed", STOP_FATAL, f"Database error: {_scrub(_scrub(str(exc), self.source_url), self.target_url)}")
        except Exception as exc:  # noqa: BLE001 - a task fails, it does not crash the engine
            outcome = ("failed", STOP_FATAL, f"{type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                conns = list(self._live_conns)
            for conn in conns:
                self._close(conn)
            # The slot and publications are gone before anyone can see the task stopped or failed.
            self._cleanup_source()
            status, reason, message = outcome
            if message is not None:
                with self._lock:
                    self._failure = message
            self._finish(status, reason)
            log.info("DMS task %s %s (%s)%s", self.task_id, status, reason, f": {message}" if message else "")

    def _finish(self, status: str, reason: str) -> None:
        with self._lock:
            for t in self._tables:
                if t.state == FULL_LOAD_STATE:
                    t.state = CANCELLED if status == "stopped" else TABLE_ERROR
            self._status, self._stop_reason = status, reason
            self._stop_date = _now()
            self._cdc_active = False

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise _Stopped()

    def _run(self) -> None:
        if self._settings_error:
            raise _TaskFailed(self._settings_error)
        rules = parse_table_mappings(self.table_mappings)
        self._parallel = parse_parallel_load(self.table_mappings)
        cdc = self.migration_type in (FULL_LOAD_AND_CDC, CDC)
        full = self.migration_type in (FULL_LOAD, FULL_LOAD_AND_CDC)
        plan = self._connect(self.source_url, "reading the catalog", autocommit=True)
        try:
            if cdc:
                self._check_cdc_prerequisites(plan)
            leaves = self._plan(plan, rules)
            self._check_stop()
            snapshot: str | None = None
            exporter: psycopg.Connection | None = None
            if cdc:
                self._create_publications(plan, leaves)
                exporter, snapshot = self._create_slot(export=full)
            self._set_status("running")
            if full:
                if snapshot is None:
                    plan.autocommit = False
                    plan.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    (snapshot,) = plan.execute("SELECT pg_export_snapshot()").fetchone()
                try:
                    self._full_load(snapshot, leaves)
                finally:
                    self._close(exporter)
                    exporter = None
            else:
                self._close(exporter)
        finally:
            self._close(plan)
        errored = [t for t in self._tables if t.state == TABLE_ERROR]
        if errored:
            names = ", ".join(t.label for t in errored[:5]) + (" ..." if len(errored) > 5 else "")
            detail = errored[0].error or "error"
            raise _TaskFailed(f"{len(errored)} table(s) failed to load: {names}. {errored[0].label}: {detail}")
        self._full_load_done = True
        if not cdc:
            return
        self._apply_changes(leaves)

    def _set_status(self, status: str) -> None:
        with self._lock:
            if self._status == "starting":
                self._status = status

    # ------------------------------------------------------------------ planning
    def _check_cdc_prerequisites(self, conn: psycopg.Connection) -> None:
        (wal_level,) = conn.execute("SHOW wal_level").fetchone()
        if wal_level != "logical":
            raise _EndpointError(f"Change data capture needs wal_level=logical on the source {_where(self.source_url)}"
                                 f" (it is {wal_level})")
        user, can = conn.execute("SELECT current_user, rolreplication OR rolsuper FROM pg_roles "
                                 "WHERE rolname = current_user").fetchone()
        if not can:
            raise _EndpointError(f"Change data capture needs the REPLICATION attribute: the source endpoint user "
                                 f"{user!r} on {_where(self.source_url)} does not have it")

    def _plan(self, conn: psycopg.Connection, rules: list[_Rule]) -> dict[int, _Leaf]:
        rels = {row[0]: row for row in conn.execute(_TABLES_SQL).fetchall()}
        parents = dict(conn.execute("SELECT inhrelid, inhparent FROM pg_inherits").fetchall())
        chosen = set()
        names = {(row[1], row[2]): oid for oid, row in rels.items()}
        for schema, name in select_tables(rules, list(names)):
            chosen.add(names[(schema, name)])
        if not chosen:
            raise _TaskFailed("No tables were found at task initialization. Either the selected table(s) or "
                              "schema(s) no longer exist or no table(s) or schema(s) were selected in the table mapping.")
        tables = {oid: _Table(oid, rels[oid][1], rels[oid][2], rels[oid][3]) for oid in sorted(
            chosen, key=lambda o: (rels[o][1], rels[o][2]))}
        leaves: dict[int, _Leaf] = {}
        # Each heap relation's rows belong to the nearest selected table among itself and its ancestors
        # (partitions only: plain inheritance children are tables of their own, read with ONLY).
        for oid, row in rels.items():
            if row[3] != "r":
                continue
            owner, cur = None, oid
            while cur is not None:
                if cur in chosen:
                    owner = cur
                    break
                if not rels.get(cur, (None,) * 8)[7]:   # not a partition: stop climbing
                    break
                cur = parents.get(cur)
            if owner is None:
                continue
            _, schema, name, _, replident, has_pk, has_ri, _ = row
            identity = replident == "f" or (replident == "d" and has_pk) or (replident == "i" and has_ri)
            leaves[oid] = _Leaf(oid, schema, name, identity, owner)
            tables[owner].leaves.append(oid)
        for t in tables.values():
            if t.relkind == "p":
                t.all_leaves = all(leaves.get(oid) is not None and leaves[oid].owner == t.oid
                                   for oid in _descendant_leaves(t.oid, parents, rels))
            t.columns = [_Column(*r) for r in conn.execute(_COLUMNS_SQL, (t.oid,)).fetchall()]
            t.primary_key = [r[0] for r in conn.execute(_PK_SQL, (t.oid,)).fetchall()]
            pl = self._parallel.get((t.schema, t.name))
            if pl is not None:
                by_name = {c.name: c for c in t.columns}
                missing = [c for c in pl.columns if c not in by_name]
                if missing:
                    raise TableMappingError(f"parallel-load ranges of {t.label}: no column {', '.join(missing)}")
                bad = [f"{c} ({by_name[c].type})" for c in pl.columns if not rangeable(by_name[c].type)]
                if bad:
                    raise TableMappingError(f"parallel-load ranges of {t.label}: DMS cannot range on "
                                            f"{', '.join(bad)} (DOUBLE, FLOAT, BLOB, CLOB, NCLOB)")
                t.segments = _segments([by_name[c] for c in pl.columns], pl.boundaries)
        self._leaf_names = {oid: (leaf.schema, leaf.name) for oid, leaf in leaves.items()}
        self._fk_edges = conn.execute(
            "SELECT conrelid, confrelid FROM pg_constraint WHERE contype = 'f'").fetchall()
        self._parents = parents
        with self._lock:
            self._tables = list(tables.values())
        return leaves

    # ------------------------------------------------------------------ CDC set-up on the source
    def _create_publications(self, conn: psycopg.Connection, leaves: dict[int, _Leaf]) -> None:
        full = [lf for lf in leaves.values() if lf.identity]
        inserts_only = [lf for lf in leaves.values() if not lf.identity]
        for group, suffix, publish in ((full, "", "insert, update, delete, truncate"),
                                       (inserts_only, "_ins", "insert, truncate")):
            if not group:
                continue
            name = f"{self.slot_name}{suffix}"
            try:
                conn.execute(sql.SQL("CREATE PUBLICATION {} FOR TABLE {} WITH (publish = {})").format(
                    sql.Identifier(name), sql.SQL(", ").join(_qname(lf.schema, lf.name) for lf in group),
                    sql.Literal(publish)))
            except psycopg.Error as exc:
                raise _EndpointError(f"Cannot create the publication for change data capture on the source "
                                     f"{_where(self.source_url)}: {_scrub(str(exc), self.source_url)}") from None
            self.publications.append(name)
        if inserts_only:
            self.warnings.append("tables without a primary key: UPDATE and DELETE are not captured (as DMS): "
                                 + ", ".join(f"{lf.schema}.{lf.name}" for lf in inserts_only))

    def _create_slot(self, export: bool) -> tuple[psycopg.Connection | None, str | None]:
        """The logical slot; with ``export`` its snapshot, valid while the returned connection stays idle."""
        if not export:
            with self._connect(self.source_url, "creating the replication slot", register=False,
                               autocommit=True) as conn:
                try:
                    conn.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (self.slot_name,))
                except psycopg.Error as exc:
                    raise _EndpointError(f"Cannot create the replication slot on the source {_where(self.source_url)}"
                                         f": {_scrub(str(exc), self.source_url)}") from None
            self._slot_created = True
            return None, None
        rconn = self._connect(self.source_url, "creating the replication slot", autocommit=True,
                              replication="database")
        res = rconn.pgconn.exec_(f"CREATE_REPLICATION_SLOT {self.slot_name} LOGICAL pgoutput EXPORT_SNAPSHOT".encode())
        if res.status != psycopg.pq.ExecStatus.TUPLES_OK:
            message = (res.error_message or b"").decode(errors="replace")
            self._close(rconn)
            raise _EndpointError(f"Cannot create the replication slot on the source {_where(self.source_url)}: "
                                 f"{_scrub(message, self.source_url)}")
        self._slot_created = True
        fields = {res.fname(i).decode(): (res.get_value(0, i) or b"").decode() for i in range(res.nfields)}
        self._synced_to = _lsn(fields["consistent_point"])
        return rconn, fields["snapshot_name"]

    def _cleanup_source(self) -> None:
        with self._lock:
            if not self._slot_created and not self.publications:
                return
            slot_created, pubs = self._slot_created, list(self.publications)
            self._slot_created, self.publications = False, []
        try:
            with self._connect(self.source_url, "dropping the replication slot", register=False,
                               autocommit=True) as conn:
                # The write freeze makes the source read-only by default (ALTER DATABASE … SET
                # default_transaction_read_only); DMS's own clean-up is not the app's write: this session opts out.
                conn.execute("SET default_transaction_read_only = off")
                if slot_created:
                    for attempt in range(50):
                        try:
                            conn.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                                         "WHERE slot_name = %s", (self.slot_name,))
                            break
                        except psycopg.errors.ObjectInUse:
                            if attempt == 49:
                                raise
                            time.sleep(0.1)
                for name in pubs:
                    conn.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(name)))
        except Exception as exc:  # noqa: BLE001 - report, never raise from stop()
            self.warnings.append(f"cleanup on the source failed: {_scrub(str(exc), self.source_url)}")

    # ------------------------------------------------------------------ full load
    def _full_load(self, snapshot: str, leaves: dict[int, _Leaf]) -> None:
        with self._lock:
            self._full_load_start = _now()
        # Row counts in the snapshot: progress is by rows, as DMS reports it.
        src = self._open_source(snapshot)
        try:
            for t in self._tables:
                self._check_stop()
                (n,) = src.execute(sql.SQL("SELECT count(*) FROM ({}) s").format(
                    t.select_sql(self._leaf_names))).fetchone()
                t.expected_rows = int(n)
        finally:
            self._close(src)
        parallel = self._prepare_target()
        order = self._load_order(parallel)
        # The load units: a table, or each of its parallel-load segments (MaxFullLoadSubTasks counts these).
        queue: list[tuple[_Table, int, sql.Composable | None]] = []
        for t in order:
            units: list[sql.Composable | None] = list(t.segments) or [None]
            t.units_left = len(units)
            queue += [(t, i, where) for i, where in enumerate(units)]
        if parallel:
            queue.sort(key=lambda u: -u[0].expected_rows / max(1, len(u[0].segments)))
        qlock = threading.Lock()
        workers = max(1, min(self.max_parallel if parallel else 1, len(queue)))
        self.subtasks_used = workers
        errors: list[BaseException] = []

        def work() -> None:
            src_conn: psycopg.Connection | None = None
            tgt_conn: psycopg.Connection | None = None
            try:
                while True:
                    with qlock:
                        if not queue:
                            return
                        t, index, where = queue.pop(0)
                    self._check_stop()
                    if t.state == TABLE_ERROR:
                        continue  # another segment of this table failed
                    try:
                        if src_conn is None:
                            src_conn = self._open_source(snapshot)
                        if tgt_conn is None:
                            tgt_conn = self._open_target()
                        self._load_table(t, src_conn, tgt_conn, index, where)
                    except _Stopped:
                        raise
                    except Exception as exc:  # noqa: BLE001 - a table error, the others go on
                        if self._stop.is_set():
                            raise _Stopped() from None
                        message = _scrub(str(exc), self.source_url)
                        message = _scrub(message, self.target_url)
                        log.warning("DMS task %s: table %s failed: %s", self.task_id, t.label, message)
                        with self._lock:
                            t.state, t.error, t.full_load_end = TABLE_ERROR, message, _now()
                            t.error_rows = t.loaded_rows
                            t.full_load_rows = 0
                        # The connections may be mid-COPY: start afresh for the next table.
                        self._close(src_conn)
                        self._close(tgt_conn)
                        src_conn = tgt_conn = None
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                self._close(src_conn)
                self._close(tgt_conn)

        threads = [threading.Thread(target=work, name=f"dms-{self.task_id}-load-{i}", daemon=True)
                   for i in range(workers)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        if self._stop.is_set():
            raise _Stopped()
        if errors:
            raise errors[0]
        with self._lock:
            self._full_load_finish = _now()

    def _open_source(self, snapshot: str) -> psycopg.Connection:
        conn = self._connect(self.source_url, "full load")
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
        return conn

    def _open_target(self) -> psycopg.Connection:
        conn = self._connect(self.target_url, "full load")
        # Like DMS on a PostgreSQL target: no triggers / foreign-key checks while loading, when allowed.
        try:
            conn.execute("SET session_replication_role = replica")
            conn.commit()
        except psycopg.Error:
            conn.rollback()
        return conn

    def _prepare_target(self) -> bool:
        """Prepare the target per TargetTablePrepMode; True when tables may load in parallel."""
        conn = self._connect(self.target_url, "preparing the target")
        try:
            if self.target_prep_mode == "DROP_AND_CREATE":
                for t in self._tables:
                    self._check_stop()
                    self._drop_and_create(conn, t)
            elif self.target_prep_mode == "TRUNCATE_BEFORE_LOAD":
                present = [t for t in self._tables
                           if conn.execute("SELECT to_regclass(%s)", (_quoted(t),)).fetchone()[0] is not None]
                if present:
                    conn.execute(sql.SQL("TRUNCATE {}").format(
                        sql.SQL(", ").join(_qname(t.schema, t.name) for t in present)))
                    conn.commit()
            try:
                conn.execute("SET session_replication_role = replica")
                parallel = True
            except psycopg.Error:
                parallel = False
            conn.rollback()
        finally:
            self._close(conn)
        return parallel

    def _drop_and_create(self, conn: psycopg.Connection, t: _Table) -> None:
        cols = []
        for c in t.columns:
            type_ = c.type
            if c.user_type and conn.execute("SELECT to_regtype(%s)", (c.type,)).fetchone()[0] is None:
                type_ = "text[]" if c.type.endswith("[]") else "text"   # DMS maps unknown types to strings
            cols.append(sql.SQL("{} {}{}").format(sql.Identifier(c.name), sql.SQL(type_),
                                                 sql.SQL(" NOT NULL") if c.not_null else sql.SQL("")))
        if t.primary_key:
            cols.append(sql.SQL("PRIMARY KEY ({})").format(sql.SQL(", ").join(map(sql.Identifier, t.primary_key))))
        try:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(t.schema)))
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(_qname(t.schema, t.name)))
            conn.execute(sql.SQL("CREATE TABLE {} ({})").format(_qname(t.schema, t.name), sql.SQL(", ").join(cols)))
            conn.commit()
        except psycopg.Error as exc:
            conn.rollback()
            with self._lock:
                t.state, t.error = TABLE_ERROR, f"cannot create the table on the target: {exc}".strip()

    def _load_order(self, parallel: bool) -> list[_Table]:
        todo = [t for t in self._tables if t.state == BEFORE_LOAD]
        if parallel:
            return sorted(todo, key=lambda t: -t.expected_rows)
        # One at a time, referenced tables first, for targets that keep checking foreign keys.
        owner = {}
        for t in todo:
            owner[t.oid] = t.oid
            for leaf in t.leaves:
                owner[leaf] = t.oid
        deps: dict[int, set[int]] = {t.oid: set() for t in todo}
        for child, parent in self._fk_edges:
            a, b = owner.get(child), owner.get(parent)
            if a is not None and b is not None and a != b:
                deps[a].add(b)
        ordered, done = [], set()
        by_oid = {t.oid: t for t in todo}
        while by_oid:
            ready = [o for o in by_oid if deps[o] <= done] or [next(iter(by_oid))]   # cycles: any order
            for o in ready:
                ordered.append(by_oid.pop(o))
                done.add(o)
        return ordered

    def _load_table(self, t: _Table, src: psycopg.Connection, tgt: psycopg.Connection, index: int = 0,
                    where: sql.Composable | None = None) -> None:
        """One load unit: the whole table, or its parallel-load segment ``index`` (rows matching ``where``)."""
        if tgt.execute("SELECT to_regclass(%s)", (_quoted(t),)).fetchone()[0] is None:
            tgt.rollback()
            raise _TableError(f"Table {t.label} does not exist on the target (TargetTablePrepMode "
                              f"{self.target_prep_mode})")
        with self._lock:
            if t.state == BEFORE_LOAD:
                t.state, t.full_load_start, t.loaded_rows = FULL_LOAD_STATE, _now(), 0
        cols = sql.SQL(", ").join(sql.Identifier(c.name) for c in t.columns)
        src.execute("SAVEPOINT dms_table")
        rows = 0
        if self.lob_limit and index == 0:
            self._count_truncations(t, src)
        with (src.cursor().copy(sql.SQL("COPY ({}) TO STDOUT").format(t.select_sql(self._leaf_names,
                                                                                    self.lob_limit, where))) as cin,
              tgt.cursor().copy(sql.SQL("COPY {} ({}) FROM STDIN").format(_qname(t.schema, t.name), cols)) as cout):
            buf = bytearray()
            for chunk in cin:
                buf += chunk
                if len(buf) >= COPY_FLUSH_BYTES:
                    self._check_stop()
                    n = buf.count(b"\n")
                    rows += n
                    cout.write(bytes(buf))
                    buf.clear()
                    with self._lock:
                        t.loaded_rows += n
            if buf:
                n = buf.count(b"\n")
                rows += n
                cout.write(bytes(buf))
                with self._lock:
                    t.loaded_rows += n
        tgt.commit()
        src.execute("RELEASE SAVEPOINT dms_table")
        with self._lock:
            t.full_load_rows += rows
            t.units_left -= 1
            if t.units_left <= 0 and t.state == FULL_LOAD_STATE:
                t.loaded_rows = t.full_load_rows
                t.expected_rows = max(t.expected_rows, t.full_load_rows)
                t.state, t.full_load_end, t.last_update = COMPLETED, _now(), _now()
        what = f"segment {index + 1} of {len(t.segments)}" if t.segments else "table"
        log.info("DMS task %s: %s %s loaded, %d rows", self.task_id, t.label, what, rows)

    def _count_truncations(self, t: _Table, src: psycopg.Connection) -> None:
        """DMS's log warning for each LOB it truncates (one line per column here)."""
        limit = self.lob_limit or 0
        checks = [(c.name, sql.SQL("count(*) FILTER (WHERE pg_catalog.octet_length({}) > {})").format(
                      sql.Identifier(c.name), sql.Literal(limit)) if lob_kind(c.type) == "blob" else
                   sql.SQL("count(*) FILTER (WHERE pg_catalog.length(({})::text) > {})").format(
                      sql.Identifier(c.name), sql.Literal(limit // 2)))
                  for c in t.columns if lob_kind(c.type)]
        if not checks:
            return
        inner = t.select_sql(self._leaf_names)
        row = src.execute(sql.SQL("SELECT {} FROM ({}) q").format(sql.SQL(", ").join(q for _, q in checks),
                                                                   inner)).fetchone()
        for (name, _), n in zip(checks, row or (), strict=False):
            if n:
                self.warnings.append(f"table {t.label}: {n} LOB value(s) of column {name} truncated to "
                                     f"{limit // 1024} KB (limited LOB mode)")

    # ------------------------------------------------------------------ change data capture
    def _apply_changes(self, leaves: dict[int, _Leaf]) -> None:
        owners = {(lf.schema, lf.name): lf.owner for lf in leaves.values()}
        by_oid = {t.oid: t for t in self._tables}
        if self.migration_type == CDC:
            with self._lock:
                for t in self._tables:
                    t.state = COMPLETED
        relations: dict[int, _Relation] = {}
        targets: dict[int, dict[str, tuple[str, bool]]] = {}   # table oid -> column -> (type, identity always)
        src = self._connect(self.source_url, "change data capture", autocommit=True)
        tgt = self._open_target()
        publications = ",".join(self.publications)
        (confirmed,) = src.execute("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s",
                                   (self.slot_name,)).fetchone()
        advanced_to = _lsn(confirmed) if confirmed else 0
        with self._lock:
            self._cdc_active = True
        try:
            while not self._stop.is_set():
                (flush,) = src.execute("SELECT pg_current_wal_flush_lsn()::text").fetchone()
                upto = _lsn(flush)
                rows = src.execute(
                    "SELECT lsn::text, data FROM pg_logical_slot_peek_binary_changes(%s, %s::pg_lsn, %s, "
                    "'proto_version', '1', 'publication_names', %s)",
                    (self.slot_name, flush, CDC_BATCH_CHANGES, publications)).fetchall()
                complete = len(rows) < CDC_BATCH_CHANGES
                txns = [x for x in _decode(rows, relations) if x.end_lsn > self._applied_end]
                if txns:
                    try:
                        pending: list[psycopg.Cursor] = []   # UPDATE / DELETE cursors, checked after the sync
                        with tgt.pipeline():
                            for txn in txns:
                                for change in txn.changes:
                                    cur = self._apply(tgt, change, relations, owners, by_oid, targets)
                                    if cur is not None:
                                        pending.append(cur)
                        tgt.commit()
                        self.apply_misses += sum(1 for cur in pending if cur.rowcount == 0)
                    except (psycopg.Error, _TableError) as exc:
                        if self._stop.is_set():
                            break
                        raise _TaskFailed("Applying captured changes to the target failed: "
                                          f"{_scrub(str(exc), self.target_url)}") from None
                    self._applied_end = txns[-1].end_lsn
                # Past everything applied (the slot refuses to move backwards: only ever forwards).
                advance = upto if complete else self._applied_end
                if advance > advanced_to:
                    src.execute("SELECT pg_replication_slot_advance(%s, %s::pg_lsn)",
                                (self.slot_name, _lsn_text(advance)))
                    advanced_to = advance
                if complete:
                    self._synced_to = max(self._synced_to, upto)
                if complete and not txns:
                    self._stop.wait(CDC_POLL_S)
        finally:
            self._close(src)
            self._close(tgt)
        raise _Stopped()

    def _target_columns(self, tgt: psycopg.Connection, t: _Table,
                        cache: dict[int, dict[str, tuple[str, bool]]]) -> dict[str, tuple[str, bool]]:
        if t.oid not in cache:
            rows = tgt.execute(_TARGET_COLUMNS_SQL, (_quoted(t),)).fetchall()
            cache[t.oid] = {name: (type_, always) for name, type_, always in rows}
        return cache[t.oid]

    def _apply(self, tgt: psycopg.Connection, change: _Change, relations: dict[int, _Relation],
               owners: dict[tuple[str, str], int], by_oid: dict[int, _Table],
               cache: dict[int, dict[str, tuple[str, bool]]]) -> psycopg.Cursor | None:
        """Send one captured change to the target; returns the cursor of an UPDATE / DELETE."""
        now = _now()
        if change.op == "T":
            for relid in change.relids or []:
                rel = relations[relid]
                owner = owners.get((rel.schema, rel.name))
                if owner is None:
                    continue
                t = by_oid[owner]
                if t.relkind == "r":
                    tgt.execute(sql.SQL("TRUNCATE {}").format(_qname(t.schema, t.name)))
                else:
                    self.warnings.append(f"TRUNCATE of partition {rel.schema}.{rel.name} not applied to {t.label}")
            return None
        rel = relations[change.relid]
        owner = owners.get((rel.schema, rel.name))
        if owner is None:
            return None
        t = by_oid[owner]
        cols = self._target_columns(tgt, t, cache)
        for name in rel.columns:
            if name not in cols:
                raise _TableError(f"column {name!r} of {t.label} does not exist on the target")
        cur: psycopg.Cursor | None = None
        if self.lob_limit and change.op in ("I", "U"):
            for name, v in zip(rel.columns, change.new or [], strict=True):
                if v is not UNCHANGED and _lob_cut(v, cols[name][0], self.lob_limit):
                    self.warnings.append(f"table {t.label}: a LOB value of column {name} truncated to "
                                         f"{self.lob_limit // 1024} KB (limited LOB mode, change capture)")
        if change.op == "I":
            names = tuple(n for n, v in zip(rel.columns, change.new or [], strict=True) if v is not UNCHANGED)
            values = [v for v in change.new or [] if v is not UNCHANGED]
            tgt.execute(self._statement(t, cols, "I", names, ()), values)
            counters = ("inserts", "applied_inserts")
        else:
            wnames, wvalues = self._where(rel, change)
            if change.op == "U":
                key_changed = change.old is not None
                sets = [(n, v) for n, v, k in zip(rel.columns, change.new or [], rel.key, strict=True)
                        if v is not UNCHANGED and (key_changed or not k)]
                if sets:
                    cur = tgt.execute(self._statement(t, cols, "U", tuple(n for n, _ in sets), wnames),
                                      [v for _, v in sets] + wvalues)
                counters = ("updates", "applied_updates")
            else:
                cur = tgt.execute(self._statement(t, cols, "D", (), wnames), wvalues)
                counters = ("deletes", "applied_deletes")
        with self._lock:
            for counter in counters:
                setattr(t, counter, getattr(t, counter) + 1)
            t.last_update = now
        return cur

    def _statement(self, t: _Table, cols: dict[str, tuple[str, bool]], op: str, names: tuple[str, ...],
                   where: tuple[tuple[str, bool], ...]) -> str:
        """INSERT / UPDATE / DELETE for a table and a column signature (cached: CDC sends many alike)."""
        key = (t.oid, op, names, where)
        cached = self._statements.get(key)
        if cached is not None:
            return cached
        target = _qname(t.schema, t.name)

        def typed(name: str) -> sql.Composable:
            return sql.SQL("%s::{}").format(sql.SQL(cols[name][0]))

        def value(name: str) -> sql.Composable:  # what is written: a LOB as the task's LOB mode keeps it
            return _lob_value(typed(name), cols[name][0], self.lob_limit)

        if op == "I":
            overriding = sql.SQL(" OVERRIDING SYSTEM VALUE") if any(cols[n][1] for n in names) else sql.SQL("")
            stmt = sql.SQL("INSERT INTO {} ({}){} VALUES ({})").format(
                target, sql.SQL(", ").join(map(sql.Identifier, names)), overriding,
                sql.SQL(", ").join(value(n) for n in names))
        else:
            # "=" (indexable) for values, IS NULL for NULLs (only possible with REPLICA IDENTITY FULL).
            parts = [sql.SQL("{} IS NULL").format(sql.Identifier(n)) if is_null
                     else sql.SQL("{}::text = %s").format(sql.Identifier(n)) if _no_equality(cols[n][0])
                     else sql.SQL("{} = ").format(sql.Identifier(n)) + typed(n) for n, is_null in where[1:]]
            cond = sql.SQL(" AND ").join(parts) if parts else sql.SQL("false")
            if where and where[0][1]:   # full-row identity: touch one matching row only
                cond = sql.SQL("ctid = (SELECT ctid FROM {} WHERE {} LIMIT 1)").format(target, cond)
            if op == "U":
                stmt = sql.SQL("UPDATE {} SET {} WHERE {}").format(
                    target, sql.SQL(", ").join(sql.SQL("{} = ").format(sql.Identifier(n)) + value(n) for n in names),
                    cond)
            else:
                stmt = sql.SQL("DELETE FROM {} WHERE {}").format(target, cond)
        self._statements[key] = text = stmt.as_string()
        return text

    @staticmethod
    def _where(rel: _Relation, change: _Change) -> tuple[tuple[tuple[str, bool], ...], list[Any]]:
        """The row an UPDATE/DELETE touches: its (old) key, or every old column for REPLICA IDENTITY FULL.

        Returns the WHERE signature (first element: ("", full-row identity?), then (column, is NULL)
        pairs) and the non-NULL values in order.
        """
        old = change.old
        full_row = rel.full_identity
        if full_row:
            pairs = [(n, v) for n, v in zip(rel.columns, old or change.new or [], strict=True) if v is not UNCHANGED]
        else:
            source = old if old is not None else change.new or []
            pairs = [(n, v) for n, v, k in zip(rel.columns, source, rel.key, strict=True) if k]
        signature = (("", full_row), *((n, v is None) for n, v in pairs))
        return signature, [v for _, v in pairs if v is not None]


_NO_EQUALITY = ("json", "xml", "point", "lseg", "box", "path", "polygon", "circle", "line")


def _no_equality(type_: str) -> bool:
    """Types without an equality operator (REPLICA IDENTITY FULL rows are matched on their text)."""
    return type_.removesuffix("[]") in _NO_EQUALITY


def _quoted(t: _Table) -> str:
    return sql.SQL("{}.{}").format(sql.Identifier(t.schema), sql.Identifier(t.name)).as_string(None)


def _descendant_leaves(oid: int, parents: dict[int, int], rels: dict[int, tuple]) -> list[int]:
    children: dict[int, list[int]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    out, stack = [], [oid]
    while stack:
        cur = stack.pop()
        for child in children.get(cur, []):
            if child in rels and rels[child][7]:
                if rels[child][3] == "r":
                    out.append(child)
                stack.append(child)
    return out


class _EndpointError(Exception):
    """An endpoint refused or failed (connection, privileges): the task fails."""


class _TaskFailed(_EndpointError):
    """The task cannot go on (table errors, nothing selected)."""


class _TableError(Exception):
    """One table cannot be loaded."""


@atexit.register
def _stop_all() -> None:
    """Never leave a replication slot behind on a source (it would hold WAL forever)."""
    for run in list(_LIVE):
        with contextlib.suppress(Exception):
            run.stop(timeout=5)
