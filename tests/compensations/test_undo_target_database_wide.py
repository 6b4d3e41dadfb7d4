"""target-database also undoes what the copy puts outside any schema (issue 15): the app's event triggers and the
database-level settings copied from the source, so a re-run starts clean."""

from __future__ import annotations

import itertools

import pytest
from helpers import APP, create_secret, pg_secret_doc, run_compensation, with_changes

from heroku2aws_rehearsal.servers import PostgresServer

_names = itertools.count(1)

COPIED = """
CREATE TABLE public.t (id int PRIMARY KEY);
CREATE FUNCTION public.ddl_audit() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE EVENT TRIGGER app_ddl_audit ON ddl_command_end EXECUTE FUNCTION public.ddl_audit();
"""


@pytest.fixture(scope="module")
def rds():
    with PostgresServer(name="comp-wide-rds").start() as server:
        yield server


def test_given_event_triggers_and_settings_copied_when_undone_then_gone(rds, cfg, moto):
    db = f"wide{next(_names)}"
    rds.sql("postgres", f"CREATE DATABASE {db}")
    rds.sql(db, COPIED)
    rds.sql(db, f"ALTER DATABASE {db} SET timezone = 'America/New_York'; ALTER DATABASE {db} SET work_mem = '8MB'")
    arn = create_secret(f"heroku2aws/{APP}/target-postgres", pg_secret_doc(rds, db))
    progress = run_compensation("target-database", {"schemas": ["public"]}, with_changes(cfg, target__postgres_secret_arn=arn))
    assert rds.sql(db, "SELECT count(*) FROM pg_event_trigger").strip() == "0"
    assert rds.sql(db, "SELECT count(*) FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase "
                       f"WHERE d.datname = '{db}'").strip() == "0"
    assert rds.sql(db, "SELECT count(*) FROM pg_class WHERE relname = 't'").strip() == "0"
    text = " ".join(str(a) for a in progress.actions)
    assert "event trigger app_ddl_audit dropped" in text and "database settings reset" in text
    again = run_compensation("target-database", {"schemas": ["public"]}, with_changes(cfg, target__postgres_secret_arn=arn))
    assert "event trigger" not in " ".join(str(a) for a in again.actions)
