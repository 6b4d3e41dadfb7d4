"""Fixtures shared by every test directory."""

from __future__ import annotations

import pytest


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
