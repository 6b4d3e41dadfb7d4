"""``secret-switch`` (and ``config-secret`` through the rollback in tests/steps/test_rollback.py): the config secret
pointed back at the Heroku data stores, once (moto)."""

from __future__ import annotations

import json

import boto3
import pytest
from helpers import APP, EXECUTION_ID, create_secret, run_compensation, with_changes

from heroku2aws.steps.import_config import upsert_secret
from heroku2aws.steps.switch_secrets import switch


@pytest.fixture
def switched(cfg, moto) -> dict:
    src = create_secret(f"heroku2aws/{APP}/source-postgres", {"host": "src.example.com", "port": 5432,
                        "username": "u", "password": "src-pw-123", "dbname": "d"})
    tgt = create_secret(f"heroku2aws/{APP}/target-postgres", {"host": "rds.example.com", "port": 5432,
                        "username": "u", "password": "tgt-pw-456", "dbname": "d"})
    doc = with_changes(cfg, source__postgres_secret_arn=src, target__postgres_secret_arn=tgt,
                       source__redis_secret_arn=None, target__redis_secret_arn=None)
    upsert_secret(f"heroku2aws/{APP}/config", {"A": "1", "DATABASE_URL": "placeholder"}, APP, EXECUTION_ID)
    switch(APP, "target", tgt, None, EXECUTION_ID)
    return doc


def _database_url() -> str:
    sm = boto3.client("secretsmanager")
    return json.loads(sm.get_secret_value(SecretId=f"heroku2aws/{APP}/config")["SecretString"])["DATABASE_URL"]


def test_given_a_switched_secret_when_undone_then_it_names_the_source_again_once(switched):
    first = run_compensation("secret-switch", {"app": APP}, switched)
    assert "back at the Heroku data stores" in first.actions[0]
    assert "src.example.com" in _database_url()
    second = run_compensation("secret-switch", {"app": APP}, switched)
    assert second.actions == []


def test_given_no_config_secret_when_the_switch_is_undone_then_nothing_happens(cfg, moto):
    progress = run_compensation("secret-switch", {"app": APP}, cfg)
    assert progress.actions == [] and progress.pending == []
