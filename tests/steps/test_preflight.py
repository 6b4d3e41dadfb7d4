"""Stage 2: the whole preflight against real Postgres and Redis servers, FakeHeroku and moto (Secrets
Manager, Route 53)."""

from __future__ import annotations

import json
import re

import boto3
import pytest
from helpers import EXECUTION_ID, load_handler, with_changes

from heroku2aws.contracts.errors import PreflightFailed
from heroku2aws.contracts.input import ExecutionInput
from heroku2aws.steps.preflight import Findings, check_postgres
from heroku2aws_rehearsal.heroku_api import FakeHeroku, canonical_size
from heroku2aws_rehearsal.servers import free_port

handler = load_handler("preflight")

APP = "acme-storefront"
ZONE_ID = "Z0123456789ABCDEFGHIJ"
HEROKU_TARGET = "tranquil-reef-8k2lq9x1vbn3m5c7z4a6s0d8.herokudns.com"
RECORD = "shop.acme-example.com"
APP_PASSWORD = "src-app-pass-5f1c9e"
TARGET_PASSWORD = "tgt-app-pass-8d2b7a"
CONFIG_VARS = {"RAILS_ENV": "production", "SECRET_KEY_BASE": "base-secret-value-123",
               "DATABASE_URL": "postgres://x:heroku-db-pass@h/d", "REDIS_URL": "rediss://:heroku-redis-pass@h:1",
               "HEROKU_POSTGRESQL_ONYX_URL": "postgres://x:heroku-db-pass@h/d"}
FORMATION = [{"type": "web", "quantity": 2, "size": "Standard-2X", "command": "bundle exec puma"},
             {"type": "worker", "quantity": 1, "size": "standard-1X", "command": "bundle exec sidekiq"}]


class _Db:
    """One database of the shared cluster, with the psql helper the tests use."""

    def __init__(self, server, db: str) -> None:
        self.server, self.db, self.port = server, db, server.port

    def sql(self, db: str, text: str) -> str:
        return self.server.sql(self.db if db == "app" else db, text)


@pytest.fixture(scope="module")
def stores(pg_cluster, tls_redis, plain_redis):
    """'Heroku Postgres' (TLS, a role without REPLICATION), 'RDS' (another database of the same cluster),
    'Heroku Redis' (TLS), 'ElastiCache'."""
    pg = pg_cluster
    pg.sql("postgres", f"CREATE ROLE app LOGIN NOREPLICATION PASSWORD '{APP_PASSWORD}'")
    pg.sql("postgres", "CREATE DATABASE app OWNER app")
    pg.sql("app", "SET ROLE app; CREATE TABLE orders (id bigserial PRIMARY KEY, total numeric);"
                  "CREATE TABLE events (at timestamptz, body text);"
                  "INSERT INTO orders (total) SELECT g FROM generate_series(1, 500) g;"
                  "INSERT INTO events SELECT now(), 'x' FROM generate_series(1, 100)")
    pg.sql("postgres", f"CREATE ROLE rds_app LOGIN PASSWORD '{TARGET_PASSWORD}'")
    pg.sql("postgres", "CREATE DATABASE rds_app OWNER rds_app")
    for db in range(16):
        tls_redis.client(db).flushdb()
        plain_redis.client(db).flushdb()
    tls_redis.client(0).mset({f"k{i}": i for i in range(30)})
    tls_redis.client(1).set("other", 1)
    yield {"source": _Db(pg, "app"), "target": _Db(pg, "rds_app"), "source_redis": tls_redis,
           "target_redis": plain_redis}
    for statement in ("DROP DATABASE app WITH (FORCE)", "DROP DATABASE rds_app WITH (FORCE)", "DROP ROLE app",
                      "DROP ROLE rds_app"):
        pg.sql("postgres", statement)


@pytest.fixture(scope="module")
def heroku():
    with FakeHeroku() as fake:
        yield fake


@pytest.fixture
def app(heroku):
    return heroku.add_app(APP, config_vars=CONFIG_VARS, formation=FORMATION,
                          addon_attachments={"DATABASE": "DATABASE_URL", "HEROKU_POSTGRESQL_ONYX": "DATABASE_URL",
                                             "REDIS": "REDIS_URL"})


@pytest.fixture
def zone(moto):
    from moto.route53.models import HostedZoneIdentifier
    from moto.utilities.id_generator import moto_id_manager

    ident = HostedZoneIdentifier("123456789012", "acme-example.com.", None)
    moto_id_manager.set_custom_id(ident, ZONE_ID)
    r53 = boto3.client("route53")
    r53.create_hosted_zone(Name="acme-example.com", CallerReference="test")
    r53.change_resource_record_sets(HostedZoneId=ZONE_ID, ChangeBatch={"Changes": [{"Action": "CREATE",
        "ResourceRecordSet": {"Name": RECORD, "Type": "CNAME", "TTL": 60,
                              "ResourceRecords": [{"Value": HEROKU_TARGET}]}}]})
    yield r53
    moto_id_manager.unset_custom_id(ident)


def _secret(name: str, value) -> str:
    return boto3.client("secretsmanager").create_secret(
        Name=f"heroku2aws/{APP}/{name}", SecretString=value if isinstance(value, str) else json.dumps(value),
        Tags=[{"Key": "heroku2aws:app", "Value": APP}])["ARN"]


def _pg_doc(db, user, password):
    return {"host": "127.0.0.1", "port": db.port, "username": user, "password": password, "dbname": db.db}


def _role(name: str, tags: list[dict[str, str]] | None = None) -> str:
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "ecs-tasks.amazonaws.com"}}]}
    return boto3.client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust),
                                           Tags=tags or [])["Role"]["Arn"]


@pytest.fixture
def roles(moto, production_input):
    """DMS's account roles, and the input's ECS roles tagged for the app (what the template's PassRole needs)."""
    _role("dms-vpc-role")
    _role("dms-cloudwatch-logs-role")
    for arn in (production_input["ecs"]["execution_role_arn"], production_input["ecs"].get("task_role_arn")):
        if arn:
            _role(arn.rsplit("/", 1)[-1])


@pytest.fixture
def cfg(zone, app, heroku, stores, production_input, roles) -> dict:
    doc = with_changes(production_input, ecs__procfile=None)
    doc["heroku"].update(api_url=heroku.url, api_key_secret_arn=_secret("heroku-api-key", heroku.token))
    doc["source"] = {"postgres_secret_arn": _secret("source-postgres", _pg_doc(stores["source"], "app", APP_PASSWORD)),
                     "redis_secret_arn": _secret("source-redis", {"url": stores["source_redis"].url()})}
    doc["target"] = {"postgres_secret_arn": _secret("target-postgres",
                                                    _pg_doc(stores["target"], "rds_app", TARGET_PASSWORD)),
                     "redis_secret_arn": _secret("target-redis", {"url": stores["target_redis"].url()})}
    return doc


def run(cfg, context):
    return handler({"input": cfg, "execution_id": EXECUTION_ID}, context)


def refusal(cfg, context) -> str:
    with pytest.raises(PreflightFailed) as err:
        run(cfg, context)
    return str(err.value)


ALL_SECRETS = [APP_PASSWORD, TARGET_PASSWORD, "src-redis-pass-4e7f", "tgt-redis-pass-9a3c", "base-secret-value-123",
               "heroku-db-pass", "heroku-redis-pass", "production"]


def test_given_a_healthy_heroku_app_when_preflight_runs_then_the_plan(cfg, context, heroku):
    plan = run(cfg, context)

    assert plan["app"] == APP and plan["strategy"] == "dms-full-load"
    h = plan["heroku"]
    assert (h["name"], h["region"], h["stack"], h["maintenance"]) == (APP, "us", "heroku-24", False)
    assert h["config_var_names"] == sorted(CONFIG_VARS) and h["config_var_count"] == 5
    # Heroku lists in id order (its default Range) and answers sizes in its own spelling ("Standard-2X").
    assert sorted(h["formation"], key=lambda f: f["type"]) == sorted(
        ({"type": f["type"], "quantity": f["quantity"], "size": canonical_size(f["size"]), "command": f["command"]}
         for f in FORMATION), key=lambda f: f["type"])
    assert h["addon_attachments"] == ["DATABASE_URL", "HEROKU_POSTGRESQL_ONYX_URL", "REDIS_URL"]
    pg = plan["postgres"]
    assert (pg["source_dbname"], pg["target_dbname"], pg["schemas"]) == ("app", "rds_app", ["public"])
    assert {"rule-type": "selection", "rule-id": "1", "rule-name": "1-include-public",
            "object-locator": {"schema-name": "public", "table-name": "%"}, "rule-action": "include",
            "filters": []} in pg["table_mappings"]["rules"]
    assert pg["source"]["tables_without_key"] == ["public.events"]
    assert pg["source"]["replication"]["can_replicate"] is False
    assert len(pg["source"]["sequences"]) == 1
    assert pg["target"]["empty"] is True
    assert plan["target"] == {"postgres_empty": True, "redis_empty": True}
    assert plan["redis"]["source"]["keys"] == 31 and plan["redis"]["source"]["keys_per_db"] == {"0": 30, "1": 1}
    assert plan["redis"]["source"]["tls"] is True and plan["redis"]["target"]["keys"] == 0
    assert plan["dns"]["kind"] == "cname-to-heroku" and plan["dns"]["current"][0]["Type"] == "CNAME"
    assert [p["type"] for p in plan["processes"]] == ["web", "worker"]
    assert plan["processes"][0] == {"type": "web", "quantity": 2, "size": "Standard-2X", "cpu": 512, "memory": 1024}
    est = plan["estimates"]
    assert est["database_bytes"] > 0 and est["redis_keys"] == 31 and est["write_freeze_seconds"] >= 300
    assert est["assumptions"]["dms_full_load_mb_per_s"] > 0
    assert any("without a primary key" in w for w in plan["warnings"])
    assert not any("HEROKU_POSTGRESQL_ONYX_URL" in w for w in plan["warnings"])  # every var travels (issue 14, 2)
    text = json.dumps(plan)
    for value in ALL_SECRETS[:-1]:
        assert value not in text
    assert "postgresql://" not in text and "rediss://" not in text
    assert len(text) < 64 * 1024


def test_given_dms_cdc_and_a_role_without_replication_when_preflight_runs_then_refused(cfg, context):
    message = refusal(with_changes(cfg, database__strategy="dms-cdc"), context)
    assert ("database.strategy dms-cdc: the source role app lacks REPLICATION; Heroku Postgres never grants it: "
            "use dms-full-load") in message


def test_given_dms_cdc_and_a_role_with_replication_when_preflight_runs_then_allowed(cfg, context, stores):
    stores["source"].sql("postgres", "ALTER ROLE app REPLICATION")
    try:
        plan = run(with_changes(cfg, database__strategy="dms-cdc"), context)
    finally:
        stores["source"].sql("postgres", "ALTER ROLE app NOREPLICATION")
    assert plan["strategy"] == "dms-cdc"
    # switch, freeze entry, the Redis task's start, change capture drained: no copy inside the freeze
    assert plan["estimates"]["write_freeze_seconds"] < 300 + 20 + 60 + 60 + 10
    assert any("dms-cdc" in w and "public.events" in w for w in plan["warnings"])


def test_given_a_target_with_tables_when_preflight_runs_then_refused(cfg, context, stores):
    stores["target"].sql("app", "CREATE TABLE leftover (id int)")
    try:
        message = refusal(cfg, context)
    finally:
        stores["target"].sql("app", "DROP TABLE leftover")
    assert "target Postgres database rds_app is not empty (1 user table(s))" in message


def test_given_a_heroku_key_heroku_refuses_when_preflight_runs_then_refused(cfg, context):
    cfg["heroku"]["api_key_secret_arn"] = _secret("other-key", {"api_key": "HRKU-" + "0" * 32})
    message = refusal(cfg, context)
    assert "Heroku API key refused (401)" in message
    assert "HRKU-" not in message


def test_given_an_unknown_app_when_preflight_runs_then_refused_naming_it(cfg, context, heroku):
    doc = with_changes(cfg, heroku__app="no-such-app")
    assert "Heroku app no-such-app not found (404)" in refusal(doc, context)


def test_given_an_unreachable_source_when_preflight_runs_then_refused_naming_it_without_url(cfg, context):
    cfg["source"]["postgres_secret_arn"] = _secret("unreachable", {"host": "127.0.0.1", "port": free_port(),
                                                                   "username": "app", "password": "pw-unreach-1",
                                                                   "dbname": "app"})
    message = refusal(cfg, context)
    assert "source Postgres unreachable: cannot connect to database" in message
    assert "pw-unreach-1" not in message and "postgresql://" not in message


def test_given_a_secret_that_does_not_exist_when_preflight_runs_then_refused_naming_the_field(cfg, context):
    cfg["source"]["redis_secret_arn"] = f"arn:aws:secretsmanager:us-east-1:123456789012:secret:heroku2aws/{APP}/nope"
    message = refusal(cfg, context)
    assert "source.redis_secret_arn: cannot read secret" in message and "ResourceNotFoundException" in message


def test_given_several_problems_when_preflight_runs_then_every_one_is_listed(cfg, context, stores):
    doc = with_changes(cfg, database__strategy="dms-cdc", dns__record_name="shop.elsewhere-example.org")
    cfg_redis_down = _secret("redis-down", {"url": f"redis://:pw-redis-down@127.0.0.1:{free_port()}/0"})
    doc["target"]["redis_secret_arn"] = cfg_redis_down
    message = refusal(doc, context)
    assert "(3 problems)" in message, message
    assert "lacks REPLICATION" in message and "target Redis unreachable" in message
    assert "not in hosted zone" in message
    assert "pw-redis-down" not in message


def test_given_redis_on_heroku_but_none_in_the_input_when_preflight_runs_then_refused(cfg, context):
    doc = with_changes(cfg, source__redis_secret_arn=None, target__redis_secret_arn=None)
    assert "has REDIS_URL (a Redis add-on) but the input gives no source.redis_secret_arn" in refusal(doc, context)


def test_given_a_bad_procfile_when_preflight_runs_then_refused_before_anything_exists(cfg, context):
    doc = with_changes(cfg, ecs__procfile="web: a\nweb: b\n")
    assert "process type 'web' is defined twice" in refusal(doc, context)


def test_given_an_unknown_dyno_size_when_preflight_runs_then_refused(cfg, context, heroku):
    heroku.add_app(APP, config_vars=CONFIG_VARS, formation=[{**FORMATION[0], "size": "turbo-9x"}],
                   addon_attachments={"DATABASE": "DATABASE_URL", "REDIS": "REDIS_URL"})
    assert "unknown dyno size 'turbo-9x'" in refusal(cfg, context)


def test_given_config_vars_one_task_definition_cannot_carry_when_preflight_runs_then_refused_with_the_reason(
        cfg, context, heroku):
    """2,500 config vars (15 KB of names and values: Heroku allows 32 KB) make each task definition ~330 KB with one
    ECS secret per var, over the 256 KiB Step Functions allows the state that registers it. Refused here, not by
    States.DataLimitExceeded in stage 3 (a terminal error: nothing would be rolled back)."""
    many = {**CONFIG_VARS, **{f"V{i:04d}": "x" for i in range(2500)}}
    heroku.add_app(APP, config_vars=many, formation=FORMATION,
                   addon_attachments={"DATABASE": "DATABASE_URL", "REDIS": "REDIS_URL"})
    reason = refusal(cfg, context)
    assert re.search(r"task definition acme-storefront-\w+ would be \d+ bytes .*262144-byte payload quota", reason), reason


def test_given_an_app_other_than_the_stacks_when_preflight_runs_then_refused(cfg, context, monkeypatch):
    monkeypatch.setenv("HEROKU2AWS_APP", "other-app")
    assert "heroku.app acme-storefront is not this stack's app other-app" in refusal(cfg, context)


def test_given_a_refusal_when_raised_then_no_secret_value_is_in_it(cfg, context):
    cfg["heroku"]["api_key_secret_arn"] = _secret("other-key", "HRKU-" + "f" * 32)
    doc = with_changes(cfg, database__strategy="dms-cdc")
    message = refusal(doc, context)
    for value in [*ALL_SECRETS[:-1], "f" * 32]:
        assert value not in message


# -------- refusals that need a source this machine cannot make (unit level, over a real analysis)


@pytest.fixture
def analysis(stores):
    from heroku2aws.postgres.analysis import analyze

    return analyze(stores["source"].server.url("app", user="app", password=APP_PASSWORD))


def test_given_an_extension_the_target_lacks_when_checked_then_refused(analysis, production_input):
    from heroku2aws.postgres.analysis import ExtensionInfo
    from heroku2aws.steps.preflight import TargetPostgresReport

    source = analysis.model_copy(update={"extensions": [*analysis.extensions, ExtensionInfo(
        name="timescaledb", version="2.14", schema_name="public", rds_supported=False)]})
    target = TargetPostgresReport(version="16.3", version_num=160003, database="app", user_tables=0, empty=True,
                                  available_extensions=["plpgsql", "pg_trgm"])
    findings = Findings()
    check_postgres(ExecutionInput.model_validate(production_input), source, target, findings)
    assert findings.problems == ["the source uses extension(s) the target (16.3) does not offer: timescaledb"]


def test_given_large_objects_and_dms_when_checked_then_refused_but_dump_restore_passes(analysis, production_input):
    source = analysis.model_copy(update={"large_objects": 3})
    findings = Findings()
    check_postgres(ExecutionInput.model_validate(production_input), source, None, findings)
    assert findings.problems == ["the source has 3 large object(s) and DMS does not copy them: use "
                                 "database.strategy dump-restore"]
    findings = Findings()
    check_postgres(ExecutionInput.model_validate(with_changes(production_input, database__strategy="dump-restore")),
                   source, None, findings)
    assert findings.problems == []


def test_given_no_dms_vpc_role_when_preflight_runs_then_refused_with_the_fix(cfg, context):
    boto3.client("iam").delete_role(RoleName="dms-vpc-role")
    message = refusal(cfg, context)
    assert "IAM role dms-vpc-role is missing" in message and "CreateDmsServiceRoles=true" in message


def test_given_dump_restore_when_dms_roles_are_missing_then_not_needed(cfg, context):
    boto3.client("iam").delete_role(RoleName="dms-vpc-role")
    plan = run(with_changes(cfg, database__strategy="dump-restore"), context)
    assert plan["strategy"] == "dump-restore"


def test_given_an_execution_role_not_named_for_the_app_when_preflight_runs_then_refused(cfg, context):
    cfg["ecs"]["execution_role_arn"] = _role("ecsTaskExecutionRole")
    message = refusal(cfg, context)
    assert f"IAM role ecsTaskExecutionRole is not named heroku2aws-{APP}-*" in message


def test_given_a_missing_task_role_when_preflight_runs_then_refused(cfg, context):
    name = cfg["ecs"]["task_role_arn"].rsplit("/", 1)[-1]
    boto3.client("iam").delete_role(RoleName=name)
    assert f"ecs.task_role_arn: IAM role {name} not found" in refusal(cfg, context)


def test_given_another_zone_than_the_stack_s_when_preflight_runs_then_refused(cfg, context, monkeypatch):
    monkeypatch.setenv("HEROKU2AWS_HOSTED_ZONE_ID", "ZOTHERZONE123")
    assert "is not this stack's zone ZOTHERZONE123" in refusal(cfg, context)


def test_given_the_tasks_image_is_not_pushed_when_preflight_runs_then_refused_with_make_image(cfg, context, monkeypatch):
    boto3.client("ecr").create_repository(repositoryName="heroku2aws-acme-tasks")
    monkeypatch.setenv("HEROKU2AWS_TASK_IMAGE", "123456789012.dkr.ecr.us-east-1.amazonaws.com/heroku2aws-acme-tasks:0.1.0")
    assert "run `make image STACK=<this stack>`" in refusal(cfg, context)
    boto3.client("ecr").put_image(repositoryName="heroku2aws-acme-tasks", imageTag="0.1.0",
                                  imageManifest=json.dumps({"schemaVersion": 2, "layers": [], "mediaType":
                                                            "application/vnd.docker.distribution.manifest.v2+json"}))
    assert run(cfg, context)["app"] == APP
