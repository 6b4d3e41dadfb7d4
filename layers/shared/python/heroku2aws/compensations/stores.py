"""``target-database`` and ``target-redis``: the targets emptied so a re-run starts clean.

``target-database`` ``{schemas: [...]}``: non-``public`` schemas ``DROP SCHEMA … CASCADE`` then ``CREATE SCHEMA``;
in ``public`` every table, view, sequence, function and type (extension members left alone); the app's event
triggers dropped and the database's own settings reset (the copy brings both). Recorded only when
preflight found the target empty. Sessions that hold locks on those objects (the app's tasks) are terminated when
they block the drop. ``target-redis``: ``FLUSHALL`` on the target Redis when it has keys (recorded only when
preflight found it empty).

Emptying the targets never blocks the rollback: when it cannot be done it is reported ("NOT emptied"), and the next
preflight refuses a non-empty target.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from ..clients import connections
from ..contracts.ledger import TargetDatabase, TargetRedis
from ..postgres.common import INTERNAL_SCHEMAS, schema_is_internal
from ..redaction import scrub
from .progress import Progress

LOCK_TIMEOUT = "10s"

_SYSTEM = ("pg_catalog", "information_schema", "pg_toast")

# Application objects of one schema that no extension owns, with the DROP statement for each kind.
_PUBLIC_OBJECTS = """
SELECT kind, name, args FROM (
  SELECT CASE c.relkind WHEN 'v' THEN 1 WHEN 'm' THEN 1 WHEN 'f' THEN 2 ELSE 2 END AS ord,
         CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'
                        WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind,
         c.relname AS name, NULL::text AS args
    FROM pg_catalog.pg_class c
   WHERE c.relnamespace = %(ns)s AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
     AND NOT c.relispartition
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::regclass
                       AND d.objid = c.oid AND d.objsubid = 0 AND d.deptype IN ('e', 'a', 'i'))
  UNION ALL
  SELECT 3, CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
         p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)
    FROM pg_catalog.pg_proc p
   WHERE p.pronamespace = %(ns)s
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_proc'::regclass
                       AND d.objid = p.oid AND d.deptype = 'e')
  UNION ALL
  SELECT 4, CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.typname, NULL
    FROM pg_catalog.pg_type t
   WHERE t.typnamespace = %(ns)s AND t.typtype IN ('e', 'd', 'r', 'c', 'm')
     AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c')
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_type'::regclass
                       AND d.objid = t.oid AND d.deptype IN ('e', 'i'))
) o ORDER BY ord, kind, name
"""

_HAS_OBJECTS = """
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class WHERE relnamespace = %(ns)s)
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_proc WHERE pronamespace = %(ns)s)
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_type WHERE typnamespace = %(ns)s)
"""


# What the copy puts outside any schema: event triggers (not an extension's) and the database's own settings
# (ALTER DATABASE ... SET, copied from the source): a re-run would trip over the first, inherit the second.
_EVENT_TRIGGERS = """
SELECT e.evtname FROM pg_catalog.pg_event_trigger e
 WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_event_trigger'::regclass
                     AND d.objid = e.oid AND d.deptype = 'e')
"""
_HAS_SETTINGS = """
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_db_role_setting s JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
                WHERE d.datname = pg_catalog.current_database() AND s.setrole = 0)
"""


def _reset_database_wide(conn) -> list[str]:
    """Drop the app's event triggers and RESET the database's settings; each in its own savepoint (they need
    ownership: a refusal is reported, never blocks emptying the schemas)."""
    import psycopg

    done: list[str] = []
    for (name,) in conn.execute(_EVENT_TRIGGERS).fetchall():
        try:
            with conn.transaction():
                conn.execute(sql.SQL("DROP EVENT TRIGGER IF EXISTS {}").format(sql.Identifier(name)))
            done.append(f"event trigger {name} dropped")
        except psycopg.Error as exc:
            done.append(f"event trigger {name} NOT dropped ({type(exc).__name__})")
    if conn.execute(_HAS_SETTINGS).fetchone()[0]:
        try:
            with conn.transaction():
                db = conn.execute("SELECT pg_catalog.current_database()").fetchone()[0]
                conn.execute(sql.SQL("ALTER DATABASE {} RESET ALL").format(sql.Identifier(db)))
            done.append("database settings reset")
        except psycopg.Error as exc:
            done.append(f"database settings NOT reset ({type(exc).__name__})")
    return done


def _empty_schemas(conn, schemas: list[str]) -> list[str]:
    """Empty each schema in one transaction; the list of what was done (names only)."""
    done: list[str] = []
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT)))
        done += _reset_database_wide(conn)
        for schema in schemas:
            row = conn.execute("SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = %s", (schema,)).fetchone()
            if row is None:
                continue
            ns = row[0]
            if schema != "public":
                if not conn.execute(_HAS_OBJECTS, {"ns": ns}).fetchone()[0]:
                    continue
                conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
                done.append(f"schema {schema} dropped and created empty")
                continue
            dropped = 0
            for kind, name, args in conn.execute(_PUBLIC_OBJECTS, {"ns": ns}).fetchall():
                target: sql.Composable = sql.Identifier(schema, name)
                if args is not None:
                    target = sql.SQL("{}({})").format(target, sql.SQL(args))
                conn.execute(sql.SQL("DROP {} IF EXISTS {} CASCADE").format(sql.SQL(kind), target))
                dropped += 1
            if dropped:
                done.append(f"{dropped} object(s) dropped from schema public")
    return done


def _terminate_others(conn) -> int:
    """Terminate the other sessions on this database that this role may signal; how many."""
    rows = conn.execute(
        "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity "
        "WHERE datname = pg_catalog.current_database() AND pid <> pg_catalog.pg_backend_pid() "
        "AND backend_type = 'client backend' "
        "AND pg_catalog.pg_has_role(current_user, usesysid, 'MEMBER')").fetchall()
    return sum(1 for (ok,) in rows if ok)


def undo_target_database(item: TargetDatabase, cfg: dict[str, Any], progress: Progress) -> None:
    import psycopg

    arn = (cfg.get("target") or {}).get("postgres_secret_arn")
    if not arn:
        return
    url = connections.postgres_url(arn, default_sslmode=connections.TARGET_SSLMODE)
    try:
        conn = psycopg.connect(url, connect_timeout=15, application_name="heroku2aws-rollback", autocommit=True)
    except psycopg.Error as exc:
        progress.did(f"target database NOT emptied (cannot connect: {scrub(str(exc).strip(), url)[:200]}); "
                     "empty it before a re-run (preflight refuses a non-empty target)")
        return
    try:
        schemas = list(item.schemas)
        if not schemas:  # not recorded: every application schema (the target was empty at preflight)
            schemas = [r[0] for r in conn.execute(
                "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname <> ALL(%s) AND nspname NOT LIKE 'pg\\_%%' "
                "ORDER BY 1", (list(INTERNAL_SCHEMAS),)).fetchall()]
        schemas = [s for s in dict.fromkeys(schemas) if not schema_is_internal(s) and s not in _SYSTEM]
        for attempt in (1, 2):
            try:
                for line in _empty_schemas(conn, schemas):
                    progress.did(f"target database: {line}")
                return
            except psycopg.errors.LockNotAvailable:
                if attempt == 2:
                    progress.did("target database NOT emptied: other sessions hold locks on its tables; empty it "
                                 "before a re-run (preflight refuses a non-empty target)")
                    return
                n = _terminate_others(conn)
                progress.did(f"target database: terminated {n} session(s) that blocked emptying it")
    except psycopg.Error as exc:
        progress.did(f"target database NOT emptied ({type(exc).__name__}: {scrub(str(exc).strip(), url)[:200]}); "
                     "empty it before a re-run (preflight refuses a non-empty target)")
    finally:
        conn.close()


def undo_target_redis(item: TargetRedis, cfg: dict[str, Any], progress: Progress) -> None:
    import redis

    arn = (cfg.get("target") or {}).get("redis_secret_arn")
    if not arn:
        return
    url = connections.redis_url(arn)
    client = connections.redis_client(url)
    try:
        keyspace = client.info("keyspace")
        keys = sum(int(v.get("keys", 0)) for k, v in keyspace.items() if k.startswith("db") and isinstance(v, dict))
        if not keys:
            return
        client.flushall()
        progress.did(f"target Redis flushed ({keys} key(s))")
    except redis.RedisError as exc:
        progress.did(f"target Redis NOT flushed ({type(exc).__name__}: {scrub(str(exc), url)[:200]}); "
                     "flush it by hand before a re-run")
    finally:
        client.close()
