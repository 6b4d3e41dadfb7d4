"""Compensations that empty the targets (target-database, target-redis) — against real servers."""

from __future__ import annotations

import itertools

import psycopg
import pytest
from helpers import APP, create_secret, pg_secret_doc, run_compensation, with_changes

import heroku2aws.compensations.stores as comp
from heroku2aws_rehearsal.servers import PostgresServer, RedisServer, free_port

_names = itertools.count(1)

# What a copy leaves on the target: an app schema and public objects of every kind the drop handles.
COPIED = """
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE SCHEMA billing;
CREATE TYPE public.order_state AS ENUM ('new', 'paid');
CREATE DOMAIN public.money_cents AS bigint CHECK (VALUE >= 0);
CREATE TYPE public.address AS (street text, city text);
CREATE TABLE public.customers (id serial PRIMARY KEY, email text, addr public.address);
CREATE TABLE public.orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                            customer_id int REFERENCES public.customers, state public.order_state,
                            total public.money_cents) PARTITION BY RANGE (id);
CREATE TABLE public.orders_1 PARTITION OF public.orders FOR VALUES FROM (1) TO (1000000);
CREATE SEQUENCE public.invoice_numbers;
CREATE VIEW public.paid_orders AS SELECT * FROM public.orders WHERE state = 'paid';
CREATE MATERIALIZED VIEW public.order_counts AS SELECT customer_id, count(*) FROM public.orders GROUP BY 1;
CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER customers_touch BEFORE UPDATE ON public.customers FOR EACH ROW EXECUTE FUNCTION public.touch();
CREATE TABLE billing.invoices (id serial PRIMARY KEY, customer_id int REFERENCES public.customers);
INSERT INTO public.customers (email) VALUES ('a@example.com'), ('b@example.com');
INSERT INTO billing.invoices (customer_id) VALUES (1);
"""

OBJECTS = """
SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname IN ('public', 'billing')
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
"""


@pytest.fixture(scope="module")
def rds():
    with PostgresServer(name="f2-comp-rds").start() as server:
        yield server


@pytest.fixture(scope="module")
def cache():
    with RedisServer(name="f2-comp-cache", password="cache-Pw-5678").start() as server:
        yield server


@pytest.fixture
def target_db(rds, cfg, moto) -> dict:
    db = f"copied{next(_names)}"
    rds.sql("postgres", f"CREATE DATABASE {db}")
    rds.sql(db, COPIED)
    arn = create_secret(f"heroku2aws/{APP}/target-postgres", pg_secret_doc(rds, db))
    return {"db": db, "cfg": with_changes(cfg, target__postgres_secret_arn=arn)}


def _count(rds: PostgresServer, db: str, query: str) -> int:
    return int(rds.sql(db, query).strip())


def test_given_a_copied_target_when_undone_then_its_schemas_are_empty_and_still_there(rds, target_db):
    progress = run_compensation("target-database", {"schemas": ["public", "billing"]}, target_db["cfg"])
    db = target_db["db"]
    assert _count(rds, db, OBJECTS) == 0
    assert _count(rds, db, "SELECT count(*) FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n "
                           "ON n.oid = t.typnamespace WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'c')") == 0
    assert _count(rds, db, "SELECT count(*) FROM pg_catalog.pg_proc p WHERE pronamespace = 'public'::regnamespace "
                           "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.objid = p.oid "
                           "AND d.deptype = 'e')") == 0
    assert rds.sql(db, "SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_catalog.pg_namespace "
                       "WHERE nspname IN ('public', 'billing')").strip() == "billing,public"
    # the extension is not the migration's to drop
    assert rds.sql(db, "SELECT count(*) FROM pg_catalog.pg_extension WHERE extname = 'pgcrypto'").strip() == "1"
    assert any("billing dropped" in a for a in progress.actions)
    assert any("dropped from schema public" in a for a in progress.actions)
    assert progress.pending == []


def test_given_an_emptied_target_when_undone_again_then_nothing_is_done(rds, target_db):
    run_compensation("target-database", {"schemas": ["public", "billing"]}, target_db["cfg"])
    again = run_compensation("target-database", {"schemas": ["public", "billing"]}, target_db["cfg"])
    assert again.actions == [] and again.pending == []


def test_given_no_schemas_recorded_when_undone_then_every_application_schema_is_emptied(rds, target_db):
    run_compensation("target-database", {}, target_db["cfg"])
    assert _count(rds, target_db["db"], OBJECTS) == 0


def test_given_a_schema_that_was_never_created_when_undone_then_it_is_not_created(rds, target_db):
    progress = run_compensation("target-database", {"schemas": ["reporting", "pg_catalog"]}, target_db["cfg"])
    assert progress.actions == []
    assert _count(rds, target_db["db"], "SELECT count(*) FROM pg_namespace WHERE nspname = 'reporting'") == 0
    assert _count(rds, target_db["db"], OBJECTS) > 0  # the listed schemas only


def test_given_an_app_session_holding_a_lock_when_undone_then_it_is_ended_and_the_target_emptied(
        rds, target_db, monkeypatch):
    monkeypatch.setattr(comp, "LOCK_TIMEOUT", "500ms")
    holder = psycopg.connect(rds.url(target_db["db"]))
    holder.execute("LOCK TABLE public.customers IN ACCESS SHARE MODE")  # an open transaction, as a busy app has
    try:
        progress = run_compensation("target-database", {"schemas": ["public", "billing"]}, target_db["cfg"])
    finally:
        holder.close()
    assert any("terminated 1 session" in a for a in progress.actions)
    assert _count(rds, target_db["db"], OBJECTS) == 0


def test_given_an_unreachable_target_when_undone_then_it_is_reported_and_the_rollback_goes_on(rds, cfg, moto):
    doc = {**pg_secret_doc(rds), "port": free_port()}
    arn = create_secret(f"heroku2aws/{APP}/target-postgres-down", doc)
    progress = run_compensation("target-database", {"schemas": ["public"]}, with_changes(cfg, target__postgres_secret_arn=arn))
    assert progress.pending == []
    assert "NOT emptied" in progress.actions[0]
    assert rds.password not in progress.actions[0]


def test_given_no_target_database_secret_when_undone_then_nothing_happens(cfg):
    cfg = {k: v for k, v in cfg.items() if k != "target"}
    assert run_compensation("target-database", {"schemas": ["public"]}, cfg).actions == []


# ------------------------------------------------------------------------------ Redis


@pytest.fixture
def target_redis(cache, cfg, moto) -> dict:
    for n in range(16):
        cache.client(n).flushdb()
    arn = create_secret(f"heroku2aws/{APP}/target-redis", {"url": cache.url()})
    return with_changes(cfg, target__redis_secret_arn=arn)


def test_given_a_restored_target_redis_when_undone_then_every_database_is_flushed_once(cache, target_redis):
    cache.client(0).set("a", "1")
    cache.client(5).rpush("q", "x", "y")
    first = run_compensation("target-redis", {}, target_redis)
    assert first.actions == ["target Redis flushed (2 key(s))"]
    assert cache.client(0).dbsize() == 0 and cache.client(5).dbsize() == 0
    second = run_compensation("target-redis", {}, target_redis)
    assert second.actions == []


def test_given_an_unreachable_target_redis_when_undone_then_it_is_reported_without_the_password(cfg, moto):
    arn = create_secret(f"heroku2aws/{APP}/target-redis-down", {"url": f"redis://:cache-Pw-5678@127.0.0.1:{free_port()}/0"})
    progress = run_compensation("target-redis", {}, with_changes(cfg, target__redis_secret_arn=arn))
    assert progress.pending == []
    assert "NOT flushed" in progress.actions[0]
    assert "cache-Pw-5678" not in progress.actions[0]


def test_given_an_app_without_redis_when_undone_then_nothing_happens(cfg):
    assert run_compensation("target-redis", {}, with_changes(cfg, target__redis_secret_arn=None)).actions == []

