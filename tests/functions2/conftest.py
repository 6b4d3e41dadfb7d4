"""Fixtures for the stage 4-7 function tests: a Lambda context, moto, the production input."""

from __future__ import annotations

import pytest
from fn2_helpers import FakeLambdaContext, production_input


@pytest.fixture
def context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def cfg() -> dict:
    return production_input()


@pytest.fixture
def no_backoff(monkeypatch):
    """The Heroku client's retry sleeps take no time (the retries themselves still happen)."""
    import types

    import heroku2aws.clients.heroku as heroku

    slept: list[float] = []
    monkeypatch.setattr(heroku, "time", types.SimpleNamespace(sleep=slept.append))
    return slept
