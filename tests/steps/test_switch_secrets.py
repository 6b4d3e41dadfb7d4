"""Stage 6 secret switch: DATABASE_URL / REDIS_URL and their aliases in heroku2aws/<app>/config to the targets and
back (moto + FakeHeroku): the form Heroku gave (postgres:// stays postgres://), Heroku's values read at the switch."""

from __future__ import annotations

import json

import boto3
import pytest
from helpers import APP, EXECUTION_ID, create_secret, load_handler, with_changes

from heroku2aws.contracts.errors import SecretSwitchFailed
from heroku2aws.steps.import_config import upsert_secret

NAME = f"heroku2aws/{APP}/config"
SRC_PW, TGT_PW, SRC_REDIS_PW, TGT_REDIS_PW = "src-Pa55word!", "tgt-Pa55word/", "srcredispw123", "tgtredispw456"
SOURCE_URL = f"postgres://u1:{SRC_PW.replace('!', '%21')}@src.example.com:5432/d1"  # as Heroku gives it
TARGET_URL = f"postgres://app:{TGT_PW.replace('/', '%2F')}@rds.example.com:5432/app"  # the same form, on RDS
SOURCE_REDIS = f"rediss://:{SRC_REDIS_PW}@redis.heroku.example.com:6380"
TARGET_REDIS = f"rediss://:{TGT_REDIS_PW}@cache.example.com:6379"
TOKEN = "HRKU-switch-0123456789abcdef0123456789abcdef"
HEROKU_VARS = {"RAILS_ENV": "production", "SECRET_KEY_BASE": "s3cr3t-base", "DATABASE_URL": SOURCE_URL,
               "HEROKU_POSTGRESQL_ONYX_URL": SOURCE_URL, "REDIS_URL": SOURCE_REDIS, "REDIS_TLS_URL": SOURCE_REDIS,
               "SENDGRID_API_KEY": "SG.sendgrid-key"}


@pytest.fixture
def heroku():
    from heroku2aws_rehearsal.heroku_api import FakeHeroku

    with FakeHeroku(token=TOKEN) as fake:
        fake.add_app(APP, config_vars=HEROKU_VARS, addon_attachments={
            "DATABASE": ["DATABASE_URL", "HEROKU_POSTGRESQL_ONYX_URL"], "REDIS": ["REDIS_URL", "REDIS_TLS_URL"],
            "SENDGRID": "SENDGRID_API_KEY"})
        yield fake


@pytest.fixture
def stores(cfg, moto, heroku) -> dict:
    """Source and target connection secrets, Heroku, and the config secret as stage 3 writes it (every var)."""
    arns = {
        "source.pg": create_secret(f"heroku2aws/{APP}/source-postgres", {"host": "src.example.com", "port": 5432,
                                   "username": "u1", "password": SRC_PW, "dbname": "d1"}),
        "target.pg": create_secret(f"heroku2aws/{APP}/target-postgres", {"host": "rds.example.com", "port": 5432,
                                   "username": "app", "password": TGT_PW, "dbname": "app"}),
        "source.redis": create_secret(f"heroku2aws/{APP}/source-redis", {"url": SOURCE_REDIS}),
        "target.redis": create_secret(f"heroku2aws/{APP}/target-redis", TARGET_REDIS),
    }
    key = create_secret(f"heroku2aws/{APP}/heroku-api-key", {"api_key": TOKEN})
    doc = with_changes(cfg, source__postgres_secret_arn=arns["source.pg"], source__redis_secret_arn=arns["source.redis"],
                       target__postgres_secret_arn=arns["target.pg"], target__redis_secret_arn=arns["target.redis"],
                       heroku__api_key_secret_arn=key, heroku__api_url=heroku.url)
    upsert_secret(NAME, dict(HEROKU_VARS), APP, EXECUTION_ID)
    return doc


def _switch(cfg: dict, context, to: str) -> dict:
    return load_handler("switch_secrets")({"input": cfg, "to": to, "execution_id": EXECUTION_ID}, context)


def _value() -> dict:
    return json.loads(boto3.client("secretsmanager").get_secret_value(SecretId=NAME)["SecretString"])


def _versions() -> int:
    return len(boto3.client("secretsmanager").list_secret_version_ids(SecretId=NAME)["Versions"])


def test_given_the_imported_secret_when_switched_to_target_then_both_urls_name_the_targets(stores, context):
    result = _switch(stores, context, "target")
    assert result["switched_to"] == "target" and result["changed"] is True
    assert result["secret_arn"].split(":secret:")[1].startswith(NAME)
    value = _value()
    assert value == {**HEROKU_VARS, "DATABASE_URL": TARGET_URL, "HEROKU_POSTGRESQL_ONYX_URL": TARGET_URL,
                     "REDIS_URL": TARGET_REDIS, "REDIS_TLS_URL": TARGET_REDIS}  # SENDGRID_API_KEY & co. kept
    current = boto3.client("secretsmanager").get_secret_value(SecretId=NAME)["VersionId"]
    assert result["version_id"] == current


def test_given_a_switched_secret_when_switched_again_then_no_new_version_is_written(stores, context):
    first = _switch(stores, context, "target")
    n = _versions()
    second = _switch(stores, context, "target")
    assert second["changed"] is False
    assert second["version_id"] == first["version_id"]
    assert _versions() == n


def test_given_a_switch_to_target_when_switched_back_and_forth_then_each_direction_takes_effect(stores, context):
    _switch(stores, context, "target")
    back = _switch(stores, context, "source")
    assert back["changed"] is True
    assert _value()["DATABASE_URL"] == SOURCE_URL and _value()["REDIS_URL"] == SOURCE_REDIS
    again = _switch(stores, context, "target")  # same content as the first switch: the token must differ
    assert again["changed"] is True
    assert _value()["DATABASE_URL"] == TARGET_URL


def test_given_the_imported_secret_when_switched_to_source_then_nothing_changes(stores, context):
    result = _switch(stores, context, "source")
    assert result["changed"] is False


def test_given_an_app_without_redis_when_switched_then_redis_url_is_left_alone(stores, context):
    cfg = with_changes(stores, source__redis_secret_arn=None, target__redis_secret_arn=None)
    _switch(cfg, context, "target")
    value = _value()
    assert value["DATABASE_URL"] == TARGET_URL
    assert value["REDIS_URL"] == SOURCE_REDIS and value["REDIS_TLS_URL"] == SOURCE_REDIS


def test_given_no_config_secret_when_switched_then_secret_switch_failed(stores, context):
    boto3.client("secretsmanager").delete_secret(SecretId=NAME, ForceDeleteWithoutRecovery=True)
    with pytest.raises(SecretSwitchFailed, match="does not exist"):
        _switch(stores, context, "target")


def test_given_a_secret_heroku2aws_did_not_create_when_switched_then_it_is_left_untouched(stores, context):
    sm = boto3.client("secretsmanager")
    sm.delete_secret(SecretId=NAME, ForceDeleteWithoutRecovery=True)
    sm.create_secret(Name=NAME, SecretString=json.dumps({"DATABASE_URL": SOURCE_URL}))
    with pytest.raises(SecretSwitchFailed, match="not created by heroku2aws"):
        _switch(stores, context, "target")
    assert _value() == {"DATABASE_URL": SOURCE_URL}


def test_given_a_secret_that_is_not_json_when_switched_then_secret_switch_failed_without_the_value(stores, context):
    boto3.client("secretsmanager").put_secret_value(SecretId=NAME, SecretString="DATABASE_URL=" + SOURCE_URL)
    with pytest.raises(SecretSwitchFailed) as err:
        _switch(stores, context, "target")
    assert SRC_PW not in str(err.value)


def test_given_any_switch_when_it_returns_then_no_secret_value_is_in_the_result(stores, context):
    results = [_switch(stores, context, "target"), _switch(stores, context, "source")]
    text = json.dumps(results)
    for value in (SRC_PW, TGT_PW, SRC_REDIS_PW, TGT_REDIS_PW, "s3cr3t-base", "rds.example.com"):
        assert value not in text
    assert set(results[0]) == {"secret_arn", "switched_to", "changed", "version_id"}


def test_given_a_target_secret_with_its_own_sslmode_when_switched_then_it_is_kept(stores, context):
    arn = create_secret(f"heroku2aws/{APP}/target-postgres-tls", {"host": "rds.example.com", "port": 5432,
                        "username": "app", "password": TGT_PW, "dbname": "app", "sslmode": "verify-full"})
    _switch(with_changes(stores, target__postgres_secret_arn=arn), context, "target")
    assert _value()["DATABASE_URL"].endswith("?sslmode=verify-full")


def test_given_heroku_rotated_the_credentials_when_switched_back_then_heroku_s_current_values_are_used(
        stores, context, heroku):
    # credentials are read from Heroku when they are needed, not the copy stage 3 made
    _switch(stores, context, "target")
    rotated = SOURCE_URL.replace("u1:", "u2:")
    app = heroku._apps[APP]
    app.config_vars.update({"DATABASE_URL": rotated, "HEROKU_POSTGRESQL_ONYX_URL": rotated})
    _switch(stores, context, "source")
    assert _value()["DATABASE_URL"] == rotated and _value()["HEROKU_POSTGRESQL_ONYX_URL"] == rotated


def test_given_a_postgresql_scheme_and_a_query_on_heroku_when_switched_then_the_target_keeps_that_form(
        stores, context, heroku):
    heroku._apps[APP].config_vars["DATABASE_URL"] = SOURCE_URL.replace("postgres://", "postgresql://") + \
        "?application_name=shop"
    _switch(stores, context, "target")
    assert _value()["DATABASE_URL"] == TARGET_URL.replace("postgres://", "postgresql://") + "?application_name=shop"


def test_given_any_var_with_the_database_url_as_its_value_when_switched_then_it_is_replaced_too(
        stores, context, heroku):
    heroku._apps[APP].config_vars["READ_DATABASE_URL"] = SOURCE_URL  # an alias the app set by hand
    _switch(stores, context, "target")
    assert _value()["READ_DATABASE_URL"] == TARGET_URL


def test_given_a_heroku_key_refused_when_switched_then_secret_switch_failed_naming_no_value(stores, context, heroku):
    from heroku2aws.contracts.errors import SecretSwitchFailed

    heroku.token = "HRKU-another-key-0123456789abcdef012345678"
    with pytest.raises(SecretSwitchFailed, match="401"):
        _switch(stores, context, "target")
