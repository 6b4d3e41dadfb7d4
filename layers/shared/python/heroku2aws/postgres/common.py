"""Connections and catalog conventions shared by the Postgres modules.

Every connection made here has its session settings pinned (``SESSION_SETTINGS``), so that the
text form of a value never depends on the server's, the database's or the role's defaults (time
zone, DateStyle, float digits, …). Errors raised here never carry a password: ``DatabaseError``
messages are scrubbed and the URL is shown through ``heroku2aws.redaction.redact``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from heroku2aws.clients import connections
from heroku2aws.redaction import redact, scrub

# Schemas that belong to PostgreSQL itself or to the platform, never to the application.
# heroku_ext: where Heroku installs extensions since 2022; _heroku: Heroku's event-trigger helpers.
INTERNAL_SCHEMAS: tuple[str, ...] = ("pg_catalog", "information_schema", "pg_toast", "heroku_ext", "_heroku")
# ...and schema name prefixes of the same kind (per-session temporary schemas).
INTERNAL_SCHEMA_PREFIXES: tuple[str, ...] = ("pg_temp_", "pg_toast_temp_")

# Pinned on every session: the text output of every type is then the same on both servers.
SESSION_SETTINGS: dict[str, str] = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, MDY",
    "IntervalStyle": "postgres",
    "extra_float_digits": "3",
    "bytea_output": "hex",
    "client_encoding": "UTF8",
    "lc_monetary": "C",
    "lc_numeric": "C",
    "xmloption": "content",
    "xmlbinary": "base64",
    "standard_conforming_strings": "on",
    # regclass & co. print schema-qualified, and our own SQL resolves to the catalog.
    "search_path": "pg_catalog",
    "statement_timeout": "0",
    "idle_in_transaction_session_timeout": "0",
    # JIT compiles one-off expressions at a cost that full scans rarely pay back.
    "jit": "off",
    # As pg_dump does: a table whose row-level security would hide rows from us is an error, never
    # a silently shorter count.
    "row_security": "off",
}

#: SQL: the database's own settings (``ALTER DATABASE <db> SET name = value``, for every role) as ``name=value``.
#: pg_dump writes them only with ``--create`` and for a database of the source's name: the copy applies them to
#: the target's database itself, and verification compares them. ``default_transaction_read_only`` is left out: on
#: the source it is the write freeze's own (heroku2aws.postgres.freeze), and copied it would make RDS read-only.
DATABASE_SETTINGS = """
SELECT c FROM pg_catalog.pg_db_role_setting s
  JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase, unnest(s.setconfig) c
 WHERE d.datname = pg_catalog.current_database() AND s.setrole = 0
   AND c NOT LIKE 'default\\_transaction\\_read\\_only=%%'
"""


class StructuredLog:
    """``heroku2aws.obs.get_logger(child)``, created on first use.

    Importing the observability stack (Powertools, X-Ray SDK) costs a fraction of a second; the
    ``pg-verify`` command line, which prints for people, switches structured logs off
    (``enabled = False``) and never pays for it. Lambda functions and tasks log as usual.
    """

    enabled = True

    def __init__(self, child: str):
        self._child = child
        self._logger: Any = None

    def __getattr__(self, name: str):
        if not StructuredLog.enabled:
            return _ignore
        if self._logger is None:
            from heroku2aws.obs import get_logger

            self._logger = get_logger(self._child)
        return getattr(self._logger, name)


#: SQL: the "schema.table.column" a sequence is owned by (serial / identity), for a query over pg_class c.
SEQUENCE_OWNED_BY = """(SELECT tn.nspname || '.' || t.relname || '.' || a.attname
          FROM pg_catalog.pg_depend d
          JOIN pg_catalog.pg_class t ON t.oid = d.refobjid
          JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
          JOIN pg_catalog.pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
         WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid
           AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype IN ('a', 'i')
           AND d.refobjsubid > 0
         LIMIT 1)"""


def _ignore(*_args, **_kwargs) -> None:
    return None


class DatabaseError(RuntimeError):
    """A connection or query failure, with a message safe to print (no password, no traceback needed)."""


def schema_is_internal(schema: str) -> bool:
    return schema in INTERNAL_SCHEMAS or schema.startswith(INTERNAL_SCHEMA_PREFIXES)


def internal_schema_filter(column: str = "n.nspname") -> sql.Composed:
    """A SQL condition true for application schemas (false for every schema in INTERNAL_SCHEMAS)."""
    col = sql.SQL(column)
    likes = sql.SQL(" AND ").join(
        sql.SQL("{} NOT LIKE {}").format(col, sql.Literal(p.replace("_", r"\_") + "%"))
        for p in INTERNAL_SCHEMA_PREFIXES
    )
    return sql.SQL("({} <> ALL({}) AND {})").format(col, sql.Literal(list(INTERNAL_SCHEMAS)), likes)


def qualified(schema: str, name: str) -> str:
    """The display name ``schema.name`` used in every report."""
    return f"{schema}.{name}"


_PLAIN_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_$]*")


def quote_ident(name: str) -> str:
    """``name`` as SQL writes it: bare when it is a plain lower-case identifier, else double-quoted."""
    return name if _PLAIN_IDENTIFIER.fullmatch(name) else '"' + name.replace('"', '""') + '"'


def unambiguous(schema: str, name: str) -> str:
    """``schema.name`` with each part quoted when needed: ``a."b.c"`` and ``"a.b".c`` stay two names."""
    return f"{quote_ident(schema)}.{quote_ident(name)}"


def resolve_url(value: str, label: str) -> str:
    """A literal URL, or the one a Secrets Manager ARN names; ``DatabaseError`` when it cannot be had."""
    if not value:
        raise DatabaseError(f"{label}: no database URL given")
    try:
        url = connections.resolve(value)
    except Exception as exc:  # boto3 / KeyError: clear message, never the secret
        raise DatabaseError(f"{label}: cannot read secret {value}: {type(exc).__name__}: {exc}") from None
    scheme = urlsplit(url).scheme if "://" in url else ""
    if scheme and scheme not in ("postgres", "postgresql"):
        raise DatabaseError(f"{label}: not a PostgreSQL URL ({redact(url)})")
    return url


def connect(
    url: str,
    *,
    label: str = "database",
    application_name: str = "heroku2aws",
    connect_timeout: int = 15,
    autocommit: bool = False,
    pin_settings: bool = True,
) -> psycopg.Connection:
    """A psycopg connection with pinned session settings; ``DatabaseError`` (scrubbed) on failure."""
    try:
        conn = psycopg.connect(url, connect_timeout=connect_timeout, application_name=application_name,
                               autocommit=autocommit)
    except (psycopg.Error, ValueError) as exc:
        msg = scrub(str(exc).strip(), url)
        raise DatabaseError(f"cannot connect to {label} ({redact(url)}): {msg}") from None
    if pin_settings:
        try:
            pin_session(conn)
        except psycopg.Error as exc:
            conn.close()
            raise DatabaseError(f"{label}: cannot set session settings: {scrub(str(exc), url)}") from None
        if not autocommit:
            conn.commit()  # session-level settings stay; the caller may now choose isolation / read-only
    return conn


def pin_session(conn: psycopg.Connection) -> None:
    """Apply SESSION_SETTINGS on ``conn`` (session level: they survive commits)."""
    names = list(SESSION_SETTINGS)
    if conn.info.server_version < 110000:
        names.remove("jit")
    query = sql.SQL("SELECT {}").format(sql.SQL(", ").join(
        sql.SQL("pg_catalog.set_config({}, {}, false)").format(sql.Literal(n), sql.Literal(SESSION_SETTINGS[n]))
        for n in names
    ))
    conn.execute(query)


def one(conn: psycopg.Connection, query: Any, params: Any = None) -> tuple[Any, ...]:
    """The one row ``query`` returns (a query that returns none is a ``DatabaseError``)."""
    row = conn.execute(query, params).fetchone()
    if row is None:
        raise DatabaseError("a query that returns one row returned none")
    return tuple(row)


def ident(*parts: str) -> sql.Identifier:
    return sql.Identifier(*parts)


def join(items: Iterable[sql.Composable], sep: str = ", ") -> sql.Composed:
    return sql.SQL(sep).join(list(items))
