"""The source database made read-only for the write freeze, proven by a write probe, and made writable again.

Maintenance mode and a formation of 0 stop the app's web and worker dynos, not one-off dynos (Heroku
Scheduler jobs, ``heroku run``) nor anything else holding the app's credential. So the freeze also holds at
the database itself:

1. ``ALTER DATABASE <db> SET default_transaction_read_only = on``: every *new* session starts read-only
   (PostgreSQL docs, "default_transaction_read_only"; a read-only transaction refuses INSERT, UPDATE,
   DELETE, COPY FROM, every CREATE / ALTER / DROP, ``nextval`` - while SELECT, ``COPY TO``, pg_dump and DMS
   full load, which only read, keep working). Heroku Postgres's default credential owns its database
   (Dev Center, "Heroku Postgres Credentials": the default credential has the database's full rights), and
   ``ALTER DATABASE … SET`` needs exactly that ownership.
2. Every other *client* session of the same role (and of roles it is a member of) is terminated with
   ``pg_terminate_backend`` - allowed to a member of the session's role (PostgreSQL docs, "Server
   Signaling Functions"), which is how ``heroku pg:kill`` works - so it reconnects read-only. Replication
   connections (``walsender``: DMS change capture) and our own tools (``application_name`` starting
   ``heroku2aws-``) are left alone. Sessions of roles we are not a member of cannot be terminated: they are
   counted and reported (``untouched_sessions``).
3. The write probe: a NEW session (so it gets the database's default) tries ``CREATE TEMP TABLE`` in a
   transaction that is rolled back. Only SQLSTATE 25006 ``read_only_sql_transaction`` counts as refused; the
   copy must not start otherwise.

Limits (in the README): a session may still ``SET default_transaction_read_only = off`` or ``BEGIN READ
WRITE`` on purpose - the freeze stops applications, not an operator determined to write.

Undo: ``ALTER DATABASE <db> RESET default_transaction_read_only`` from a session that first sets itself
read-write, then the role's other client sessions terminated again so they reconnect writable.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from ..redaction import scrub

__all__ = ["ReadOnlyReport", "make_read_only", "make_writable", "write_probe"]

CONNECT_TIMEOUT_S = 10
#: Our own tools' sessions (the rehearsal's DMS stand-in, the copy tasks) carry this application_name prefix.
OWN_APPLICATION_PREFIX = "heroku2aws-"

_OTHER_CLIENT_SESSIONS = """
    FROM pg_catalog.pg_stat_activity a
   WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'
     AND coalesce(a.application_name, '') NOT LIKE %(own)s
"""
_TERMINABLE = """
     AND a.usesysid IS NOT NULL AND pg_catalog.pg_has_role(current_user, a.usesysid, 'MEMBER')
     AND NOT coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = a.usesysid), false)
"""


@dataclass(frozen=True)
class ReadOnlyReport:
    database: str
    terminated: int           # sessions of the app's role ended so they reconnect read-only
    untouched_sessions: int   # client sessions of other roles (cannot be ended by the app's role)


class FreezeError(Exception):
    """The database could not be made read-only (message scrubbed of the URL's secrets)."""


def _connect(url: str, **kw) -> psycopg.Connection:
    try:
        return psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, application_name="heroku2aws-freeze", **kw)
    except psycopg.Error as exc:
        raise FreezeError(f"cannot connect to the source database: {scrub(str(exc), url)}") from None


def _terminate_others(conn: psycopg.Connection) -> tuple[int, int]:
    own = OWN_APPLICATION_PREFIX + "%"
    ended = conn.execute(f"SELECT count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(a.pid)) "
                         f"{_OTHER_CLIENT_SESSIONS} {_TERMINABLE}", {"own": own}).fetchone()
    others = conn.execute(f"SELECT count(*) {_OTHER_CLIENT_SESSIONS} AND NOT (true {_TERMINABLE})",
                          {"own": own}).fetchone()
    return int(ended[0] if ended else 0), int(others[0] if others else 0)


def _value(row: tuple | None) -> object:
    """The first column of a single-row query's row (these queries always return one)."""
    if row is None:
        raise psycopg.DataError("a single-row query returned no row")
    return row[0]


def make_read_only(url: str) -> ReadOnlyReport:
    """Steps 1 and 2 of the module docstring. Idempotent."""
    with _connect(url, autocommit=True) as conn:
        try:
            conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")  # a retry starts read-only
            database = str(_value(conn.execute("SELECT current_database()").fetchone()))
            conn.execute(sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(
                sql.Identifier(database)))
            terminated, untouched = _terminate_others(conn)
        except psycopg.Error as exc:
            raise FreezeError(f"cannot make the source database read-only: {scrub(str(exc), url)}") from None
    return ReadOnlyReport(database=database, terminated=terminated, untouched_sessions=untouched)


def write_probe(url: str) -> str | None:
    """None when a new session's write is refused as read-only; else what happened (the copy must not start)."""
    with _connect(url) as conn:
        try:
            conn.execute("CREATE TEMP TABLE heroku2aws_write_probe (id int)")
        except psycopg.errors.ReadOnlySqlTransaction:
            conn.rollback()
            return None
        except psycopg.Error as exc:
            conn.rollback()
            state = getattr(exc, "sqlstate", None) or "unknown"
            return f"the write probe failed for another reason than read-only (SQLSTATE {state}): not a proof"
        conn.rollback()
    return "a new session could still write (CREATE TEMP TABLE succeeded)"


def make_writable(url: str) -> tuple[bool, int]:
    """The undo: (whether the setting was there to reset, sessions terminated). Idempotent."""
    with _connect(url, autocommit=True) as conn:
        try:
            conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")
            database = str(_value(conn.execute("SELECT current_database()").fetchone()))
            was = _value(conn.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_db_role_setting s JOIN pg_catalog.pg_database d "
                "ON d.oid = s.setdatabase WHERE d.datname = current_database() AND s.setrole = 0 "
                "AND EXISTS (SELECT 1 FROM unnest(s.setconfig) c WHERE c LIKE 'default_transaction_read_only=%%'))"
            ).fetchone())
            if not was:
                return False, 0
            conn.execute(sql.SQL("ALTER DATABASE {} RESET default_transaction_read_only").format(
                sql.Identifier(database)))
            terminated, _ = _terminate_others(conn)
        except psycopg.Error as exc:
            raise FreezeError(f"cannot make the source database writable: {scrub(str(exc), url)}") from None
    return True, terminated
