"""pg-verify's verdicts on what it used to misjudge (issue 15): numeric NaN vs +-Infinity, large objects,
materialized views' contents, dotted identifiers, database-level settings, XML declarations -- and their
neighbours (float and date infinities, char(n) padding, unpopulated materialized views)."""

from __future__ import annotations

import pytest

from heroku2aws.postgres.verify import verify
from heroku2aws.tasks.pg_dump_restore import copy_database

pytestmark = pytest.mark.xdist_group("pg_verdicts")


def pair(pgh, source, target, src_sql: str, tgt_sql: str):
    name = pgh.new_db(source, src_sql)
    pgh.new_db(target, tgt_sql, name=name)
    return verify(source.url(name), target.url(name))


@pytest.mark.parametrize("column,a,b", [
    ("numeric", "'NaN'", "'Infinity'"),
    ("numeric", "'Infinity'", "'-Infinity'"),
    ("numeric", "'NaN'", "'-Infinity'"),
    ("numeric(10,2)", "'NaN'", "NULL"),
    ("float8", "'NaN'", "'Infinity'"),
    ("float4", "'-Infinity'", "'Infinity'"),
    ("date", "'infinity'", "'-infinity'"),
    ("timestamptz", "'infinity'", "'-infinity'"),
    ("char(3)", "'a'", "'b'"),
])
def test_given_special_values_that_differ_when_verified_then_a_mismatch(pgh, source, target, column, a, b):
    table = f"CREATE TABLE v (id int PRIMARY KEY, x {column}); INSERT INTO v VALUES (1, {{}}), (2, NULL);"
    result = pair(pgh, source, target, table.format(a), table.format(b))
    assert not result.match and result.differences == ["public.v"]
    same = pair(pgh, source, target, table.format(a), table.format(a))
    assert same.match, same.model_dump()


def test_given_char_n_with_padding_when_verified_then_it_is_the_same_value(pgh, source, target):
    """char(n) compares without its trailing blanks: its own hash (hashbpcharextended), no text cast."""
    result = pair(pgh, source, target, "CREATE TABLE c (id int PRIMARY KEY, x char(4)); INSERT INTO c VALUES (1, 'ab')",
                  "CREATE TABLE c (id int PRIMARY KEY, x char(4)); INSERT INTO c VALUES (1, 'ab  ')")
    assert result.match


def test_given_dotted_names_when_verified_then_a_dot_in_a_name_is_not_a_schema_separator(pgh, source, target):
    src = 'CREATE SCHEMA a; CREATE TABLE a."b.c" (id int PRIMARY KEY); INSERT INTO a."b.c" VALUES (1);'
    tgt = 'CREATE SCHEMA "a.b"; CREATE TABLE "a.b".c (id int PRIMARY KEY); INSERT INTO "a.b".c VALUES (1);'
    result = pair(pgh, source, target, src, tgt)
    assert not result.match
    assert {t.name: t.note for t in result.tables} == {'a."b.c"': "missing on target", '"a.b".c': "missing on source"}
    same = pair(pgh, source, target, src + tgt, src + tgt)
    assert same.match and {t.name for t in same.tables} == {'a."b.c"', '"a.b".c'}


MATVIEW = """CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t SELECT g, g FROM generate_series(1, 50) g;
CREATE MATERIALIZED VIEW mv AS SELECT v % 5 AS k, sum(v) AS s FROM t GROUP BY 1;"""


def test_given_a_stale_materialized_view_when_verified_then_a_mismatch(pgh, source, target):
    """The tables agree, the view's stored rows do not (refreshed on one side only)."""
    result = pair(pgh, source, target, MATVIEW + "UPDATE t SET v = v + 1; REFRESH MATERIALIZED VIEW mv;",
                  MATVIEW + "UPDATE t SET v = v + 1;")
    assert result.differences == ["public.mv"]
    assert next(t for t in result.tables if t.name == "public.mv").kind == "materialized view"


def test_given_an_unpopulated_materialized_view_when_verified_then_only_both_unpopulated_match(pgh, source, target):
    nodata = MATVIEW.replace("GROUP BY 1;", "GROUP BY 1 WITH NO DATA;")
    assert not pair(pgh, source, target, MATVIEW, nodata).match
    assert pair(pgh, source, target, nodata, nodata).match


def test_given_large_objects_when_verified_then_their_oids_and_contents_are_compared(pgh, source, target):
    base = "SELECT lo_from_bytea(424242, '\\x0001feff'::bytea); SELECT lo_from_bytea(424243, 'x');"
    assert pair(pgh, source, target, base, base).large_objects.match
    changed = pair(pgh, source, target, base, base.replace("'x'", "'y'"))
    assert not changed.match and changed.differences == ["large objects"]
    missing = pair(pgh, source, target, base, "SELECT lo_from_bytea(424242, '\\x0001feff'::bytea)")
    assert not missing.match and (missing.large_objects.count_source, missing.large_objects.count_target) == (2, 1)
    moved = pair(pgh, source, target, base, base.replace("424243", "424244"))
    assert not moved.match


def test_given_database_settings_when_verified_then_each_difference_is_named(pgh, source, target):
    name = pgh.new_db(source)
    pgh.new_db(target, name=name)
    pgh.run(source, name, f"ALTER DATABASE {name} SET timezone = 'America/New_York'; "
                          f"ALTER DATABASE {name} SET statement_timeout = '30s'")
    pgh.run(target, name, f"ALTER DATABASE {name} SET statement_timeout = '30s'")
    result = verify(source.url(name), target.url(name))
    assert not result.match and result.differences == ["database setting timezone"]
    pgh.run(target, name, f"ALTER DATABASE {name} SET timezone = 'America/New_York'")
    assert verify(source.url(name), target.url(name)).match


XML = """CREATE TABLE docs (id int PRIMARY KEY, body xml, parts xml[]);
INSERT INTO docs VALUES
  (1, '<?xml version="1.0"?><a x="1">t</a>', ARRAY['<?xml version="1.0" encoding="UTF-8"?><p/>'::xml]),
  (2, '<?xml version="1.0" standalone="yes"?><b/>', NULL),
  (3, 'plain <i>content</i> fragment', NULL);"""


def test_given_xml_with_declarations_when_copied_by_dump_then_it_verifies(pgh, source, target):
    """xml_out (COPY, pg_dump) leaves out a declaration that says no more than the defaults: same document."""
    name = pgh.new_db(source, XML)
    pgh.new_db(target, name=name)
    copy_database(source.url(name), target.url(name), jobs=1)
    assert pgh.run(target, name, "SELECT body::text FROM docs WHERE id = 1") == [('<a x="1">t</a>',)]
    result = verify(source.url(name), target.url(name))
    assert result.match, result.model_dump()
    for mode in ("text",):
        assert verify(source.url(name), target.url(name), mode=mode).match
    pgh.run(target, name, "UPDATE docs SET body = '<a x=\"2\">t</a>' WHERE id = 1")
    assert verify(source.url(name), target.url(name)).differences == ["public.docs"]
