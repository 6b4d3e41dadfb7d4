"""Sequence sync: the target catches up with the source, respecting is_called, never going back."""

from __future__ import annotations

import pytest

from heroku2aws.postgres.common import DatabaseError
from heroku2aws.postgres.sequences import sync_sequences
from heroku2aws.postgres.verify import verify

pytestmark = pytest.mark.xdist_group("pg_sequences")

SCHEMA = """
CREATE TABLE orders (id serial PRIMARY KEY, note text);
CREATE TABLE tickets (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);
CREATE SEQUENCE ahead;
CREATE SEQUENCE fresh;
CREATE SEQUENCE down INCREMENT BY -1 MINVALUE -1000 MAXVALUE -1 START WITH -1;
CREATE SEQUENCE uncalled;
CREATE SCHEMA billing;
CREATE SEQUENCE billing.invoice_no START WITH 1000;
"""


def states(pgh, server, db):
    rows = pgh.run(server, db, """
        SELECT 'public.orders_id_seq', last_value, is_called FROM orders_id_seq UNION ALL
        SELECT 'public.tickets_id_seq', last_value, is_called FROM tickets_id_seq UNION ALL
        SELECT 'public.ahead', last_value, is_called FROM ahead UNION ALL
        SELECT 'public.fresh', last_value, is_called FROM fresh UNION ALL
        SELECT 'public.down', last_value, is_called FROM down UNION ALL
        SELECT 'public.uncalled', last_value, is_called FROM uncalled UNION ALL
        SELECT 'billing.invoice_no', last_value, is_called FROM billing.invoice_no""")
    return {name: (int(v), called) for name, v, called in rows}


@pytest.fixture
def db(pgh, source, target):
    name = pgh.same_db(source, target, SCHEMA)
    # The source has been in use; the target is as a schema copy leaves it, or partly ahead.
    pgh.run(source, name, """
        INSERT INTO orders (note) SELECT 'o' || g FROM generate_series(1, 42) g;
        INSERT INTO tickets DEFAULT VALUES; INSERT INTO tickets DEFAULT VALUES;
        SELECT setval('ahead', 10); SELECT nextval('down'); SELECT nextval('down'); SELECT nextval('down');
        SELECT setval('uncalled', 7, false); SELECT setval('billing.invoice_no', 1500)""")
    pgh.run(target, name, """
        SELECT setval('ahead', 500);            -- ahead of the source: must stay
        SELECT setval('down', -2);               -- descending, behind (-2 > -3)
        SELECT setval('uncalled', 6)             -- next is 7: equal to the source's next""")
    return name


def test_sync_sets_behind_sequences_respects_is_called_and_never_lowers(pgh, source, target, db):
    before = states(pgh, target, db)
    report = sync_sequences(source.url(db), target.url(db))
    after = states(pgh, target, db)
    by_name = {s.sequence: s for s in report.sequences}
    assert set(by_name) == set(after)
    assert report.missing_on_target == [] and report.ok

    assert after["public.orders_id_seq"] == (42, True)
    assert after["public.tickets_id_seq"] == (2, True)
    assert after["billing.invoice_no"] == (1500, True)
    assert after["public.down"] == (-3, True)  # descending: lower is further
    assert after["public.ahead"] == (500, True)  # never lowered
    assert after["public.uncalled"] == before["public.uncalled"] == (6, True)  # already hands out 7
    assert after["public.fresh"] == (1, False)

    o = by_name["public.orders_id_seq"]
    assert (o.source, o.target_before, o.target_after, o.changed) == (42, 1, 42, True)
    assert o.source_is_called and not o.target_before_is_called and o.target_after_is_called
    a = by_name["public.ahead"]
    assert (a.source, a.target_before, a.target_after, a.changed) == (10, 500, 500, False)
    assert report.changed == 4
    doc = report.model_dump(mode="json")
    assert {"sequence", "source", "target_before", "target_after"} <= set(doc["sequences"][0])

    # The next values on the target never repeat one the source handed out.
    assert pgh.run(target, db, "SELECT nextval('orders_id_seq')") == [(43,)]
    assert pgh.run(target, db, "SELECT nextval('down')") == [(-4,)]
    assert pgh.run(target, db, "SELECT nextval('uncalled')") == [(7,)]
    # A second run changes nothing.
    assert sync_sequences(source.url(db), target.url(db)).changed == 0


def test_is_called_false_is_carried(pgh, source, target, db):
    pgh.run(source, db, "SELECT setval('fresh', 20, false)")
    pgh.run(target, db, "SELECT setval('fresh', 5)")
    report = sync_sequences(source.url(db), target.url(db))
    fresh = next(s for s in report.sequences if s.sequence == "public.fresh")
    assert (fresh.target_after, fresh.target_after_is_called) == (20, False)
    assert pgh.run(target, db, "SELECT nextval('fresh')") == [(20,)]  # 20 was never handed out by the source


def test_verify_sees_behind_sequences_and_passes_after_sync(pgh, source, target, db):
    first = verify(source.url(db), target.url(db), tables=[])
    assert not first.match and first.tables == []
    assert {s.name for s in first.sequences if not s.match} == {
        "public.orders_id_seq", "public.tickets_id_seq", "billing.invoice_no", "public.down"}
    sync_sequences(source.url(db), target.url(db))
    assert verify(source.url(db), target.url(db), tables=[]).match


def test_dry_run_and_missing_sequences(pgh, source, target, db):
    pgh.run(target, db, "DROP SEQUENCE billing.invoice_no")
    before = states_without(pgh, target, db)
    report = sync_sequences(source.url(db), target.url(db), dry_run=True)
    assert report.dry_run and report.changed == 3 and states_without(pgh, target, db) == before
    assert report.missing_on_target == ["billing.invoice_no"] and not report.ok
    missing = next(s for s in report.sequences if s.sequence == "billing.invoice_no")
    assert missing.target_before is None and missing.note == "missing on target"


def states_without(pgh, server, db):
    return pgh.run(server, db, "SELECT last_value, is_called FROM orders_id_seq UNION ALL "
                               "SELECT last_value, is_called FROM down")


def test_unreachable_target_is_a_clear_error(source, db):
    with pytest.raises(DatabaseError) as info:
        sync_sequences(source.url(db), f"postgresql://postgres:{source.password}@127.0.0.1:1/{db}")
    assert "cannot connect to target" in str(info.value) and source.password not in str(info.value)
