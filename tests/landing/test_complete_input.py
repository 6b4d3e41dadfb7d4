"""The source secrets written by the workflow from Heroku's live config vars (issue 16, 3): FakeHeroku + moto."""

from __future__ import annotations

import json

import boto3
import pytest
from helpers import EXECUTION_ID, load_handler, run_compensation
from test_minimal_input import LANDING_ENV, minimal

from heroku2aws.contracts.errors import InvalidInput
from heroku2aws.steps.complete_input import postgres_document
from heroku2aws.steps.validate_input import validate_input
from heroku2aws_rehearsal.heroku_api import FakeHeroku

handler = load_handler("complete_input")

APP = "sample-app"
PASSWORD = "p#?@/:%&=+ $w0rd"  # every character a URL gives a meaning to
DATABASE_URL = "postgres://u8a:p%23%3F%40%2F%3A%25%26%3D%2B%20%24w0rd@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d9f"
REDIS_URL = "rediss://:redis-pass-7f3a@ec2-5-6-7-8.compute-1.amazonaws.com:6380"


@pytest.fixture
def heroku():
    with FakeHeroku() as fake:
        fake.add_app(APP, config_vars={"DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL, "RAILS_ENV": "production"},
                     formation=[{"type": "web", "quantity": 1, "size": "standard-1X", "command": "run"}],
                     addon_attachments={"DATABASE": "DATABASE_URL", "REDIS": "REDIS_URL"},
                     domains={"www.example.com": "sample-app-7d3f9a1c.herokudns.com"})
        yield fake


@pytest.fixture
def event(moto, heroku):
    sm = boto3.client("secretsmanager")
    key = sm.create_secret(Name=f"heroku2aws/{APP}/heroku-api-key", SecretString=heroku.token,
                           Tags=[{"Key": "heroku2aws:app", "Value": APP}])["ARN"]
    raw = minimal()
    raw["heroku"] = {"app": APP, "api_key_secret_arn": key, "api_url": heroku.url}
    pending = validate_input(raw, env=LANDING_ENV).model_dump(mode="json")
    return {"input": pending, "execution_id": EXECUTION_ID}


def secret(name: str) -> dict:
    return json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"])


def test_given_herokus_database_url_when_parsed_then_it_is_the_connection_secret_dms_reads():
    assert postgres_document(DATABASE_URL) == {
        "engine": "postgres", "host": "ec2-1-2-3-4.compute-1.amazonaws.com", "port": 5432, "username": "u8a",
        "password": PASSWORD, "dbname": "d9f", "sslmode": "require"}


def test_given_a_pending_input_when_completed_then_the_source_secrets_hold_herokus_live_urls(event, context):
    out = handler(event, context)
    assert out["source"]["postgres_secret_arn"].split(":secret:")[1].startswith(f"heroku2aws/{APP}/source-postgres-")
    assert out["source"]["redis_secret_arn"].split(":secret:")[1].startswith(f"heroku2aws/{APP}/source-redis-")
    assert secret(f"heroku2aws/{APP}/source-postgres")["password"] == PASSWORD
    assert secret(f"heroku2aws/{APP}/source-redis") == {"url": REDIS_URL}
    assert out["dns"]["heroku_target"] == "sample-app-7d3f9a1c.herokudns.com"  # read from Heroku's domain
    tags = {t["Key"]: t["Value"] for t in boto3.client("secretsmanager").describe_secret(
        SecretId=out["source"]["postgres_secret_arn"])["Tags"]}
    assert tags["heroku2aws:managed"] == "true" and tags["heroku2aws:app"] == APP


def test_given_the_result_when_returned_then_it_carries_no_value(event, context):
    text = json.dumps(handler(event, context))
    for value in ("p#?@", "p%23", "redis-pass-7f3a", "u8a:"):
        assert value not in text


def test_given_a_completion_when_run_twice_then_the_secrets_are_the_same_and_unchanged(event, context):
    first = handler(event, context)
    second = handler(event, context)
    assert first["source"] == second["source"]
    versions = boto3.client("secretsmanager").list_secret_version_ids(SecretId=first["source"]["postgres_secret_arn"])
    assert len(versions["Versions"]) == 1


def test_given_herokus_credentials_rotated_when_completed_again_then_the_secret_follows(event, context, heroku):
    handler(event, context)
    heroku.add_app(APP, config_vars={"DATABASE_URL": DATABASE_URL.replace("u8a", "u9b")},
                   formation=[{"type": "web", "quantity": 1, "size": "standard-1X", "command": "run"}],
                   addon_attachments={"DATABASE": "DATABASE_URL"}, domains={"www.example.com": "x-1.herokudns.com"})
    out = handler(event, context)
    assert secret(f"heroku2aws/{APP}/source-postgres")["username"] == "u9b"
    assert "redis_secret_arn" not in out["source"] or out["source"]["redis_secret_arn"] is None
    assert out["target"].get("redis_secret_arn") is None  # no Heroku Redis: nothing to migrate to ElastiCache


def test_given_no_database_url_when_completed_then_it_is_refused(event, context, heroku):
    heroku.add_app(APP, config_vars={"RAILS_ENV": "production"},
                   formation=[{"type": "web", "quantity": 1, "size": "standard-1X", "command": "run"}])
    with pytest.raises(InvalidInput, match="has no DATABASE_URL"):
        handler(event, context)


def test_given_a_redis_url_but_no_elasticache_when_completed_then_it_is_refused(event, context):
    event["input"]["target"].pop("redis_secret_arn")
    with pytest.raises(InvalidInput, match="REDIS_URL but the landing has no ElastiCache"):
        handler(event, context)


def test_given_a_secret_of_that_name_not_made_by_heroku2aws_when_completed_then_it_is_left_alone(event, context):
    from heroku2aws.contracts.errors import ConfigImportFailed

    boto3.client("secretsmanager").create_secret(Name=f"heroku2aws/{APP}/source-postgres", SecretString="{}",
                                                 Tags=[{"Key": "heroku2aws:app", "Value": APP}])
    with pytest.raises(ConfigImportFailed, match="not created by heroku2aws"):
        handler(event, context)
    assert secret(f"heroku2aws/{APP}/source-postgres") == {}


def test_given_the_source_secrets_when_rolled_back_then_both_are_deleted_and_a_second_pass_does_nothing(event, context):
    out = handler(event, context)
    first = run_compensation("source-secrets", {"kind": "source-secrets", "app": APP}, out)
    sm = boto3.client("secretsmanager")
    for arn in out["source"].values():
        assert sm.describe_secret(SecretId=arn).get("DeletedDate")
    second = run_compensation("source-secrets", {"kind": "source-secrets", "app": APP}, out)
    assert len(first.actions) == 2 and second.actions == []
