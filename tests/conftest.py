"""Fixtures shared by every test directory (helpers, in ``tests/helpers.py``, are imported by name)."""

from __future__ import annotations

import pytest
from helpers import FakeLambdaContext, normalised_input, raw_production_input


@pytest.fixture(scope="session")
def emulated_aws():
    """One emulated AWS per test process (moto's backends are process-global); tests reset it."""
    from heroku2aws_rehearsal.aws import EmulatedAws

    aws = EmulatedAws().start()
    yield aws
    aws.stop()


@pytest.fixture
def aws(emulated_aws):
    """An empty emulated account for this test."""
    emulated_aws.reset()
    yield emulated_aws
    emulated_aws.reset()


@pytest.fixture
def aws_env(monkeypatch):
    """Credentials and region for moto; never a real endpoint or profile."""
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")


@pytest.fixture
def moto(aws_env):
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def context() -> FakeLambdaContext:
    """The Lambda context a handler runs with in-process."""
    return FakeLambdaContext()


@pytest.fixture
def production_input() -> dict:
    """``events/production.json`` as a user writes it."""
    return raw_production_input()


@pytest.fixture
def cfg() -> dict:
    """The production input as stage 1 returns it (validated, every default filled)."""
    return normalised_input()


@pytest.fixture
def no_backoff(monkeypatch):
    """The Heroku client's retry sleeps take no time (the retries themselves still happen)."""
    import types

    import heroku2aws.clients.heroku as heroku

    slept: list[float] = []
    monkeypatch.setattr(heroku, "time", types.SimpleNamespace(sleep=slept.append))
    return slept
