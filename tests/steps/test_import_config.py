"""Stage 3: the Heroku config vars into one Secrets Manager secret (FakeHeroku + moto)."""

from __future__ import annotations

import json

import boto3
import pytest
from helpers import EXECUTION_ID, load_handler

from heroku2aws.contracts.errors import ConfigImportFailed, HerokuApiError
from heroku2aws_rehearsal.heroku_api import FakeHeroku

handler = load_handler("import_config")

APP = "acme-storefront"
NAME = f"heroku2aws/{APP}/config"
SOURCE_PG = {"host": "ec2-1-2-3-4.compute-1.amazonaws.com", "port": 5432, "username": "u8a",
             "password": "p@ss/word#1", "dbname": "d9f"}
SOURCE_REDIS = {"url": "rediss://:redis-pass@ec2-5-6-7-8.compute-1.amazonaws.com:6380"}
CONFIG_VARS = {
    "RAILS_ENV": "production",
    "SECRET_KEY_BASE": "s3cr3t-base",
    "STRIPE_API_KEY": "sk_live_abc",
    "DATABASE_URL": "postgres://old:old@heroku/db",
    "REDIS_URL": "rediss://:old@heroku:6380",
    "HEROKU_POSTGRESQL_ONYX_URL": "postgres://old:old@heroku/db",
    "HEROKU_APP_NAME": APP,
    "REDIS_TLS_URL": "rediss://:old@heroku:6380",
    "SENDGRID_API_KEY": "SG.sendgrid-key",
    "PAPERTRAIL_API_TOKEN": "papertrail-token",
    "NEW_RELIC_LICENSE_KEY": "nr-license",
    "CLOUDAMQP_URL": "amqps://u:p@rabbit.cloudamqp.com/v",
    "SENTRY_DSN": "https://k@o1.ingest.sentry.io/1",
}


@pytest.fixture
def heroku():
    with FakeHeroku() as fake:
        fake.add_app(APP, config_vars=CONFIG_VARS,
                     formation=[{"type": "web", "quantity": 1, "size": "standard-1X", "command": "run"}],
                     addon_attachments={"DATABASE": ["DATABASE_URL", "HEROKU_POSTGRESQL_ONYX_URL"],
                                        "REDIS": ["REDIS_URL", "REDIS_TLS_URL"], "SENDGRID": "SENDGRID_API_KEY",
                                        "PAPERTRAIL": "PAPERTRAIL_API_TOKEN", "NEW_RELIC": "NEW_RELIC_LICENSE_KEY",
                                        "CLOUDAMQP": "CLOUDAMQP_URL", "SENTRY": "SENTRY_DSN"})
        yield fake


@pytest.fixture
def event(moto, heroku, production_input):
    sm = boto3.client("secretsmanager")

    def secret(name, value):
        return sm.create_secret(Name=f"heroku2aws/{APP}/{name}", SecretString=value,
                                Tags=[{"Key": "heroku2aws:app", "Value": APP}])["ARN"]

    cfg = json.loads(json.dumps(production_input))
    cfg["heroku"]["api_key_secret_arn"] = secret("heroku-api-key", json.dumps({"api_key": heroku.token}))
    cfg["heroku"]["api_url"] = heroku.url
    cfg["source"]["postgres_secret_arn"] = secret("source-postgres", json.dumps(SOURCE_PG))
    cfg["source"]["redis_secret_arn"] = secret("source-redis", json.dumps(SOURCE_REDIS))
    return {"input": cfg, "execution_id": EXECUTION_ID}


def stored(name=NAME) -> dict:
    return json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"])


def versions(name=NAME) -> int:
    return len(boto3.client("secretsmanager").list_secret_version_ids(SecretId=name)["Versions"])


def test_given_heroku_config_vars_when_imported_then_every_var_is_kept_and_the_store_urls_are_marked(event, context):
    # issue 14, 2: add-on vars (SENDGRID_API_KEY, ...) and the stores' aliases all reach the app on AWS
    out = handler(event, context)

    assert out["secret_name"] == NAME
    assert out["created"] is True and out["changed"] is True and out["restored"] is False
    assert out["imported"] == sorted(CONFIG_VARS)
    assert out["excluded"] == []
    assert out["replaced"] == ["DATABASE_URL", "HEROKU_POSTGRESQL_ONYX_URL", "REDIS_TLS_URL", "REDIS_URL"]
    assert stored() == CONFIG_VARS


def test_given_heroku_store_urls_when_imported_then_they_are_heroku_s_own_until_the_switch(event, context):
    handler(event, context)
    doc = stored()
    assert doc["DATABASE_URL"] == CONFIG_VARS["DATABASE_URL"]  # postgres:// as Heroku gave it, no sslmode added
    assert doc["REDIS_URL"] == CONFIG_VARS["REDIS_URL"]


def test_given_an_app_without_database_url_when_imported_then_the_source_secret_gives_it(event, context, heroku):
    heroku.add_app(APP, config_vars={"RAILS_ENV": "production"},
                   formation=[{"type": "web", "quantity": 1, "size": "standard-1X", "command": "run"}])
    out = handler(event, context)
    assert stored()["DATABASE_URL"] == ("postgresql://u8a:p%40ss%2Fword%231@ec2-1-2-3-4.compute-1.amazonaws.com:5432/"
                                        "d9f?sslmode=require")
    assert stored()["REDIS_URL"] == SOURCE_REDIS["url"]
    assert out["replaced"] == ["DATABASE_URL", "REDIS_URL"]


def test_given_the_result_when_returned_then_it_carries_no_value(event, context):
    text = json.dumps(handler(event, context))
    for value in ("production", "s3cr3t-base", "sk_live_abc", "p@ss", "redis-pass", "old:old"):
        assert value not in text


def test_given_the_secret_when_created_then_it_is_tagged_for_the_app_and_the_execution(event, context):
    out = handler(event, context)
    tags = {t["Key"]: t["Value"] for t in
            boto3.client("secretsmanager").describe_secret(SecretId=out["secret_arn"])["Tags"]}
    assert tags == {"app": APP, "heroku2aws:app": APP, "heroku2aws:execution": EXECUTION_ID,
                    "heroku2aws:managed": "true"}


def test_given_an_import_when_run_twice_then_the_second_changes_nothing(event, context):
    first = handler(event, context)
    second = handler(event, context)
    assert second["secret_arn"] == first["secret_arn"]
    assert (second["created"], second["changed"]) == (False, False)
    assert versions() == 1


def test_given_changed_config_on_heroku_when_imported_again_then_a_new_version(event, context, heroku):
    handler(event, context)
    heroku.get_app_state(APP)  # sanity: app exists
    from heroku2aws.clients.heroku import HerokuClient

    HerokuClient(heroku.token, heroku.url).update_config_vars(APP, {"RAILS_ENV": "staging", "NEW_FLAG": "1"})

    out = handler({**event, "execution_id": EXECUTION_ID + "-2"}, context)

    assert (out["created"], out["changed"]) == (False, True)
    assert stored()["RAILS_ENV"] == "staging" and "NEW_FLAG" in out["imported"]
    assert versions() == 2
    tags = {t["Key"]: t["Value"] for t in boto3.client("secretsmanager").describe_secret(SecretId=NAME)["Tags"]}
    assert tags["heroku2aws:execution"] == EXECUTION_ID + "-2"


def test_given_a_secret_scheduled_for_deletion_when_imported_then_restored_first(event, context):
    arn = handler(event, context)["secret_arn"]
    boto3.client("secretsmanager").delete_secret(SecretId=arn, RecoveryWindowInDays=7)

    out = handler(event, context)

    assert out["secret_arn"] == arn
    assert out["restored"] is True and out["created"] is False and out["changed"] is False
    assert "DeletedDate" not in boto3.client("secretsmanager").describe_secret(SecretId=arn)
    assert stored()["RAILS_ENV"] == "production"


def test_given_a_secret_of_that_name_not_created_by_heroku2aws_when_imported_then_refused(event, context):
    boto3.client("secretsmanager").create_secret(Name=NAME, SecretString=json.dumps({"MINE": "x"}))
    with pytest.raises(ConfigImportFailed, match="not created by heroku2aws"):
        handler(event, context)
    assert stored() == {"MINE": "x"}


def test_given_no_redis_in_the_input_when_imported_then_redis_url_travels_as_heroku_has_it(event, context):
    # (preflight refuses this input: Heroku has REDIS_URL; here only the import's own rule is checked)
    event["input"]["source"]["redis_secret_arn"] = None
    event["input"]["target"]["redis_secret_arn"] = None
    out = handler(event, context)
    assert stored()["REDIS_URL"] == CONFIG_VARS["REDIS_URL"]
    assert out["replaced"] == ["DATABASE_URL", "HEROKU_POSTGRESQL_ONYX_URL"]  # Redis is not moved: not replaced


def test_given_an_app_without_redis_url_and_no_redis_in_the_input_when_imported_then_no_redis_url(
        event, context, heroku):
    heroku.add_app(APP, config_vars={"RAILS_ENV": "production"},
                   formation=[{"type": "web", "quantity": 1, "size": "standard-1X", "command": "run"}])
    event["input"]["source"]["redis_secret_arn"] = None
    event["input"]["target"]["redis_secret_arn"] = None
    out = handler(event, context)
    assert "REDIS_URL" not in out["imported"] and "REDIS_URL" not in stored()


def test_given_a_config_var_name_ecs_cannot_take_when_imported_then_refused_naming_it(event, context, heroku):
    from heroku2aws.clients.heroku import HerokuClient

    # The schema lets a name be any \w+ (config-var Update's patternProperties): one starting with a digit is
    # a Heroku config var that no container environment can take.
    HerokuClient(heroku.token, heroku.url).update_config_vars(APP, {"1ST_FLAG": "flag-value-xyz"})
    with pytest.raises(ConfigImportFailed, match="1ST_FLAG") as err:
        handler(event, context)
    assert "flag-value-xyz" not in str(err.value)


def test_given_a_wrong_api_key_when_imported_then_heroku_api_error_without_the_key(event, context):
    sm = boto3.client("secretsmanager")
    sm.put_secret_value(SecretId=event["input"]["heroku"]["api_key_secret_arn"],
                        SecretString="HRKU-ffffffffffffffffffffffffffffffff")
    with pytest.raises(HerokuApiError) as err:
        handler(event, context)
    assert err.value.status == 401
    assert "HRKU-" not in str(err.value)
