"""Preflight analysis of a PostgreSQL database (the Heroku source, or the RDS target).

``analyze(url)`` connects read-only and returns a ``PostgresAnalysis``: a pydantic model that is
JSON-serialisable and holds no secret (no URL, no password; names and numbers only), so it can
travel in Step Functions state. It answers the questions the plan depends on:

- server version, database size, encoding;
- every application table: row estimate, size, kind (table / partitioned / partition), whether it
  has a primary key or a unique index on NOT NULL columns -- AWS DMS can copy a table without one
  (full load) but cannot apply changes to it (CDC);
- extensions installed, and whether RDS for PostgreSQL 15 offers each (``RDS_PG15_EXTENSIONS``; the
  authoritative answer is the target's own ``available_extensions``, also collected here, so an
  analysis of the target can be compared with one of the source: ``extensions_missing_on``);
- sequences with their owning role and owning column;
- large objects (DMS does not copy ``pg_largeobject``: dump-restore does);
- partitioned tables and their leaf partitions; old-style inheritance parents;
- whether the role may replicate (``rolreplication``, ``rds_replication`` membership, superuser)
  and ``wal_level``: DMS CDC needs both; Heroku grants neither;
- ``max_connections`` against the connections in use.

``PostgresAnalysis.compact()`` trims the per-table list for large schemas, to stay well within the
256 KiB Step Functions payload; the lists the DMS mappings need are kept whole.
"""

from __future__ import annotations

from typing import Literal

import psycopg
from psycopg import sql
from pydantic import BaseModel, computed_field

from heroku2aws.obs import get_logger
from heroku2aws.postgres.common import (
    INTERNAL_SCHEMAS,
    SEQUENCE_OWNED_BY,
    DatabaseError,
    connect,
    internal_schema_filter,
    one,
    qualified,
    resolve_url,
)
from heroku2aws.postgres.lobs import LobReport, measure
from heroku2aws.postgres.parallel_load import ParallelLoadPlan, plan_parallel_load
from heroku2aws.redaction import scrub

log = get_logger("postgres.analysis")

# Extensions Amazon RDS for PostgreSQL 15 offers (AWS "Extension versions for Amazon RDS for
# PostgreSQL", RDS for PostgreSQL 15.x; `SHOW rds.extensions` on an instance lists them too).
# Kept here so preflight can answer before any RDS instance exists; once the target is up, its
# pg_available_extensions is the authority (see extensions_missing_on).
RDS_PG15_EXTENSIONS: frozenset[str] = frozenset({
    "address_standardizer", "address_standardizer_data_us", "amcheck", "aws_commons", "aws_lambda",
    "aws_s3", "bloom", "bool_plperl", "btree_gin", "btree_gist", "citext", "cube", "dblink", "dict_int",
    "dict_xsyn", "earthdistance", "fuzzystrmatch", "h3", "h3_postgis", "hll", "hstore", "hstore_plperl",
    "hypopg", "icu_ext", "insert_username", "intagg", "intarray", "ip4r", "isn", "jsonb_plperl", "lo",
    "log_fdw", "ltree", "moddatetime", "mysql_fdw", "old_snapshot", "oracle_fdw", "orafce", "pageinspect",
    "pg_bigm", "pg_buffercache", "pg_cron", "pg_freespacemap", "pg_hint_plan", "pg_partman", "pg_prewarm",
    "pg_proctab", "pg_repack", "pg_similarity", "pg_stat_statements", "pg_tle", "pg_transport", "pg_trgm",
    "pg_visibility", "pg_walinspect", "pgactive", "pgaudit", "pgcrypto", "pglogical", "pgrouting",
    "pgrowlocks", "pgstattuple", "pgtap", "plcoffee", "plls", "plperl", "plpgsql", "plprofiler", "plrust",
    "pltcl", "plv8", "postgis", "postgis_raster", "postgis_tiger_geocoder", "postgis_topology",
    "postgres_fdw", "prefix", "rdkit", "rds_tools", "refint", "autoinc", "seg", "sslinfo", "tablefunc",
    "tcn", "tds_fdw", "tsm_system_rows", "tsm_system_time", "unaccent", "uuid-ossp", "vector",
})


PartitionStrategy = Literal["range", "list", "hash", "unknown"]
ReplicaIdentity = Literal["default", "nothing", "full", "index"]

class TableInfo(BaseModel):
    name: str  # schema.table
    schema_name: str
    table_name: str
    kind: Literal["table", "partitioned", "partition"]
    parent: str | None = None  # the partitioned table a partition belongs to
    rows_estimate: int | None  # planner statistics (None: never analysed)
    size_bytes: int  # with indexes and TOAST; a partitioned table: the sum of its leaves
    index_bytes: int = 0  # of those, its indexes' (the freeze estimate: index builds)
    has_primary_key: bool
    has_unique_not_null: bool  # a unique, non-partial, NOT NULL index DMS could use instead
    replica_identity: ReplicaIdentity

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented way: mypy rejects a decorated property
    @property
    def has_key(self) -> bool:
        return self.has_primary_key or self.has_unique_not_null


class ExtensionInfo(BaseModel):
    name: str
    version: str
    schema_name: str
    rds_supported: bool


class SequenceInfo(BaseModel):
    name: str  # schema.sequence
    owner_role: str
    owned_by: str | None  # schema.table.column (OWNED BY, serial or identity column)
    data_type: str
    last_value: int | None  # None: never called (or not readable)


class PartitionedTableInfo(BaseModel):
    name: str
    strategy: PartitionStrategy
    partitions: list[str]  # leaf partitions, at any depth: where the rows are
    intermediate: list[str] = []  # sub-partitioned partitions (hold no rows themselves)


class ReplicationInfo(BaseModel):
    role: str
    rolreplication: bool
    rds_replication: bool  # member of rds_replication (RDS's way of granting it)
    superuser: bool
    wal_level: str

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented way: mypy rejects a decorated property
    @property
    def can_replicate(self) -> bool:
        return self.rolreplication or self.rds_replication or self.superuser

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented way: mypy rejects a decorated property
    @property
    def cdc_possible(self) -> bool:
        """Logical replication (hence DMS CDC) is possible: the privilege and wal_level=logical."""
        return self.can_replicate and self.wal_level == "logical"


class ConnectionInfo(BaseModel):
    max_connections: int
    reserved: int  # superuser_reserved_connections
    in_use: int  # client backends now
    role_limit: int | None  # the role's CONNECTION LIMIT (None: unlimited)

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented way: mypy rejects a decorated property
    @property
    def available(self) -> int:
        free = self.max_connections - self.reserved - self.in_use
        return max(0, free if self.role_limit is None else min(free, self.role_limit))


class PostgresAnalysis(BaseModel):
    server_version: str
    server_version_num: int
    database: str
    size_bytes: int
    encoding: str
    schemas: list[str]  # application schemas (internal ones excluded)
    tables: list[TableInfo]
    tables_truncated: bool = False  # compact() dropped the smallest tables from `tables`
    # compact() kept the first ``max_listed`` of these lists: list name -> how long it was (the rest are counts only)
    lists_truncated: dict[str, int] = {}
    table_count: int
    rows_estimate: int
    data_bytes: int = 0   # heap + TOAST of every stored table (what a copy streams)
    index_bytes: int = 0  # their indexes (what a copy builds)
    tables_without_key: list[str]  # DMS cannot apply changes to these (CDC); full load is fine
    extensions: list[ExtensionInfo]
    unsupported_extensions: list[str]  # installed here, not in RDS_PG15_EXTENSIONS
    available_extensions: list[str]  # what this server could install (meaningful on the target)
    sequences: list[SequenceInfo]
    large_objects: int
    partitioned_tables: list[PartitionedTableInfo]  # roots, each with its leaves and intermediate levels
    inheritance_parents: list[str]  # old-style INHERITS parents (not declarative partitioning)
    extension_tables: list[str]  # tables created by extensions (e.g. spatial_ref_sys)
    replication: ReplicationInfo
    connections: ConnectionInfo
    warnings: list[str]
    lobs: LobReport | None = None  # the largest value per LOB column: DMS's LOB settings (postgres/lobs.py)
    # DMS full-load parallelism (postgres/parallel_load.py): only when asked for (the DMS strategies)
    parallel_load: ParallelLoadPlan | None = None

    @property
    def can_replicate(self) -> bool:
        return self.replication.can_replicate

    def compact(self, max_tables: int = 200, max_listed: int = 200) -> PostgresAnalysis:
        """A copy for the plan that travels in Step Functions state (256 KiB a payload): ``tables`` holds the
        ``max_tables`` largest only, and every other per-object list (sequences, tables without a key, partitions,
        inheritance parents, extension tables, the partitioned tables' leaves) its first ``max_listed``, the full
        lengths in ``lists_truncated``. 1,000 tables with 63-character names and a sequence each made 560 KB whole:
        the preflight's own result, refused with the terminal States.DataLimitExceeded. The workflow reads none of
        these lists from the plan (the DMS mappings are built from the whole analysis)."""
        update: dict[str, object] = {}
        if len(self.tables) > max_tables:
            keep = sorted(self.tables, key=lambda t: t.size_bytes, reverse=True)[:max_tables]
            keep.sort(key=lambda t: t.name)
            update.update(tables=keep, tables_truncated=True)
        truncated: dict[str, int] = {}
        for name in ("sequences", "tables_without_key", "inheritance_parents", "extension_tables",
                     "partitioned_tables"):
            items = getattr(self, name)
            if len(items) > max_listed:
                update[name], truncated[name] = items[:max_listed], len(items)
        parts = update.get("partitioned_tables", self.partitioned_tables)
        if any(len(p.partitions) > max_listed or len(p.intermediate) > max_listed for p in parts):  # type: ignore[attr-defined]
            truncated["partitions"] = sum(len(p.partitions) for p in self.partitioned_tables)
            update["partitioned_tables"] = [p.model_copy(update={"partitions": p.partitions[:max_listed],
                                                                 "intermediate": p.intermediate[:max_listed]})
                                            for p in parts]  # type: ignore[attr-defined]
        if truncated:
            update["lists_truncated"] = truncated
        return self.model_copy(update=update)


def extensions_missing_on(source: PostgresAnalysis, target: PostgresAnalysis) -> list[str]:
    """Extensions installed on ``source`` that ``target`` cannot install (its own catalog says so)."""
    available = set(target.available_extensions)
    return sorted(e.name for e in source.extensions if e.name not in available)


_TABLES = """
SELECT n.nspname, c.relname, c.relkind::text, c.relispartition,
       CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::int8 END,
       pg_catalog.pg_total_relation_size(c.oid), pg_catalog.pg_indexes_size(c.oid),
       EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary),
       EXISTS (SELECT 1 FROM pg_catalog.pg_index i
                WHERE i.indrelid = c.oid AND i.indisunique AND i.indimmediate AND i.indpred IS NULL
                  AND i.indexprs IS NULL
                  AND NOT EXISTS (SELECT 1 FROM unnest(i.indkey::int2[]) k(attnum)
                                   JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
                                  WHERE NOT a.attnotnull)),
       c.relreplident::text,
       (SELECT pn.nspname || '.' || p.relname FROM pg_catalog.pg_inherits h
          JOIN pg_catalog.pg_class p ON p.oid = h.inhparent
          JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
         WHERE h.inhrelid = c.oid LIMIT 1),
       EXISTS (SELECT 1 FROM pg_catalog.pg_inherits h WHERE h.inhparent = c.oid),
       EXISTS (SELECT 1 FROM pg_catalog.pg_depend e
                WHERE e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND e.objid = c.oid
                  AND e.deptype = 'e'),
       CASE WHEN c.relkind = 'p' THEN
            (SELECT pg_catalog.pg_get_partkeydef(c.oid)) END
  FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't' AND {app}
 ORDER BY 1, 2
"""

_PARTITION_TREE = """
SELECT t.relid::regclass::text, t.isleaf, t.level, pn.nspname, pc.relname
  FROM pg_catalog.pg_partition_tree({root}::regclass) t
  JOIN pg_catalog.pg_class pc ON pc.oid = t.relid
  JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
 WHERE t.level > 0
"""

_SEQUENCES = """
SELECT s.schemaname, s.sequencename, s.sequenceowner, s.data_type::text, s.last_value,
       """ + SEQUENCE_OWNED_BY + """
  FROM pg_catalog.pg_sequences s
  JOIN pg_catalog.pg_namespace n ON n.nspname = s.schemaname
  JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = s.sequencename
 WHERE {app}
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e
                    WHERE e.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND e.objid = c.oid
                      AND e.deptype = 'e')
 ORDER BY 1, 2
"""

_ROLE = """
SELECT current_user::text, r.rolreplication, r.rolsuper,
       COALESCE((SELECT pg_catalog.pg_has_role(current_user, g.oid, 'MEMBER')
                   FROM pg_catalog.pg_roles g WHERE g.rolname = 'rds_replication'), false),
       pg_catalog.current_setting('wal_level'),
       CASE WHEN r.rolconnlimit < 0 THEN NULL ELSE r.rolconnlimit END
  FROM pg_catalog.pg_roles r WHERE r.rolname = current_user
"""

_STRATEGY: dict[str, PartitionStrategy] = {"RANGE": "range", "LIST": "list", "HASH": "hash"}
_REPLICA_IDENTITY: dict[str, ReplicaIdentity] = {"d": "default", "n": "nothing", "f": "full", "i": "index"}


def analyze_connection(conn: psycopg.Connection, *, dms_instance_class: str | None = None,
                       parallel_load: bool = False) -> PostgresAnalysis:
    """The analysis over an open connection (see ``analyze``); ``parallel_load``: also plan the DMS full load's
    parallelism for a replication instance of ``dms_instance_class`` (samples the largest tables' keys)."""
    app = internal_schema_filter()
    version = str(one(conn, "SELECT pg_catalog.current_setting('server_version')")[0])
    version_num = conn.info.server_version
    db, size, encoding = one(
        conn, "SELECT current_database(), pg_catalog.pg_database_size(current_database()), "
        "pg_catalog.pg_encoding_to_char(d.encoding) FROM pg_catalog.pg_database d "
        "WHERE d.datname = current_database()")
    schemas = [r[0] for r in conn.execute(sql.SQL(
        "SELECT n.nspname FROM pg_catalog.pg_namespace n WHERE {app} "
        "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = "
        "'pg_catalog.pg_namespace'::pg_catalog.regclass AND e.objid = n.oid AND e.deptype = 'e') "
        "ORDER BY 1").format(app=app)).fetchall()]

    tables: list[TableInfo] = []
    partitioned: list[PartitionedTableInfo] = []
    inheritance_parents: list[str] = []
    extension_tables: list[str] = []
    sub_partitioned: set[str] = set()
    for (schema, rel, kind, is_part, reltuples, total, indexes, has_pk, has_unn, ident, parent, has_children,
         ext_member, partkey) in conn.execute(sql.SQL(_TABLES).format(app=app)).fetchall():
        name = qualified(schema, rel)
        if ext_member:
            extension_tables.append(name)
            continue
        if kind == "p" and not is_part:  # a root; sub-partitioned partitions are listed under their root
            tree = conn.execute(sql.SQL(_PARTITION_TREE).format(
                root=sql.Literal(sql.Identifier(schema, rel).as_string(conn)))).fetchall()
            leaves = [qualified(r[3], r[4]) for r in tree if r[1]]
            inner = [qualified(r[3], r[4]) for r in tree if not r[1]]
            sub_partitioned.update(inner)
            strategy = _STRATEGY.get((partkey or "").split(" ", 1)[0].upper(), "unknown")
            partitioned.append(PartitionedTableInfo(name=name, strategy=strategy, partitions=leaves,
                                                    intermediate=inner))
        elif has_children and not is_part:
            inheritance_parents.append(name)
        tables.append(TableInfo(
            name=name, schema_name=schema, table_name=rel,
            kind="partitioned" if kind == "p" else ("partition" if is_part else "table"),
            parent=parent if is_part else None, rows_estimate=reltuples, size_bytes=int(total or 0),
            index_bytes=int(indexes or 0),
            has_primary_key=bool(has_pk), has_unique_not_null=bool(has_unn),
            replica_identity=_REPLICA_IDENTITY.get(ident, "default"),
        ))
    # A partitioned table stores nothing itself: its size and rows are its leaves'.
    by_name = {t.name: t for t in tables}
    for p in partitioned:
        leaf_tables = [by_name[n] for n in p.partitions if n in by_name]
        root = by_name[p.name]
        root.size_bytes = sum(t.size_bytes for t in leaf_tables)
        root.index_bytes = sum(t.index_bytes for t in leaf_tables)
        root.rows_estimate = sum(t.rows_estimate or 0 for t in leaf_tables)
    for name in sub_partitioned:  # an intermediate level is partitioned too: sum its own leaves
        if name in by_name:
            sub = by_name[name]
            tree = conn.execute(sql.SQL(_PARTITION_TREE).format(
                root=sql.Literal(sql.Identifier(sub.schema_name, sub.table_name).as_string(conn)))).fetchall()
            leaf_tables = [by_name[qualified(r[3], r[4])] for r in tree if r[1] and qualified(r[3], r[4]) in by_name]
            sub.kind = "partitioned"
            sub.size_bytes = sum(t.size_bytes for t in leaf_tables)
            sub.index_bytes = sum(t.index_bytes for t in leaf_tables)
            sub.rows_estimate = sum(t.rows_estimate or 0 for t in leaf_tables)

    stored = [t for t in tables if t.kind != "partitioned"]
    without_key = [t.name for t in stored if not t.has_key]

    extensions = [ExtensionInfo(name=n, version=v, schema_name=s, rds_supported=n in RDS_PG15_EXTENSIONS)
                  for n, v, s in conn.execute(
                      "SELECT e.extname::text, e.extversion, n.nspname::text FROM pg_catalog.pg_extension e "
                      "JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace ORDER BY 1").fetchall()]
    available = [r[0] for r in conn.execute("SELECT name::text FROM pg_catalog.pg_available_extensions "
                                            "ORDER BY 1").fetchall()]
    sequences = [SequenceInfo(name=qualified(s, n), owner_role=o, data_type=dt,
                              last_value=int(lv) if lv is not None else None, owned_by=ob)
                 for s, n, o, dt, lv, ob in conn.execute(sql.SQL(_SEQUENCES).format(app=app)).fetchall()]
    large_objects = int(one(conn, "SELECT count(*) FROM pg_catalog.pg_largeobject_metadata")[0])

    role, rolrepl, rolsuper, rds_repl, wal_level, connlimit = one(conn, _ROLE)
    replication = ReplicationInfo(role=role, rolreplication=bool(rolrepl), rds_replication=bool(rds_repl),
                                  superuser=bool(rolsuper), wal_level=wal_level)
    max_conn, reserved, in_use = one(
        conn, "SELECT pg_catalog.current_setting('max_connections')::int, "
        "pg_catalog.current_setting('superuser_reserved_connections')::int, "
        "(SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'client backend')")
    connections = ConnectionInfo(max_connections=max_conn, reserved=reserved, in_use=in_use, role_limit=connlimit)

    lobs = measure(conn, app)
    parallel = plan_parallel_load(conn, tables, connections.available, dms_instance_class) if parallel_load else None
    unsupported = [e.name for e in extensions if not e.rds_supported]
    warnings: list[str] = []
    if without_key:
        warnings.append(f"{len(without_key)} table(s) without a primary key or unique NOT NULL index: DMS can "
                        f"copy them (full load) but cannot apply changes to them (CDC)")
    if unsupported:
        warnings.append(f"extension(s) not offered by RDS for PostgreSQL 15: {', '.join(unsupported)}")
    if large_objects:
        warnings.append(f"{large_objects} large object(s): DMS does not copy pg_largeobject; use dump-restore")
    if inheritance_parents:
        warnings.append(f"table inheritance (INHERITS) parent(s) {', '.join(inheritance_parents)}: a copy that "
                        f"reads parents without ONLY duplicates the children's rows; verify will show it")
    if not lobs.complete:
        warnings.append("the largest value of some LOB column(s) could not be measured in time: DMS will run in full "
                        "LOB mode (slower, nothing truncated)")
    if connections.available < 10:
        warnings.append(f"only {connections.available} connection(s) free of {max_conn}: DMS and pg_dump -j "
                        f"need several")
    if not replication.can_replicate:
        warnings.append(f"role {role} cannot replicate (no REPLICATION, not in rds_replication): DMS CDC is "
                        f"impossible; use a full load inside a write freeze")

    analysis = PostgresAnalysis(
        server_version=version, server_version_num=version_num, database=db, size_bytes=int(size),
        encoding=encoding, schemas=schemas, tables=tables, table_count=len(tables),
        rows_estimate=sum(t.rows_estimate or 0 for t in stored), tables_without_key=without_key,
        data_bytes=sum(t.size_bytes - t.index_bytes for t in stored), index_bytes=sum(t.index_bytes for t in stored),
        extensions=extensions, unsupported_extensions=unsupported, available_extensions=available,
        sequences=sequences, large_objects=large_objects, partitioned_tables=partitioned,
        inheritance_parents=inheritance_parents, extension_tables=extension_tables,
        replication=replication, connections=connections, warnings=warnings, lobs=lobs, parallel_load=parallel,
    )
    return analysis


def analyze(url: str, *, connect_timeout: int = 15, dms_instance_class: str | None = None,
            parallel_load: bool = False) -> PostgresAnalysis:
    """Analyse the database at ``url`` (a libpq URL or a Secrets Manager ARN), read-only.

    Raises ``DatabaseError`` with a password-free message when the server cannot be reached or
    the role may not read its catalog.
    """
    url = resolve_url(url, "database")
    with connect(url, label="database", application_name="heroku2aws-preflight",
                 connect_timeout=connect_timeout) as conn:
        conn.read_only = True
        try:
            analysis = analyze_connection(conn, dms_instance_class=dms_instance_class, parallel_load=parallel_load)
        except psycopg.Error as exc:
            raise DatabaseError(f"analysis failed: {scrub(str(exc).strip(), url)}") from None
        finally:
            conn.rollback()
    log.info("database analysed", extra={
        "database": analysis.database, "version": analysis.server_version, "size_bytes": analysis.size_bytes,
        "tables": analysis.table_count, "without_key": len(analysis.tables_without_key),
        "can_replicate": analysis.can_replicate, "warnings": analysis.warnings})
    return analysis


__all__ = [
    "INTERNAL_SCHEMAS", "RDS_PG15_EXTENSIONS", "ConnectionInfo", "ExtensionInfo", "PartitionedTableInfo",
    "PostgresAnalysis", "ReplicationInfo", "SequenceInfo", "TableInfo", "analyze", "analyze_connection",
    "extensions_missing_on",
]
