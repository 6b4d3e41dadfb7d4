"""The one helpers module of the tests (``from helpers import …``; ``tests/`` is on the path through its conftest).

- running a function's handler in-process (:func:`load_handler`, :class:`FakeLambdaContext`);
- execution inputs and events (:data:`EXECUTION_ID`, :func:`normalised_input`, :func:`with_changes`,
  :func:`to_boto` for the requests the ASL sends), secrets in the emulated account (:func:`create_secret`,
  :func:`pg_secret_doc`);
- Postgres: a pair of throw-away clusters per test module and :class:`PgHelpers`;
- Redis: servers, :func:`seed_every_type` and the comparisons :func:`assert_same` / :func:`assert_ttls_close`.

Fixtures defined here are imported by the conftest or the test module that uses them.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import itertools
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXECUTION_ID = "arn:aws:states:us-east-1:123456789012:execution:heroku2aws-acme-storefront:run-1"
APP = "acme-storefront"

# ------------------------------------------------------------------------------ Lambda


@dataclass
class FakeLambdaContext:
    function_name: str = "test-function"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "stream"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def load_handler(name: str):
    """``functions/<name>/app.py``'s ``lambda_handler`` (every function's module is called app)."""
    path = ROOT / "functions" / name / "app.py"
    module_name = f"h2a_function_{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module.lambda_handler


# ------------------------------------------------------------------------------ inputs, events, secrets


def normalised_input() -> dict[str, Any]:
    """The production example input, validated and with every default filled (as stage 1 returns it)."""
    from heroku2aws.contracts.input import ExecutionInput

    return ExecutionInput.model_validate(raw_production_input()).model_dump(mode="json")


def raw_production_input() -> dict[str, Any]:
    """The production example input as a user writes it (``events/production.json``)."""
    return json.loads((ROOT / "events" / "production.json").read_text())


def with_changes(doc: dict, **paths) -> dict:
    """A deep copy of ``doc`` with dotted paths set (``ecs__port=1`` sets doc["ecs"]["port"], ``heroku__api_url="http://…"``)."""
    out = copy.deepcopy(doc)
    for dotted, value in paths.items():
        keys = dotted.split("__")
        node = out
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return out


@functools.cache
def _service_model(service: str):
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def to_boto(service: str, operation: str, params: dict) -> dict:
    """Step Functions' PascalCase request -> boto3's parameter names, checked against botocore's shape.

    A key that is not a member of the operation's input shape fails the test (as AWS would refuse it).
    """
    shape = _service_model(service).operation_model(operation).input_shape

    def convert(value, shape):
        if shape.type_name == "structure":
            members = {name.lower(): name for name in shape.members}
            out = {}
            for key, item in value.items():
                name = members.get(key.lower())
                assert name is not None, f"{operation}: {key!r} is not a member of {shape.name}"
                out[name] = convert(item, shape.members[name])
            return out
        if shape.type_name == "list":
            return [convert(item, shape.member) for item in value]
        if shape.type_name == "map":
            return {k: convert(v, shape.value) for k, v in value.items()}
        return value

    return convert(params, shape)


def create_secret(name: str, value: Any, *, app: str = APP) -> str:
    """A secret in the (moto) account, tagged for the app as the deploy guide asks; its ARN."""
    text = value if isinstance(value, str) else json.dumps(value)
    return boto3.client("secretsmanager").create_secret(
        Name=name, SecretString=text, Tags=[{"Key": "heroku2aws:app", "Value": app}])["ARN"]


def pg_secret_doc(server, dbname: str = "postgres") -> dict[str, Any]:
    """The connection secret (DMS format) of a PostgresServer, as its superuser."""
    doc = {"engine": "postgres", "host": "127.0.0.1", "port": server.port, "username": server.superuser,
           "password": server.password, "dbname": dbname}
    if server.ssl:
        doc["sslmode"] = "require"
    return doc


# ------------------------------------------------------------------------------ compensations and the rollback

ZONE = "acme-example.com"
RECORD = "shop.acme-example.com"
HEROKU_TARGET = "tranquil-reef-8k2lq9x1vbn3m5c7z4a6s0d8.herokudns.com"
ALB = "acme-storefront-1234567890.us-east-1.elb.amazonaws.com"
TOKEN = "HRKU-comp-0123456789abcdef0123456789abcdef"


def run_compensation(kind: str, item: dict, cfg: dict) -> Any:
    """The compensation of ``kind`` run once on a ledger entry, as the rollback runs it; its Progress."""
    from heroku2aws.compensations import COMPENSATIONS, Progress
    from heroku2aws.contracts.ledger import parse_entry

    progress = Progress()
    COMPENSATIONS[kind](parse_entry({"kind": kind, **item}), cfg, progress)
    return progress


@pytest.fixture
def zone(moto) -> str:
    r53 = boto3.client("route53")
    return r53.create_hosted_zone(Name=ZONE, CallerReference="t")["HostedZone"]["Id"].split("/")[-1]


def records(zone_id: str) -> list[dict]:
    sets = boto3.client("route53").list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return sorted((rs for rs in sets if rs["Name"] == RECORD + "."), key=lambda rs: rs.get("SetIdentifier", ""))


def weighted(zone_id: str, original: list[dict], aws_weight: int) -> None:
    """What stage 4 does: the plain CNAME out, weighted heroku/aws CNAMEs in (one batch), then a step."""
    changes = [{"Action": "DELETE", "ResourceRecordSet": rs} for rs in original if not rs.get("SetIdentifier")]
    for ident, weight, value in (("heroku", 100 - aws_weight, HEROKU_TARGET), ("aws", aws_weight, ALB)):
        changes.append({"Action": "UPSERT", "ResourceRecordSet": {
            "Name": RECORD, "Type": "CNAME", "SetIdentifier": ident, "Weight": weight, "TTL": 60,
            "ResourceRecords": [{"Value": value}]}})
    boto3.client("route53").change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})


def dns_item(zone_id: str, original: list[dict]) -> dict:
    # the ledger item passes through JSON (Step Functions state)
    return json.loads(json.dumps({"zone_id": zone_id, "record_name": RECORD, "original": original,
                                  "heroku_target": HEROKU_TARGET, "alb_target": ALB, "ttl": 60}))


@pytest.fixture
def plain_cname(zone) -> list[dict]:
    boto3.client("route53").change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{
        "Action": "CREATE", "ResourceRecordSet": {"Name": RECORD, "Type": "CNAME", "TTL": 300,
                                                  "ResourceRecords": [{"Value": HEROKU_TARGET}]}}]})
    return records(zone)


@pytest.fixture(name="heroku")
def frozen_heroku():
    """FakeHeroku with the app frozen (maintenance on, no dynos), as the write freeze leaves it."""
    from heroku2aws_rehearsal.heroku_api import FakeHeroku

    with FakeHeroku(token=TOKEN) as fake:
        fake.add_app(APP, maintenance=True, formation=[
            {"type": "web", "quantity": 0, "size": "Standard-2X"}, {"type": "worker", "quantity": 0,
                                                                     "size": "Standard-1X"}])
        yield fake


@pytest.fixture
def heroku_cfg(cfg, moto, heroku) -> dict:
    arn = create_secret(f"heroku2aws/{APP}/heroku-api-key", TOKEN)
    return with_changes(cfg, heroku__api_key_secret_arn=arn, heroku__api_url=heroku.url)


FORMATION = [{"type": "web", "quantity": 3, "size": "Standard-2X", "command": "puma"},
             {"type": "worker", "quantity": 1, "size": "Standard-1X", "command": "sidekiq"}]


# ------------------------------------------------------------------------------ Postgres

_db_names = itertools.count(1)


@pytest.fixture(scope="module", name="servers")
def pg_servers():
    """Two PostgreSQL clusters for the test module (``source`` plays Heroku Postgres, ``target`` RDS), started side
    by side (initdb is most of a test module's set-up); scram over TCP with random passwords, so a password leaking
    into any output is caught by ``pgh.assert_no_secret``."""
    from heroku2aws_rehearsal.servers import PostgresServer

    pair = [PostgresServer(name="t-source", ssl=False), PostgresServer(name="t-target", ssl=False)]
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda s: s.start(), pair))
        yield pair
    finally:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda s: s.stop(), pair))


@pytest.fixture(scope="module", name="source")
def pg_source(servers):
    return servers[0]


@pytest.fixture(scope="module", name="target")
def pg_target(servers):
    return servers[1]


class PgHelpers:
    """Databases from SQL on the test clusters, and the check that no password leaked."""

    @staticmethod
    def run(server: Any, db: str, sql: str) -> list[tuple]:
        """Run SQL (one or more statements) as the superuser; the rows of the last one."""
        import psycopg

        with psycopg.connect(server.url(db), autocommit=True) as conn:
            cur = conn.execute(sql)
            return cur.fetchall() if cur.description else []

    def new_db(self, server: Any, sql: str | None = None, *, template: str | None = None,
               name: str | None = None) -> str:
        """Create a database (from ``template`` if given, then run ``sql`` in it); return its name."""
        name = name or f"db{next(_db_names)}"
        self.run(server, "postgres", f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        if sql:
            self.run(server, name, sql)
        return name

    def same_db(self, source: Any, target: Any, sql: str) -> tuple[str, str]:
        """The same database (same name, same SQL) on both servers; returns its name."""
        name = self.new_db(source, sql)
        self.new_db(target, sql, name=name)
        return name

    @staticmethod
    def assert_no_secret(text: str, *servers: Any) -> None:
        for s in servers:
            assert s.password not in text, "a password leaked into the output"


@pytest.fixture(scope="session")
def pgh() -> PgHelpers:
    return PgHelpers()


# ------------------------------------------------------------------------------ Redis

SOURCE_PASSWORD = "src-Pa55word-never-printed"
TARGET_PASSWORD = "tgt-Pa55word-never-printed"


@pytest.fixture(name="source")
def redis_source():
    """A Redis with a password, playing Heroku Redis (each test its own)."""
    from heroku2aws_rehearsal.servers import RedisServer

    with RedisServer(name="test-src", password=SOURCE_PASSWORD).start() as s:
        yield s


@pytest.fixture(name="target")
def redis_target():
    """A Redis with a password, playing ElastiCache."""
    from heroku2aws_rehearsal.servers import RedisServer

    with RedisServer(name="test-tgt", password=TARGET_PASSWORD).start() as s:
        yield s


def seed_every_type(r, prefix: str = "", ttl_ms: int | None = None) -> list[str]:
    """Keys of every type in their compact and their large encodings; returns the key names."""
    p = r.pipeline(transaction=False)
    keys = []

    def k(name: str) -> str:
        keys.append(prefix + name)
        return prefix + name

    p.set(k("str:embstr"), "hello")
    p.set(k("str:int"), 12345)
    p.set(k("str:raw"), "x" * 5000)
    p.set(k("str:binary"), bytes(range(256)) * 3)
    p.setbit(k("str:bitmap"), 100_000, 1)
    p.pfadd(k("str:hll"), *[f"u{i}" for i in range(500)])
    p.rpush(k("list:small"), "a", "b", "c", "a")
    p.rpush(k("list:big"), *[f"item-{i}" for i in range(3000)])
    p.sadd(k("set:intset"), *range(100))
    p.sadd(k("set:listpack"), "a", "b", "c")
    p.sadd(k("set:hashtable"), *[f"m{i}" for i in range(2000)])
    p.zadd(k("zset:small"), {"a": 1.5, "b": -2, "c": 1e300})
    p.zadd(k("zset:skiplist"), {f"m{i}": i / 7 for i in range(2000)})
    p.geoadd(k("zset:geo"), (13.361389, 38.115556, "Palermo"), (15.087269, 37.502669, "Catania"))
    p.hset(k("hash:small"), mapping={"f1": "v1", "f2": "v2"})
    p.hset(k("hash:big"), mapping={f"field{i}": f"value{i}" * 3 for i in range(2000)})
    for i in range(50):
        p.xadd(k("stream:s") if i == 0 else prefix + "stream:s", {"n": i, "who": f"user{i}"}, id=f"{1000 + i}-{i % 3}")
    p.xgroup_create(prefix + "stream:s", "g1", id="0")
    p.xgroup_create(prefix + "stream:s", "g2", id="1010-0")
    p.execute()
    # pending entries in g1, a deleted entry, and an empty stream with a group
    r.xreadgroup("g1", "consumer-a", {prefix + "stream:s": ">"}, count=5)
    r.xdel(prefix + "stream:s", "1049-1")
    r.xgroup_create(k("stream:empty"), "g", id="$", mkstream=True)
    if ttl_ms is not None:
        p = r.pipeline(transaction=False)
        for key in keys:
            p.pexpire(key, ttl_ms)
        p.execute()
    return keys


def snapshot(r, pending: bool = True) -> dict:
    """Every key of the client's database: (type, value compared per type, has TTL)."""
    out = {}
    for key in r.scan_iter(count=1000):
        t = r.type(key).decode()
        if t == "string":
            v = r.get(key)
        elif t == "list":
            v = r.lrange(key, 0, -1)
        elif t == "set":
            v = frozenset(r.smembers(key))
        elif t == "zset":
            v = sorted(r.zrange(key, 0, -1, withscores=True))
        elif t == "hash":
            v = r.hgetall(key)
        elif t == "stream":
            info = r.xinfo_stream(key)
            groups = sorted((g["name"], g["last-delivered-id"], g["pending"] if pending else None)
                            for g in r.xinfo_groups(key))
            v = (r.xrange(key), info["last-generated-id"], groups)
        else:
            v = r.dump(key)
        out[key] = (t, v, r.pttl(key) >= 0)
    return out


def assert_same(src, tgt, pending: bool = True) -> None:
    a, b = snapshot(src, pending), snapshot(tgt, pending)
    assert sorted(a) == sorted(b), (set(a) ^ set(b))
    for key in a:
        assert a[key] == b[key], key


def assert_ttls_close(src, tgt, keys, tolerance_ms: int = 2000) -> None:
    for key in keys:
        s, t = src.pttl(key), tgt.pttl(key)
        assert (s == -1) == (t == -1), (key, s, t)
        if s >= 0:
            assert t <= s + 50 and s - t <= tolerance_ms, (key, s, t)
