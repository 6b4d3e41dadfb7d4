"""Stage 6 verification: Postgres parity, sequence sync, Redis parity — against real servers.

The source plays Heroku (PostgreSQL with TLS, Redis with TLS and a password), the target RDS and
ElastiCache. Connection secrets live in moto; each test gets fresh databases and empty Redis.
"""

from __future__ import annotations

import itertools
import json

import pytest
from helpers import APP, EXECUTION_ID, create_secret, load_handler, pg_secret_doc, with_changes

from heroku2aws.contracts.errors import DataMismatch
from heroku2aws.postgres.common import DatabaseError
from heroku2aws_rehearsal.servers import PostgresServer, RedisServer

_names = itertools.count(1)

SCHEMA = """
CREATE TABLE customers (id serial PRIMARY KEY, email text NOT NULL, note text);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int REFERENCES customers, total numeric(10,2),
                     placed_at timestamptz);
CREATE SEQUENCE invoice_numbers START 1000;
INSERT INTO customers (email, note) SELECT 'c' || g || '@example.com', 'vip-note-' || g FROM generate_series(1, 50) g;
INSERT INTO orders (customer_id, total, placed_at)
  SELECT 1 + g % 50, g * 1.25, timestamptz '2024-01-01' + g * interval '1 hour' FROM generate_series(1, 200) g;
SELECT nextval('invoice_numbers') FROM generate_series(1, 7);
"""


@pytest.fixture(scope="module")
def servers():
    with PostgresServer(name="f2-heroku-pg", ssl=True).start() as spg, PostgresServer(name="f2-rds").start() as tpg, \
            RedisServer(name="f2-heroku-redis", tls=True, password="src-redis-Pw-0987").start() as sr, \
            RedisServer(name="f2-elasticache", password="tgt-redis-Pw-1234").start() as tr:
        yield {"spg": spg, "tpg": tpg, "sr": sr, "tr": tr}


@pytest.fixture
def world(servers, cfg, moto):
    """Same data on both sides: a fresh database pair, both Redis flushed and filled alike; the input."""
    db = f"app{next(_names)}"
    for server in (servers["spg"], servers["tpg"]):
        server.sql("postgres", f"CREATE DATABASE {db}")
        server.sql(db, SCHEMA)
    for r in (servers["sr"], servers["tr"]):
        for n in (0, 3):
            client = r.client(n)
            client.flushdb()
            client.set("greeting", "hello")
            client.hset("user:1", mapping={"name": "Ada", "plan": "pro"})
            client.rpush("queue", *[f"job-{i}" for i in range(20)])
            client.set(f"session:{n}", "token-value", ex=3600)
    arns = {
        "spg": create_secret(f"heroku2aws/{APP}/source-postgres", pg_secret_doc(servers["spg"], db)),
        "tpg": create_secret(f"heroku2aws/{APP}/target-postgres", pg_secret_doc(servers["tpg"], db)),
        "sr": create_secret(f"heroku2aws/{APP}/source-redis", {"url": servers["sr"].url()}),
        "tr": create_secret(f"heroku2aws/{APP}/target-redis", {"url": servers["tr"].url()}),
    }
    doc = with_changes(cfg, source__postgres_secret_arn=arns["spg"], target__postgres_secret_arn=arns["tpg"],
                       source__redis_secret_arn=arns["sr"], target__redis_secret_arn=arns["tr"])
    return {"db": db, "input": doc, **servers}


def _verify(world: dict, context, **changes) -> dict:
    cfg = with_changes(world["input"], **changes) if changes else world["input"]
    return load_handler("verify_data")({"input": cfg, "execution_id": EXECUTION_ID}, context)


def _secrets(world: dict) -> list[str]:
    return [world["spg"].password, world["tpg"].password, "src-redis-Pw-0987", "tgt-redis-Pw-1234"]


def _assert_clean(text: str, world: dict) -> None:
    for value in _secrets(world):
        assert value not in text


def test_given_identical_stores_when_verified_then_everything_matches(world, context, capsys):
    result = _verify(world, context)
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    figures = {k: v for doc in emf for k, v in doc.items() if not k.startswith("_")}
    assert figures["PostgresRowsVerified"] == [250] and figures["PostgresTablesVerified"] == [2]
    assert figures["RedisKeysVerified"] == [8] and "PostgresVerifySeconds" in figures  # the operator's figures
    assert result["postgres"]["match"] is True
    assert result["postgres"]["tables"] == 2 and result["postgres"]["rows"] == 250
    assert result["postgres"]["mismatched"] == []
    assert result["sequences"] == {"synced": 0, "total": 3, "missing_on_target": []}
    assert result["redis"]["match"] is True
    assert result["redis"]["keys"] == 8
    assert result["redis"]["mismatched_keys"] == [] and result["redis"]["mismatched_dbs"] == []
    _assert_clean(json.dumps(result), world)


def test_given_target_sequences_behind_when_verified_then_they_are_set_past_the_source(world, context):
    # DMS copies rows, not sequence values: the target's sequences start from scratch.
    world["tpg"].sql(world["db"], "SELECT setval('customers_id_seq', 1, false); SELECT setval('invoice_numbers', 1000, false)")
    result = _verify(world, context)
    assert result["sequences"]["synced"] == 2
    assert world["tpg"].sql(world["db"], "SELECT nextval('customers_id_seq')").strip() == "51"
    assert world["tpg"].sql(world["db"], "SELECT nextval('invoice_numbers')").strip() == "1007"
    assert _verify(world, context)["sequences"]["synced"] == 0  # the next run finds nothing to move


def test_given_a_changed_row_on_the_target_when_verified_then_data_mismatch_names_the_table_only(world, context):
    world["tpg"].sql(world["db"], "UPDATE customers SET note = 'tampered-note' WHERE id = 7")
    with pytest.raises(DataMismatch) as err:
        _verify(world, context)
    message = str(err.value)
    assert "public.customers" in message and "public.orders" not in message
    assert "1 of 2 tables differ" in message
    assert "tampered-note" not in message and "vip-note-7" not in message
    _assert_clean(message, world)


def test_given_the_copy_step_verified_the_tables_when_verified_then_postgres_is_not_compared_again(world, context,
                                                                                                  monkeypatch):
    """Issue 18: the streaming copy task (or the post-data task, or the drain check) verified every table inside the
    freeze; this step only sets sequences and checks Redis -- the tables are not compared a second time (and no
    database size makes this Lambda outrun its 900 s)."""
    import heroku2aws.postgres.verify as pg_verify

    def no_second_check(*_args, **_kwargs):
        raise AssertionError("the Postgres tables were compared again")

    monkeypatch.setattr(pg_verify, "verify", no_second_check)
    world["tpg"].sql(world["db"], "SELECT setval('invoice_numbers', 1000, false)")
    cfg = world["input"]
    result = load_handler("verify_data")({"input": cfg, "execution_id": EXECUTION_ID,
                                          "postgres_verified_by": "copy task"}, context)
    assert result["postgres"]["match"] is True and result["postgres"]["verified_by"] == "copy task"
    assert result["postgres"]["tables"] is None and result["postgres"]["rows"] is None
    assert result["sequences"]["synced"] == 1 and result["redis"]["match"] is True
    with pytest.raises(Exception, match="postgres_verified_by"):  # only the names the ASL passes
        load_handler("verify_data")({"input": cfg, "execution_id": EXECUTION_ID,
                                     "postgres_verified_by": "somebody"}, context)


def test_given_a_table_missing_on_the_target_when_verified_then_data_mismatch_names_it(world, context):
    world["spg"].sql(world["db"], "CREATE TABLE audit_log (id int PRIMARY KEY); INSERT INTO audit_log VALUES (1)")
    with pytest.raises(DataMismatch, match="public.audit_log"):
        _verify(world, context)


def test_given_a_sequence_missing_on_the_target_when_verified_then_data_mismatch_names_it(world, context):
    world["tpg"].sql(world["db"], "DROP SEQUENCE invoice_numbers")
    with pytest.raises(DataMismatch, match=r"1 sequences missing on the target: public\.invoice_numbers"):
        _verify(world, context)


def test_given_a_redis_key_missing_on_the_target_when_verified_then_data_mismatch_names_db_and_key(world, context):
    world["tr"].client(3).delete("user:1")
    with pytest.raises(DataMismatch) as err:
        _verify(world, context)
    message = str(err.value)
    assert "Redis" in message and "db3" in message
    assert "Postgres" not in message
    _assert_clean(message, world)


def test_given_a_redis_value_that_differs_when_verified_then_the_key_is_named_and_not_its_value(
        world, context, monkeypatch):
    import heroku2aws.steps.verify_data as vd

    monkeypatch.setattr(vd, "REDIS_SAMPLE", 1.0)
    world["tr"].client(0).hset("user:1", "plan", "free-tier-secret")
    with pytest.raises(DataMismatch) as err:
        _verify(world, context)
    message = str(err.value)
    assert "db0:user:1" in message
    assert "free-tier-secret" not in message and "pro" not in message.split("db0:user:1")[1]


def test_given_an_app_without_redis_when_verified_then_redis_is_null(world, context):
    world["tr"].client(0).flushall()  # would mismatch, were Redis verified
    result = _verify(world, context, source__redis_secret_arn=None, target__redis_secret_arn=None)
    assert result["redis"] is None
    assert result["postgres"]["match"] is True


def test_given_an_unreachable_target_when_verified_then_the_error_has_no_password(world, context):
    doc = {**pg_secret_doc(world["tpg"], world["db"]), "port": 1}
    arn = create_secret(f"heroku2aws/{APP}/target-postgres-down", doc)
    with pytest.raises(DatabaseError) as err:
        _verify(world, context, target__postgres_secret_arn=arn)
    _assert_clean(str(err.value), world)


def _drained(world: dict, context) -> dict:
    return load_handler("verify_data")({"input": world["input"], "execution_id": EXECUTION_ID,
                                        "check": "cdc-drained"}, context)


def test_given_change_capture_still_behind_when_asked_then_not_drained_until_the_target_catches_up(world, context):
    # The write freeze is on; CDC has yet to apply the source's last writes to the target.
    world["spg"].sql(world["db"], "UPDATE orders SET total = total + 1 WHERE id <= 3; DELETE FROM orders WHERE id = 200")
    world["tr"].client(0).flushall()  # Redis is not CDC's business: it must not count
    behind = _drained(world, context)
    assert behind == {"drained": False, "tables": 2, "rows": 250,
                      "mismatched": ["public.orders"], "mismatched_count": 1}
    # when the last changes arrive on the target,
    world["tpg"].sql(world["db"], "UPDATE orders SET total = total + 1 WHERE id <= 3; DELETE FROM orders WHERE id = 200")
    # then it is drained, and sequences (which DMS never carries) are neither compared nor moved.
    world["tpg"].sql(world["db"], "SELECT setval('invoice_numbers', 1000, false)")
    assert _drained(world, context) == {"drained": True, "tables": 2, "rows": 249, "mismatched": [],
                                        "mismatched_count": 0}
    assert world["tpg"].sql(world["db"], "SELECT last_value FROM invoice_numbers").strip() == "1000"


def test_given_an_unknown_check_when_invoked_then_the_event_is_refused(world, context):
    from heroku2aws.contracts.errors import InvalidInput

    with pytest.raises(InvalidInput, match="check"):
        load_handler("verify_data")({"input": world["input"], "execution_id": EXECUTION_ID, "check": "guess"}, context)
