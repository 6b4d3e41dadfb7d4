"""Heroku's own objects in the source (issue 15): event triggers whose function lives in ``_heroku``, extensions
installed into ``_heroku``, their comments. ``--exclude-schema=_heroku`` does not leave the event triggers out, so
the restore failed (``schema "_heroku" does not exist``) -- under the DMS strategies in the post-data step, inside
the write freeze. They are left out now; the app's own objects (its event trigger included) are all copied, and so
are the database-level settings (``ALTER DATABASE ... SET``)."""

from __future__ import annotations

import pytest

from heroku2aws.postgres.verify import verify
from heroku2aws.tasks.pg_dump_restore import TaskError, copy_database, filter_restore_list

pytestmark = pytest.mark.xdist_group("pg_dump_restore")

HEROKU = r"""
CREATE SCHEMA _heroku;
CREATE SCHEMA heroku_ext;
CREATE EXTENSION pg_stat_statements WITH SCHEMA heroku_ext;
CREATE EXTENSION pgcrypto WITH SCHEMA _heroku;
CREATE FUNCTION _heroku.create_ext() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE FUNCTION _heroku.extension_before_drop() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE EVENT TRIGGER log_create_ext ON ddl_command_end EXECUTE FUNCTION _heroku.create_ext();
CREATE EVENT TRIGGER extension_before_drop ON ddl_command_start EXECUTE FUNCTION _heroku.extension_before_drop();
COMMENT ON EVENT TRIGGER log_create_ext IS 'Heroku''s';
"""

APP = r"""
CREATE EXTENSION hstore WITH SCHEMA heroku_ext;
CREATE TABLE accounts (id bigserial PRIMARY KEY, name text NOT NULL, attrs heroku_ext.hstore);
CREATE INDEX accounts_name ON accounts (name);
CREATE TABLE notes (id int PRIMARY KEY, account_id bigint REFERENCES accounts, body text);
CREATE FUNCTION public.ddl_audit() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE EVENT TRIGGER app_ddl_audit ON ddl_command_end EXECUTE FUNCTION public.ddl_audit();
INSERT INTO accounts (name, attrs) SELECT 'a' || g, heroku_ext.hstore('k', g::text) FROM generate_series(1, 300) g;
INSERT INTO notes SELECT g, 1 + g % 300, 'n' || g FROM generate_series(1, 900) g;
"""

SETTINGS = r"""
ALTER DATABASE {db} SET timezone = 'America/New_York';
ALTER DATABASE {db} SET statement_timeout = '30s';
ALTER DATABASE {db} SET search_path = "$user", public, heroku_ext;
"""


@pytest.fixture(scope="module")
def heroku_db(pgh, source):
    db = pgh.new_db(source, HEROKU + APP)
    pgh.run(source, db, SETTINGS.format(db=db))
    return db


def _event_triggers(pgh, server, db):
    return {r[0] for r in pgh.run(server, db, "SELECT evtname FROM pg_event_trigger")}


def _db_settings(pgh, server, db):
    return sorted(pgh.run(server, db, "SELECT unnest(setconfig) FROM pg_db_role_setting s JOIN pg_database d "
                                      "ON d.oid = s.setdatabase WHERE d.datname = current_database() "
                                      "AND setrole = 0")[i][0] for i in range(3))


def test_given_heroku_event_triggers_when_copied_whole_then_left_out_and_the_app_complete(pgh, source, target,
                                                                                           heroku_db):
    db = pgh.new_db(target)
    summary = copy_database(source.url(heroku_db), target.url(db), jobs=2)
    assert set(summary["left_out"]) >= {"EVENT TRIGGER - log_create_ext postgres",
                                        "EVENT TRIGGER - extension_before_drop postgres", "EXTENSION - pgcrypto"}
    assert _event_triggers(pgh, target, db) == {"app_ddl_audit"}
    assert pgh.run(target, db, "SELECT count(*) FROM pg_namespace WHERE nspname = '_heroku'") == [(0,)]
    assert {r[0] for r in pgh.run(target, db, "SELECT extname FROM pg_extension")} >= {"hstore", "pg_stat_statements"}
    assert _db_settings(pgh, target, db) == _db_settings(pgh, source, heroku_db)
    result = verify(source.url(heroku_db), target.url(db), exact_sequences=True)
    assert result.match, result.model_dump()


def test_given_heroku_event_triggers_when_copied_around_a_dms_load_then_post_data_succeeds(pgh, source, target,
                                                                                            heroku_db):
    """The DMS strategies: pre-data, the rows (DMS; here the data section), then post-data -- where it failed."""
    db = pgh.new_db(target)
    copy_database(source.url(heroku_db), target.url(db), jobs=2, sections=["pre-data"])
    assert _db_settings(pgh, target, db) == _db_settings(pgh, source, heroku_db)  # the schema step copies them
    copy_database(source.url(heroku_db), target.url(db), jobs=2, sections=["data"])
    summary = copy_database(source.url(heroku_db), target.url(db), jobs=2, sections=["post-data"])
    assert "EVENT TRIGGER - log_create_ext postgres" in summary["left_out"]
    assert _event_triggers(pgh, target, db) == {"app_ddl_audit"}
    assert verify(source.url(heroku_db), target.url(db), exact_sequences=True).match


def test_given_a_failing_restore_when_run_then_the_error_names_the_object_and_the_step(pgh, source, target,
                                                                                        heroku_db):
    db = pgh.new_db(target)
    copy_database(source.url(heroku_db), target.url(db), jobs=2, sections=["pre-data"])
    pgh.run(target, db, "CREATE INDEX accounts_name ON accounts (id)")  # in the way of the app's index
    with pytest.raises(TaskError) as caught:
        copy_database(source.url(heroku_db), target.url(db), jobs=2, sections=["post-data"])
    message = str(caught.value)
    assert "pg_restore (post-data) failed on INDEX accounts_name" in message
    assert "partly restored" in message
    pgh.assert_no_secret(message, source, target)


def test_given_a_listing_when_filtered_then_only_the_managed_entries_and_their_comments_go():
    listing = ("; header\n2; 3079 16385 EXTENSION - hstore \n3503; 0 0 COMMENT - EXTENSION hstore \n"
               "4; 3079 16548 EXTENSION - pgcrypto \n3505; 0 0 COMMENT - EXTENSION pgcrypto \n"
               "3348; 3466 16586 EVENT TRIGGER - app_evt postgres\n"
               "3347; 3466 16547 EVENT TRIGGER - log_create_ext postgres\n"
               "3506; 0 0 COMMENT - EVENT TRIGGER log_create_ext postgres\n"
               "3507; 0 0 COMMENT - EVENT TRIGGER log_create_ext_2 postgres\n")
    kept, dropped = filter_restore_list(listing, [(3079, 16548, "EXTENSION", "pgcrypto"),
                                                  (3466, 16547, "EVENT TRIGGER", "log_create_ext")])
    assert dropped == ["EXTENSION - pgcrypto", "COMMENT - EXTENSION pgcrypto",
                       "EVENT TRIGGER - log_create_ext postgres", "COMMENT - EVENT TRIGGER log_create_ext postgres"]
    assert "hstore" in kept and "app_evt" in kept and "log_create_ext_2" in kept and "; header" in kept
