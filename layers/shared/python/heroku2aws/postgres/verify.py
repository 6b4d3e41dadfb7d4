"""Parity verification: are two PostgreSQL databases the same, table by table?

For every application table on either side we compute, on both servers at once (one connection
and one thread per side, each inside one REPEATABLE READ READ ONLY transaction), the row count
and an order-independent content checksum. Only a few numbers per table cross the network.

The checksum
    Per table: ``count(*)`` and the exact sum of a 64-bit hash of every row (``sum(bigint)`` is
    exact: no wrap-around). A sum, unlike XOR, treats the table as a multiset: of two identical
    rows, deleting one shows.

    *binary* mode (both servers PostgreSQL 14 or later: the normal case) never prints a value.
    A row's hash is the XOR of one hash per column, each seeded by the column's position (so equal
    values in two columns do not cancel, and XOR-then-sum is not linear: two rows swapping a
    value changes the sum). Per column, by base type (domains are reduced to their base type):
      - int2, int4, oid, bool, "char", uuid, float4/8: PostgreSQL's own extended hash (lossless,
        except that float -0 = +0 and all NaNs hash alike, as they compare equal);
      - int8: its hash folds 64 bits into 32, so its high half is hashed as well (lossless);
      - text, varchar, char(n), name: the bytes (``COLLATE "C"``: no locale involved);
      - numeric: the value's hash (1.5 = 1.50) and its scale (lossless); NaN, Infinity and -Infinity (which
        share one value hash and have no scale) by their text;
      - char(n): ``hashbpcharextended`` (trailing blanks insignificant, as for char(n) equality);
      - xml: the text ``xml_out`` prints (what COPY and pg_dump write), in which a declaration that says no
        more than the defaults is left out: a value that went through pg_dump lost it, and is the same document;
      - jsonb: ``jsonb_hash_extended``, i.e. jsonb equality (keys are canonical already; a
        number inside a document is compared by value: 1.0 = 1);
      - timestamp(tz), time(tz), interval, money, inet, cidr, macaddr: the hash of their exact
        binary *send* form (a timestamptz is its UTC microseconds: no time zone involved);
        bytea and date likewise through a one-field record (lossless);
      - arrays of int2, int4, text, varchar, bool, uuid, date, bytea...: ``hash_array_extended``
        (the elements' lossless hashes, in order) and the dimensions and bounds (``array_dims``);
        arrays of other built-in types: the hash of ``array_send`` (dimensions, bounds, elements);
      - everything else (enums, json, tsvector, composite and range types, extension types such
        as citext or hstore, arrays of those): the hash of the value's text.
    NULL hashes to a constant of its own per column.

    *text* mode (either server older than 14): ``hashtextextended(ROW(...)::text)`` per row.

    Text forms depend on session settings, so every session pins them (TimeZone=UTC,
    DateStyle=ISO, IntervalStyle=postgres, extra_float_digits=3, bytea_output=hex,
    client_encoding=UTF8, lc_monetary=C, search_path=pg_catalog, ...: ``common.SESSION_SETTINGS``).
    Columns are taken by name, in the source's order: a different physical column order does not
    matter; a column on one side only, or of another type, makes the table a mismatch.

Cost
    Hashing a value is much cheaper than printing it, so verifying both sides takes less server
    CPU than one ``pg_dump`` of one side (``bench/pg_verify.py`` measures it).

Locating differences
    The first pass compares whole tables: one sequential scan per table and side, no grouping.
    Only tables that differ get a second pass, grouped by chunks of the primary key's range (about
    ``chunk_rows`` rows each): a single integer key is cut in equal arithmetic ranges; any other key
    (uuid, text, composite) in ranges of its text form (C collation), boundaries sampled from the
    source. Each differing chunk is reported as ``lower <= key < upper`` (``None``: unbounded). A
    table without a primary key is compared whole: its one range is unbounded both ways.

What counts as a table
    Ordinary tables (``relkind = 'r'``, including the leaf partitions of partitioned tables) and materialized
    views (their stored rows; one not populated on one side only is a difference), read
    with ``FROM ONLY``: each row is counted once, in the table that stores it. Names are shown with each part
    double-quoted when it needs it (``a."b.c"`` is not ``"a.b".c``). Small tables are checksummed many to a
    query. Partitioned parents
    hold no rows and are not listed; neither are internal schemas (``common.INTERNAL_SCHEMAS``),
    tables owned by extensions, temporary tables, nor AWS DMS's ``awsdms_*`` control tables.

Large objects and database settings
    Compared too (unless only some ``tables`` are asked for): every large object's OID and content
    (``lo_get``), and the database's own settings (``ALTER DATABASE ... SET``: time zone, statement timeout,
    search path... change what the app's queries mean). ``VerifyResult.differences`` names every difference.

Sequences
    Compared too (``sequences=True``): a target sequence that would hand out a value the source
    already handed out is a mismatch. One that is *ahead* matches, as sequence sync never lowers
    one -- unless ``exact_sequences=True``. Run the sequence sync before verifying a DMS copy.

Usage (from a Lambda function, the ECS task, or ``heroku2aws pg-verify``)::

    from heroku2aws.postgres.verify import verify
    result = verify(source_url, target_url)   # -> VerifyResult (pydantic); result.match
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import psycopg
from psycopg import sql
from pydantic import BaseModel

from heroku2aws.postgres.common import (
    DATABASE_SETTINGS,
    DatabaseError,
    StructuredLog,
    connect,
    internal_schema_filter,
    resolve_url,
    unambiguous,
)
from heroku2aws.postgres.sequences import SequenceState, is_behind, read_sequences
from heroku2aws.redaction import scrub

log = StructuredLog("postgres.verify")

Mode = Literal["auto", "binary", "text"]
TableKind = Literal["table", "materialized view"]
Progress = Callable[[str], None]

# ----------------------------------------------------------------------------- result models


class RangeMismatch(BaseModel):
    """One chunk that differs: ``lower <= key < upper`` (``None``: unbounded on that side)."""

    key: list[str]
    lower: int | str | None
    upper: int | str | None
    rows_source: int
    rows_target: int


class TableResult(BaseModel):
    name: str  # schema.table, each part double-quoted when it needs it (a."b.c" is not "a.b".c)
    kind: Literal["table", "materialized view"] = "table"
    rows_source: int | None
    rows_target: int | None
    match: bool
    mismatched_ranges: list[RangeMismatch] = []
    mismatched_range_count: int = 0  # all of them; the list above is capped at MAX_RANGES_REPORTED
    key: list[str] = []
    note: str | None = None


class SequenceValue(BaseModel):
    last_value: int
    is_called: bool


class SequenceResult(BaseModel):
    name: str
    source: SequenceValue | None
    target: SequenceValue | None
    match: bool
    note: str | None = None


class LargeObjectsResult(BaseModel):
    """Large objects (``pg_largeobject``): how many on each side, and whether their OIDs and contents agree."""

    count_source: int | None
    count_target: int | None
    match: bool
    note: str | None = None


class SettingResult(BaseModel):
    """One database-level setting (``ALTER DATABASE ... SET name = value``, for every role)."""

    name: str
    source: str | None
    target: str | None
    match: bool


class VerifyResult(BaseModel):
    match: bool
    tables: list[TableResult]
    rows: int  # sum over tables of max(rows_source, rows_target): the rows checked on each side
    seconds: float
    sequences: list[SequenceResult] = []
    mode: Literal["binary", "text"] = "binary"
    large_objects: LargeObjectsResult | None = None
    database_settings: list[SettingResult] = []

    @property
    def mismatched_tables(self) -> list[TableResult]:
        return [t for t in self.tables if not t.match]

    @property
    def differences(self) -> list[str]:
        """Every difference, named: tables, sequences, large objects, database settings."""
        out = [t.name for t in self.tables if not t.match] + [q.name for q in self.sequences if not q.match]
        if self.large_objects is not None and not self.large_objects.match:
            out.append("large objects")
        out += [f"database setting {d.name}" for d in self.database_settings if not d.match]
        return out


MAX_RANGES_REPORTED = 50
SMALL_TABLE_BYTES = 1 << 20  # on disk (heap only): compared in batches
SMALL_TABLE_BATCH = 200

# ----------------------------------------------------------------------------- type rules

# Per base type: the SQL template of a column's 64-bit hash ({c}: the column, {s}: a seed unique to
# the column, {s2}: a second one). Each hash is lossless for its type unless noted in the docstring.
_DIRECT: dict[int, str] = {
    16: "pg_catalog.hashint4extended(({c})::int4, {s})",  # bool
    18: "pg_catalog.hashcharextended({c}, {s})",  # "char"
    21: "pg_catalog.hashint2extended({c}, {s})",
    23: "pg_catalog.hashint4extended({c}, {s})",
    26: "pg_catalog.hashoidextended({c}, {s})",
    # hashint8extended folds the two halves into 32 bits: hash the high half as well.
    20: "pg_catalog.hashint8extended({c}, {s}) # pg_catalog.hashint4extended(({c} >> 32)::int4, {s2})",
    2950: "pg_catalog.uuid_hash_extended({c}, {s})",
    25: 'pg_catalog.hashtextextended(({c})::text COLLATE "C", {s})',
    1043: 'pg_catalog.hashtextextended(({c})::text COLLATE "C", {s})',
    # char(n): its own hash (trailing blanks are insignificant to char(n), as to its equality): no text cast.
    1042: 'pg_catalog.hashbpcharextended(({c}) COLLATE "C", {s})',
    # xml: the text pg_dump and COPY print (xml_out), not the stored text: xml_out leaves out an XML
    # declaration that says no more than the defaults (version 1.0, no standalone; the encoding is the
    # client's), so a value read back from a dump lost it. Same document, same hash. PostgreSQL docs 8.13.2
    # "Encoding Handling" and 8.13 ("xmloption"): the declaration is not kept as part of the value's meaning.
    142: 'pg_catalog.hashtextextended(pg_catalog.textin(pg_catalog.xml_out({c})) COLLATE "C", {s})',
    19: 'pg_catalog.hashtextextended(({c})::text COLLATE "C", {s})',
    700: "pg_catalog.hashfloat4extended({c}, {s})",
    701: "pg_catalog.hashfloat8extended({c}, {s})",
    3802: "pg_catalog.jsonb_hash_extended({c}, {s})",
    # bytea and date hash losslessly but have no SQL-callable hash function: through a one-field record.
    17: "pg_catalog.hash_record_extended(ROW({c}), {s})",
    1082: "pg_catalog.hash_record_extended(ROW({c}), {s})",
}
# numeric: its value hash ignores the scale (1.5 = 1.50), so the scale is hashed as well. NaN, Infinity and
# -Infinity all hash to the seed and have no scale (NULL): for them (only) the text is hashed instead of the scale.
_NUMERIC = 1700
_NUMERIC_TEMPLATE = ("COALESCE(pg_catalog.hash_numeric_extended({c}, {s}), {n}) "
                     "# COALESCE(pg_catalog.hashint4extended(pg_catalog.scale({c}), {s2}), "
                     "pg_catalog.hashtextextended(({c})::text, {s2}), {n2})")
# Arrays of these hash element by element with the elements' own lossless hashes (plus the array's
# dimensions and bounds, which the element hashes ignore); other built-in arrays through array_send.
_TEXTLIKE = {19, 25, 1042, 1043}
_ARRAY_NATIVE_ELEMENTS = {16, 17, 18, 21, 23, 26, 1082, 2950} | _TEXTLIKE
# Their hash functions fold or normalise (timestamps fold 64 bits into 32; '1 day' = '24 hours'):
# hash their exact binary send form instead.
_SEND = {
    1114: "timestamp_send", 1184: "timestamptz_send", 1083: "time_send", 1266: "timetz_send",
    1186: "interval_send", 790: "cash_send", 869: "inet_send", 650: "cidr_send",
    829: "macaddr_send", 774: "macaddr8_send",
}
_INTEGER = {20, 21, 23}


def _seed(index: int, which: int) -> int:
    """A fixed pseudo-random signed 64-bit constant per (column position, purpose): splitmix64."""
    x = ((index + 1) * 0x9E3779B97F4A7C15 + which * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    x ^= x >> 31
    return x - (1 << 64) if x >= 1 << 63 else x

# reg* types print names and send OIDs (which differ between databases); vectors: not real arrays.
_NO_SEND = {22, 24, 30, 2202, 2203, 2204, 2205, 2206, 3734, 3769, 4089, 4096, 4191}
_FIRST_NORMAL_OID = 16384  # below: built into PostgreSQL, the same OID everywhere


@dataclass
class _Type:
    oid: int
    typtype: str
    basetype: int
    elem: int
    category: str
    display: str


@dataclass
class _Column:
    name: str
    type_oid: int
    type_display: str


@dataclass
class _Table:
    name: str
    schema: str
    relname: str
    reltuples: float
    columns: list[_Column]
    pk: list[str]
    readable: bool
    kind: TableKind = "table"
    populated: bool = True
    size_bytes: int = 0


@dataclass
class _Catalog:
    version: int
    tables: dict[str, _Table]
    types: dict[int, _Type]
    sequences: dict[str, SequenceState]
    unreadable_sequences: list[str] = field(default_factory=list)


@dataclass
class _Spec:
    """What both sides compute for one table (built from both catalogs)."""

    name: str
    columns: list[str]
    key: list[str]
    integer_key: bool
    note: str | None = None
    missing: str | None = None  # "source" / "target": the table exists on the other side only
    kind: TableKind = "table"
    bucket: dict[str, Any] = field(default_factory=dict)  # pass 2: how keys map to ranges


# ----------------------------------------------------------------------------- one side


class _Side:
    def __init__(self, label: str, url: str, progress: Progress | None):
        self.label = label
        self.url = url
        self.progress = progress
        self.conn: psycopg.Connection | None = None
        self.catalog: _Catalog | None = None

    def say(self, msg: str) -> None:
        if self.progress:
            self.progress(f"{self.label}: {msg}")

    def open(self, parallel_workers: int | None) -> None:
        self.conn = connect(self.url, label=self.label, application_name="heroku2aws-pg-verify")
        self.conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        self.conn.read_only = True
        if parallel_workers is not None:
            self.conn.execute("SELECT pg_catalog.set_config('max_parallel_workers_per_gather', %s, false)",
                              (str(parallel_workers),))

    def close(self) -> None:
        if self.conn is not None:
            try:
                if not self.conn.closed:
                    self.conn.rollback()
            finally:
                self.conn.close()

    def cancel(self) -> None:
        if self.conn is not None and not self.conn.closed:
            with contextlib.suppress(Exception):  # best effort: the other side failed already
                self.conn.cancel_safe(timeout=5)

    # -- catalog

    def read_catalog(self, with_sequences: bool) -> _Catalog:
        conn = self.conn
        assert conn is not None
        rows = conn.execute(sql.SQL(_TABLES).format(app=internal_schema_filter())).fetchall()
        tables: dict[str, _Table] = {}
        type_oids: set[int] = set()
        for _oid, schema, relname, reltuples, names, typeoids, typedisp, pk, readable, relkind, populated, size in rows:
            name = unambiguous(schema, relname)
            cols = [_Column(n, int(t), d) for n, t, d in zip(names, typeoids, typedisp, strict=True)]
            type_oids.update(c.type_oid for c in cols)
            tables[name] = _Table(name, schema, relname, float(reltuples or 0), cols, list(pk or []),
                                  bool(readable), "materialized view" if relkind == "m" else "table", bool(populated),
                                  int(size or 0))
        types = self._types(type_oids)
        unreadable: list[str] = []
        seqs = read_sequences(conn, unreadable) if with_sequences else {}
        seqs = {unambiguous(q.schema_name, q.sequence_name): q for q in seqs.values()}
        self.catalog = _Catalog(conn.info.server_version, tables, types, seqs, unreadable)
        self.say(f"{len(tables)} tables, {len(seqs)} sequences (PostgreSQL {conn.info.server_version})")
        return self.catalog

    def _types(self, wanted: set[int]) -> dict[int, _Type]:
        conn = self.conn
        assert conn is not None
        types: dict[int, _Type] = {}
        todo = set(wanted)
        while todo:
            rows = conn.execute(
                "SELECT oid::int8, typtype::text, typbasetype::int8, typelem::int8, typcategory::text, "
                "pg_catalog.format_type(oid, NULL) FROM pg_catalog.pg_type WHERE oid = ANY(%s)",
                (sorted(todo),)).fetchall()
            todo = set()
            for oid, typtype, base, elem, cat, disp in rows:
                types[oid] = _Type(oid, typtype, base, elem, cat, disp)
                for dep in (base, elem):
                    if dep and dep not in types:
                        todo.add(dep)
            todo -= set(types)
        return types

    # -- expressions

    def _base(self, oid: int) -> _Type:
        assert self.catalog is not None
        t = self.catalog.types[oid]
        seen = 0
        while t.typtype == "d" and seen < 50:
            t = self.catalog.types[t.basetype]
            seen += 1
        return t

    def column_hash(self, col: _Column, index: int, mode: str) -> sql.Composable:
        """A 64-bit hash of one column (never NULL), seeded by the column's position."""
        assert self.catalog is not None
        ref: sql.Composable = sql.Identifier(col.name)
        declared = self.catalog.types[col.type_oid]
        base = self._base(col.type_oid)
        if declared.typtype == "d":
            ref = sql.SQL("({})::{}").format(ref, sql.SQL(base.display))
        oid = base.oid
        seeds = {"s": sql.Literal(_seed(index, 1)), "s2": sql.Literal(_seed(index, 2)),
                 "n": sql.Literal(_seed(index, 3)), "n2": sql.Literal(_seed(index, 4))}
        if oid == _NUMERIC:
            return sql.SQL(_NUMERIC_TEMPLATE).format(c=ref, **seeds)
        if oid in _DIRECT:
            template = _DIRECT[oid]
        elif oid in _SEND:
            template = f"pg_catalog.hash_record_extended(ROW(pg_catalog.{_SEND[oid]}({{c}})), {{s}})"
        elif base.category == "A" and base.elem in _ARRAY_NATIVE_ELEMENTS and base.oid not in _NO_SEND:
            elem = "({c})" + (' COLLATE "C"' if base.elem in _TEXTLIKE else "")
            template = (f"pg_catalog.hash_array_extended({elem}, {{s}}) "
                        "# COALESCE(pg_catalog.hashtextextended(pg_catalog.array_dims({c}), {s2}), {n2})")
        elif self._array_sendable(base):
            template = "pg_catalog.hash_record_extended(ROW(pg_catalog.array_send({c})), {s})"
        else:  # enums, json, tsvector, composite, range, extension types...: their text form
            template = 'pg_catalog.hashtextextended(({c})::text COLLATE "C", {s})'
        return sql.SQL("COALESCE({}, {})").format(sql.SQL(template).format(c=ref, **seeds), seeds["n"])

    def _array_sendable(self, base: _Type) -> bool:
        """An array whose binary form is the same in every database (built-in element type)."""
        assert self.catalog is not None
        if base.category != "A" or not base.elem or base.oid in _NO_SEND:
            return False
        elem = self.catalog.types.get(base.elem)
        return (elem is not None and elem.oid < _FIRST_NORMAL_OID and elem.typtype == "b"
                and elem.oid not in _NO_SEND and elem.category != "A")

    def row_hash(self, table: _Table, columns: list[str], mode: str) -> sql.Composable:
        """The 64-bit hash of a row: XOR of its columns' seeded hashes (binary), or of its text."""
        by_name = {c.name: c for c in table.columns}
        if mode == "text":
            row = sql.SQL("ROW({})").format(sql.SQL(", ").join(sql.Identifier(c) for c in columns))
            return sql.SQL('pg_catalog.hashtextextended(({}::text) COLLATE "C", 0)').format(row)
        if not columns:
            return sql.SQL("0::int8")
        return sql.SQL(" # ").join(self.column_hash(by_name[c], i, mode) for i, c in enumerate(columns))

    # -- passes

    def table_sums(self, specs: list[_Spec], mode: str) -> dict[str, tuple[int, int] | str]:
        """Pass 1: (count, checksum) per table, or an error string."""
        conn = self.conn
        assert conn is not None and self.catalog is not None
        out: dict[str, tuple[int, int] | str] = {}
        todo = [s for s in specs if s.name in self.catalog.tables]
        self._small_table_sums(todo, mode, out)
        for i, spec in enumerate(todo, 1):
            if spec.name in out:
                continue
            table = self.catalog.tables[spec.name]
            if not table.readable:
                out[spec.name] = f"{self.label}: no SELECT privilege on {spec.name}"
                continue
            if not table.populated:  # a materialized view WITH NO DATA: nothing to read (and reading fails)
                out[spec.name] = (0, 0)
                continue
            query = sql.SQL("SELECT count(*), COALESCE(sum({h}), 0) FROM ONLY {t}").format(
                h=self.row_hash(table, spec.columns, mode), t=sql.Identifier(table.schema, table.relname))
            t0 = time.monotonic()
            result = self._query(query)
            if isinstance(result, str):
                out[spec.name] = result
                self.say(f"{spec.name}: {result}")
                continue
            count, total = result[0]
            out[spec.name] = (int(count), int(total))
            self.say(f"[{i}/{len(todo)}] {spec.name}: {int(count):,} rows in {time.monotonic() - t0:.2f}s")
        return out

    def _small_table_sums(self, todo: list[_Spec], mode: str, out: dict[str, tuple[int, int] | str]) -> None:
        """Small tables (under SMALL_TABLE_BYTES on disk) in batches of SMALL_TABLE_BATCH, one query each: a
        thousand tiny tables cost a few round trips, not a thousand. A batch that fails is left to the per-table
        pass (which names the table at fault)."""
        assert self.catalog is not None
        small = [s for s in todo if (t := self.catalog.tables[s.name]).readable and t.populated
                 and t.size_bytes < SMALL_TABLE_BYTES]
        for start in range(0, len(small), SMALL_TABLE_BATCH):
            batch = small[start:start + SMALL_TABLE_BATCH]
            parts = []
            for i, spec in enumerate(batch):
                table = self.catalog.tables[spec.name]
                parts.append(sql.SQL("SELECT {}::int4, count(*), COALESCE(sum({}), 0) FROM ONLY {}").format(
                    sql.Literal(i), self.row_hash(table, spec.columns, mode), sql.Identifier(table.schema, table.relname)))
            rows = self._query(sql.SQL(" UNION ALL ").join(parts))
            if isinstance(rows, str):
                continue
            for i, count, total in rows:
                out[batch[i].name] = (int(count), int(total))
            self.say(f"{len(batch)} small tables checksummed in one query")

    def _query(self, query: sql.SQL | sql.Composed) -> list[tuple] | str:
        """Rows, or an error string (the transaction survives: each query runs in a savepoint)."""
        assert self.conn is not None
        try:
            with self.conn.transaction():
                return self.conn.execute(query).fetchall()
        except psycopg.OperationalError:
            raise
        except psycopg.Error as exc:
            return f"{self.label}: {type(exc).__name__}: {str(exc).strip()}"

    def large_objects(self) -> tuple[int, int] | str:
        """(count, checksum) of the large objects: each one's OID and content (``lo_get``, which needs only the
        object's SELECT privilege, where ``pg_largeobject`` itself is for superusers). A large object is read
        whole: one over 1 GB (bytea's limit) is reported as an error, never passed over."""
        rows = self._query(sql.SQL(
            "SELECT count(*), COALESCE(sum(pg_catalog.hashoidextended(m.oid, 7) "
            "# pg_catalog.hash_record_extended(ROW(pg_catalog.lo_get(m.oid)), 11)), 0) "
            "FROM pg_catalog.pg_largeobject_metadata m"))
        if isinstance(rows, str):
            return rows
        return int(rows[0][0]), int(rows[0][1])

    def database_settings(self) -> dict[str, str]:
        rows = self._query(sql.SQL(DATABASE_SETTINGS))
        if isinstance(rows, str):
            return {}
        return {name.lower(): value for name, _, value in (str(r[0]).partition("=") for r in rows)}

    def key_bounds(self, spec: _Spec) -> tuple[int | None, int | None]:
        assert self.catalog is not None
        table = self.catalog.tables[spec.name]
        k = sql.Identifier(spec.key[0])
        rows = self._query(sql.SQL("SELECT min({k})::int8, max({k})::int8 FROM ONLY {t}").format(
            k=k, t=sql.Identifier(table.schema, table.relname)))
        if isinstance(rows, str):
            return None, None
        return rows[0][0], rows[0][1]

    @staticmethod
    def key_text(spec: _Spec) -> sql.Composable:
        keys = [sql.Identifier(k) for k in spec.key]
        if len(keys) == 1:
            return sql.SQL('(({})::text) COLLATE "C"').format(keys[0])
        return sql.SQL('((ROW({})::text)) COLLATE "C"').format(sql.SQL(", ").join(keys))

    def sample_keys(self, spec: _Spec, buckets: int) -> list[str]:
        assert self.catalog is not None
        table = self.catalog.tables[spec.name]
        rows = max(table.reltuples, 1.0)
        want = buckets * 20
        percent = 100.0 if rows <= want * 2 else max(0.0001, min(100.0, 100.0 * want / rows))
        sample = sql.SQL("") if percent >= 100 else sql.SQL(" TABLESAMPLE BERNOULLI ({})").format(
            sql.Literal(percent))
        query = sql.SQL("SELECT k FROM (SELECT {kt} AS k FROM ONLY {t}{s}) q ORDER BY k").format(
            kt=self.key_text(spec), t=sql.Identifier(table.schema, table.relname), s=sample)
        rows_ = self._query(query)
        return [] if isinstance(rows_, str) else [r[0] for r in rows_]

    def chunk_sums(self, specs: list[_Spec], mode: str) -> dict[str, dict[int, tuple[int, int]] | str]:
        """Pass 2: (count, checksum) per key range, for the tables that differed."""
        assert self.catalog is not None
        out: dict[str, dict[int, tuple[int, int]] | str] = {}
        for spec in specs:
            table = self.catalog.tables[spec.name]
            b = spec.bucket
            if b["kind"] == "integer":
                k = sql.SQL("({})::int8").format(sql.Identifier(spec.key[0]))
                if b["numeric"]:
                    bucket = sql.SQL("pg_catalog.div(({})::numeric - {}, {})::int8").format(
                        k, sql.Literal(b["lo"]), sql.Literal(b["width"]))
                else:
                    bucket = sql.SQL("(({} - {}::int8) / {}::int8)").format(
                        k, sql.Literal(b["lo"]), sql.Literal(b["width"]))
            else:
                bucket = sql.SQL("pg_catalog.width_bucket({}, {}::text[])").format(
                    self.key_text(spec), sql.Literal(b["thresholds"]))
            query = sql.SQL("SELECT {bucket}, count(*), COALESCE(sum({h}), 0) FROM ONLY {t} GROUP BY 1").format(
                bucket=bucket, h=self.row_hash(table, spec.columns, mode),
                t=sql.Identifier(table.schema, table.relname))
            t0 = time.monotonic()
            rows = self._query(query)
            if isinstance(rows, str):
                out[spec.name] = rows
                continue
            out[spec.name] = {int(r[0]): (int(r[1]), int(r[2])) for r in rows}
            self.say(f"{spec.name}: {len(rows)} key ranges checksummed in {time.monotonic() - t0:.2f}s")
        return out


_TABLES = """
SELECT c.oid, n.nspname, c.relname, c.reltuples::float8,
       COALESCE(array_agg(a.attname::text ORDER BY a.attnum) FILTER (WHERE a.attnum IS NOT NULL), '{{}}'),
       COALESCE(array_agg(a.atttypid::int8 ORDER BY a.attnum) FILTER (WHERE a.attnum IS NOT NULL), '{{}}'),
       COALESCE(array_agg(pg_catalog.format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum)
                FILTER (WHERE a.attnum IS NOT NULL), '{{}}'),
       (SELECT array_agg(pa.attname::text ORDER BY k.ord)
          FROM pg_catalog.pg_index i
          CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
          JOIN pg_catalog.pg_attribute pa ON pa.attrelid = i.indrelid AND pa.attnum = k.attnum
         WHERE i.indrelid = c.oid AND i.indisprimary),
       pg_catalog.has_table_privilege(c.oid, 'SELECT'), c.relkind::text, c.relispopulated,
       pg_catalog.pg_relation_size(c.oid)
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relkind IN ('r', 'm') AND c.relpersistence <> 't' AND {app}
   AND c.relname NOT LIKE 'awsdms\\_%'
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e
                    WHERE e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND e.objid = c.oid
                      AND e.deptype = 'e')
 GROUP BY c.oid, n.nspname, c.relname, c.reltuples, c.relkind, c.relispopulated
 ORDER BY n.nspname, c.relname
"""

# ----------------------------------------------------------------------------- orchestration


def _both(src: _Side, tgt: _Side, fn: Callable[[_Side], Any], pool: ThreadPoolExecutor) -> tuple[Any, Any]:
    """Run ``fn`` on both sides at once; if one fails, cancel the other and raise the first error."""
    futures = [(pool.submit(fn, src), src), (pool.submit(fn, tgt), tgt)]
    results: dict[str, Any] = {}
    error: BaseException | None = None
    for fut, side in futures:
        try:
            results[side.label] = fut.result()
        except BaseException as exc:
            if error is None:
                error = exc
                (tgt if side is src else src).cancel()
    if error is not None:
        raise error
    return results[src.label], results[tgt.label]


def _base_oid(cat: _Catalog, oid: int) -> int:
    t = cat.types[oid]
    while t.typtype == "d":
        t = cat.types[t.basetype]
    return t.oid


def _specs(src: _Catalog, tgt: _Catalog, include: set[str] | None, exclude: set[str] | None = None) -> list[_Spec]:
    names = sorted(set(src.tables) | set(tgt.tables))
    if include is not None:
        names = [n for n in names if n in include]
    if exclude:
        names = [n for n in names if n not in exclude]
    specs = []
    for name in names:
        s, t = src.tables.get(name), tgt.tables.get(name)
        if s is None or t is None:
            present = s if s is not None else t
            specs.append(_Spec(name, [], [], False, missing="source" if s is None else "target",
                               kind=present.kind if present is not None else "table"))
            continue
        tcols = {c.name: c for c in t.columns}
        scols = {c.name: c for c in s.columns}
        columns = [c.name for c in s.columns if c.name in tcols]
        problems = []
        only_s = [c.name for c in s.columns if c.name not in tcols]
        only_t = [c.name for c in t.columns if c.name not in scols]
        if only_s:
            problems.append(f"columns only on source: {', '.join(only_s)}")
        if only_t:
            problems.append(f"columns only on target: {', '.join(only_t)}")
        for c in columns:
            if scols[c].type_display != tcols[c].type_display:
                problems.append(f"column {c} is {scols[c].type_display} on source, {tcols[c].type_display} on target")
        if s.kind != t.kind:
            problems.append(f"a {s.kind} on source, a {t.kind} on target")
        if s.populated != t.populated:
            problems.append(f"materialized view not populated on {'source' if not s.populated else 'target'}")
        if s.pk != t.pk:
            problems.append(f"primary key differs: ({', '.join(s.pk)}) on source, ({', '.join(t.pk)}) on target")
        key = s.pk if s.pk and s.pk == t.pk else []
        integer_key = (len(key) == 1 and _base_oid(src, scols[key[0]].type_oid) in _INTEGER
                       and _base_oid(tgt, tcols[key[0]].type_oid) in _INTEGER)
        specs.append(_Spec(name, columns, key, integer_key, note="; ".join(problems) or None, kind=s.kind))
    return specs


def _compare_sequences(scat: _Catalog, tcat: _Catalog, exact: bool) -> list[SequenceResult]:
    src, tgt = scat.sequences, tcat.sequences
    out = []
    for name in sorted(set(src) | set(tgt) | set(scat.unreadable_sequences) | set(tcat.unreadable_sequences)):
        s, t = src.get(name), tgt.get(name)
        sv = SequenceValue(last_value=s.last_value, is_called=s.is_called) if s else None
        tv = SequenceValue(last_value=t.last_value, is_called=t.is_called) if t else None
        blind = [side for side, cat in (("source", scat), ("target", tcat)) if name in cat.unreadable_sequences]
        if blind:
            out.append(SequenceResult(name=name, source=sv, target=tv, match=False,
                                      note=f"no SELECT privilege on the sequence ({', '.join(blind)})"))
            continue
        if s is None or t is None:
            out.append(SequenceResult(name=name, source=sv, target=tv, match=False,
                                      note=f"missing on {'source' if s is None else 'target'}"))
            continue
        if exact:
            ok = (s.last_value, s.is_called) == (t.last_value, t.is_called)
            note = None if ok else "values differ"
        else:
            ok = not is_behind(t, s)
            note = None if ok else (f"target is behind: its next value {t.position} may already have been "
                                    f"handed out by the source (next: {s.position})")
        out.append(SequenceResult(name=name, source=sv, target=tv, match=ok, note=note))
    return out


def verify(
    source_url: str,
    target_url: str,
    *,
    chunk_rows: int = 10_000,
    max_chunks: int = 10_000,
    tables: list[str] | None = None,
    sequences: bool = True,
    exact_sequences: bool = False,
    mode: Mode = "auto",
    parallel_workers: int | None = None,
    progress: Progress | None = None,
    large_objects: bool = True,
    database_settings: bool = True,
    exclude_tables: set[str] | None = None,
) -> VerifyResult:
    """Compare every application table (and sequence) of two databases; see the module docstring.

    ``source_url``/``target_url``: libpq URLs or Secrets Manager ARNs. ``tables``: only these
    ``schema.table`` names. ``chunk_rows``: rows per key range when locating a difference.
    ``parallel_workers``: ``max_parallel_workers_per_gather`` on both sessions (server default
    when None). ``progress``: called with one human-readable line per step (never a password).
    Raises ``DatabaseError`` (password-free message) when a server cannot be used at all; a
    problem with one table (no privilege, a failing cast) is reported on that table instead.
    ``exclude_tables``: names (as reported) verified already, e.g. by the streaming copy as each table landed;
    every other table on either side is compared, and the whole-database checks run as usual.
    """
    t0 = time.monotonic()
    lock = threading.Lock()

    def say(msg: str) -> None:
        if progress:
            with lock:
                progress(msg)

    src = _Side("source", resolve_url(source_url, "source"), say)
    tgt = _Side("target", resolve_url(target_url, "target"), say)
    urls = (src.url, tgt.url)
    try:
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="pg-verify") as pool:
            _both(src, tgt, lambda s: s.open(parallel_workers), pool)
            scat, tcat = _both(src, tgt, lambda s: s.read_catalog(sequences), pool)
            use: Literal["binary", "text"] = (
                mode if mode != "auto" else "binary" if min(scat.version, tcat.version) >= 140000 else "text")
            specs = _specs(scat, tcat, set(tables) if tables is not None else None, exclude_tables)
            present = [s for s in specs if s.missing is None]
            say(f"comparing {len(present)} tables ({use} checksums)")
            s1, t1 = _both(src, tgt, lambda s: s.table_sums(present, use), pool)

            results: dict[str, TableResult] = {}
            again: list[_Spec] = []
            for spec in specs:
                a, b = s1.get(spec.name), t1.get(spec.name)
                errors = [x for x in (a, b) if isinstance(x, str)]
                notes = [f"missing on {spec.missing}"] if spec.missing else []
                notes += ([spec.note] if spec.note else []) + errors
                same_data = isinstance(a, tuple) and a == b
                res = TableResult(name=spec.name, kind=spec.kind, rows_source=a[0] if isinstance(a, tuple) else None,
                                  rows_target=b[0] if isinstance(b, tuple) else None,
                                  match=same_data and not notes, key=spec.key, note="; ".join(notes) or None)
                results[spec.name] = res
                if isinstance(a, tuple) and isinstance(b, tuple) and not same_data:
                    if spec.key:
                        again.append(spec)
                    else:
                        res.mismatched_ranges = [RangeMismatch(key=[], lower=None, upper=None,
                                                               rows_source=a[0], rows_target=b[0])]
                        res.mismatched_range_count = 1

            if again:
                say(f"{len(again)} table(s) differ: locating the differences by key range")
                _plan_chunks(again, src, tgt, results, chunk_rows, max_chunks, pool)
                s2, t2 = _both(src, tgt, lambda s: s.chunk_sums(again, use), pool)
                for spec in again:
                    _locate(spec, s2.get(spec.name), t2.get(spec.name), results[spec.name])

            seq_results = _compare_sequences(scat, tcat, exact_sequences) if sequences else []
            lo_result = None
            if large_objects and tables is None:
                la, lb = _both(src, tgt, lambda s: s.large_objects(), pool)
                lo_errors = [x for x in (la, lb) if isinstance(x, str)]
                lo_result = LargeObjectsResult(count_source=la[0] if isinstance(la, tuple) else None,
                                               count_target=lb[0] if isinstance(lb, tuple) else None,
                                               match=not lo_errors and la == lb, note="; ".join(lo_errors) or None)
                if lo_result.count_source == lo_result.count_target == 0 and lo_result.match:
                    lo_result = None  # none on either side: nothing to report
            setting_results: list[SettingResult] = []
            if database_settings and tables is None:
                da, db = _both(src, tgt, lambda s: s.database_settings(), pool)
                setting_results = [SettingResult(name=k, source=da.get(k), target=db.get(k),
                                                 match=da.get(k) == db.get(k)) for k in sorted(set(da) | set(db))]
    except psycopg.Error as exc:
        raise DatabaseError(f"verification failed: {scrub(str(exc).strip(), *urls)}") from None
    finally:
        src.close()
        tgt.close()

    table_list = [results[s.name] for s in specs]
    ok = (all(t.match for t in table_list) and all(s.match for s in seq_results)
          and (lo_result is None or lo_result.match) and all(d.match for d in setting_results))
    rows = sum(max(t.rows_source or 0, t.rows_target or 0) for t in table_list)
    result = VerifyResult(match=ok, tables=table_list, rows=rows, seconds=round(time.monotonic() - t0, 3),
                          sequences=seq_results, mode=use, large_objects=lo_result,
                          database_settings=setting_results)
    log.info("verification done", extra={"match": ok, "tables": len(table_list), "rows": rows,
                                         "mismatched": result.differences,
                                         "seconds": result.seconds, "mode": use})
    return result


def _plan_chunks(specs: list[_Spec], src: _Side, tgt: _Side, results: dict[str, TableResult],
                 chunk_rows: int, max_chunks: int, pool: ThreadPoolExecutor) -> None:
    """Decide the key ranges of each differing table: the same ranges on both sides."""
    def chunks(name: str) -> int:
        r = results[name]
        return max(1, min(max_chunks, math.ceil(max(r.rows_source or 0, r.rows_target or 0) / max(1, chunk_rows))))

    ints = [s for s in specs if s.integer_key]
    if ints:
        sb, tb = _both(src, tgt, lambda side: {s.name: side.key_bounds(s) for s in ints}, pool)
        for spec in ints:
            lows = [v for v in (sb[spec.name][0], tb[spec.name][0]) if v is not None]
            highs = [v for v in (sb[spec.name][1], tb[spec.name][1]) if v is not None]
            lo, hi = (min(lows), max(highs)) if lows else (0, 0)
            width = max(1, math.ceil((hi - lo + 1) / chunks(spec.name)))
            spec.bucket = {"kind": "integer", "lo": lo, "width": width, "numeric": hi - lo >= 2**62}
    for spec in specs:
        if spec.integer_key:
            continue
        n = chunks(spec.name)
        side = src if (results[spec.name].rows_source or 0) > 0 else tgt
        keys = side.sample_keys(spec, n) if n > 1 else []
        thresholds: list[str] = []
        for i in range(1, n if keys else 0):
            k = keys[min(len(keys) - 1, (i * len(keys)) // n)]
            if not thresholds or k > thresholds[-1]:
                thresholds.append(k)
        spec.bucket = {"kind": "text", "thresholds": thresholds}


def _locate(spec: _Spec, a: Any, b: Any, result: TableResult) -> None:
    if not isinstance(a, dict) or not isinstance(b, dict):
        errors = [x for x in (a, b) if isinstance(x, str)]
        result.note = "; ".join([*([result.note] if result.note else []), *errors]) or None
        return
    ranges = []
    for bucket in sorted(set(a) | set(b)):
        ca, cb = a.get(bucket, (0, 0)), b.get(bucket, (0, 0))
        if ca == cb:
            continue
        lower: int | str | None
        upper: int | str | None
        if spec.bucket["kind"] == "integer":
            lower = spec.bucket["lo"] + bucket * spec.bucket["width"]
            upper = lower + spec.bucket["width"]
        else:
            th = spec.bucket["thresholds"]
            lower = th[bucket - 1] if bucket > 0 else None
            upper = th[bucket] if bucket < len(th) else None
        ranges.append(RangeMismatch(key=spec.key, lower=lower, upper=upper, rows_source=ca[0], rows_target=cb[0]))
    result.mismatched_range_count = len(ranges)
    result.mismatched_ranges = ranges[:MAX_RANGES_REPORTED]
    if not ranges:  # the table sums differed, the range sums do not: rows changed between the passes?
        result.note = "; ".join([*([result.note] if result.note else []), "difference not found again by key range"])
