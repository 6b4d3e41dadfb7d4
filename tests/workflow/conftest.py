"""The workflow's own tests: the deployed ASL file, in the engine, against real data stores.

One rehearsal world per test process (PostgreSQL and Redis servers, Heroku stand-in, emulated
account); ``world.refresh()`` gives each test a fresh account, stack, empty targets and the Heroku
app as it was. Every rehearsal's history and logs are scanned for the secret values it used.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from heroku2aws_rehearsal.patches import local


@pytest.fixture(scope="session")
def rehearsal_world(emulated_aws):
    from heroku2aws_rehearsal.world import World

    world = World(aws=emulated_aws)
    world.start()
    yield world
    world.stop()


@pytest.fixture
def world(rehearsal_world):
    rehearsal_world.refresh()
    return rehearsal_world


def scan_for_secrets(world, execution_arn: str) -> list[str]:
    """Every place a secret value of the rehearsal shows up: history (inputs, outputs, errors,
    causes, parameters) and every captured log. Returns descriptions of the hits (no values)."""
    sfn = world.aws.client("stepfunctions")
    from heroku2aws_cli.executions import history

    text = json.dumps(history(sfn, execution_arn).events, default=str)
    desc = sfn.describe_execution(executionArn=execution_arn)
    text += json.dumps(desc, default=str)
    hits: list[str] = []
    secrets = [s for s in world.secret_values if s and len(s) >= 8]
    for i, secret in enumerate(secrets):
        if secret in text:
            hits.append(f"secret #{i} in the execution history")
    log_dir = Path(local.LOG_DIR)
    if log_dir.exists():
        for log in log_dir.glob("*.log"):
            body = log.read_text(errors="replace")
            for i, secret in enumerate(secrets):
                if secret in body:
                    hits.append(f"secret #{i} in {log.name}")
    return hits


@pytest.fixture
def rehearse(world):
    """Run one rehearsal in this world; asserts the secret scan on every run."""
    from heroku2aws_rehearsal.rehearse import rehearse as run

    def _run(**kwargs):
        report = run(world=world, json_out=True, deadline_s=kwargs.pop("deadline_s", 240), **kwargs)
        hits = scan_for_secrets(world, report["execution_arn"])
        assert not hits, f"secret values leaked: {hits}"
        return report

    return _run


def pytest_collection_modifyitems(items):
    """Every workflow test runs the whole state machine in the engine: each takes more than 10 s (``-m "not slow"``
    leaves them out)."""
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.slow)
