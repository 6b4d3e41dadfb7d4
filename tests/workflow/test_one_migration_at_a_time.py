"""One migration per app at a time (issue 14, 4).

The stack is per app, so any other RUNNING execution of its state machine is another migration of the
same app: the second one ends in ``MigrationInProgress`` right after validation, having read nothing
from Heroku and created nothing. There is no lock to release: once the first execution ends (rolled
back, stopped, succeeded, timed out) it is no longer RUNNING and a new execution proceeds.
"""

from __future__ import annotations

import json
import time
import uuid

from heroku2aws_cli.executions import history

REFUSED = ["Validate the execution input", "Look for another running migration of this app",
           "Is another migration of this app running?", "Another migration of this app is running"]


def _start(world, payload: dict) -> str:
    sfn = world.aws.client("stepfunctions")
    return sfn.start_execution(stateMachineArn=world.ids["state_machine_arn"], name=f"t-{uuid.uuid4().hex[:12]}",
                               input=json.dumps(payload))["executionArn"]


def _states(world, arn: str) -> list[str]:
    return [s.name for s in history(world.aws.client("stepfunctions"), arn).states]


def _wait_until(predicate, what: str, deadline: float = 120):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _ended(world, arn: str) -> dict | None:
    desc = world.aws.client("stepfunctions").describe_execution(executionArn=arn)
    return desc if desc["status"] != "RUNNING" else None


def _proceeds(world, arn: str) -> None:
    """The execution got past the check into preflight; then it is stopped (what it does next is not the point)."""
    _wait_until(lambda: "Run the preflight checks" in _states(world, arn) or _ended(world, arn), "preflight")
    assert "Another migration of this app is running" not in _states(world, arn)
    assert "Run the preflight checks" in _states(world, arn), _states(world, arn)
    sfn = world.aws.client("stepfunctions")
    if not _ended(world, arn):
        sfn.stop_execution(executionArn=arn, error="TestDone", cause="the test only needed it past the check")
    _wait_until(lambda: _ended(world, arn), "the stop")


def test_a_second_execution_ends_in_migration_in_progress_and_a_stopped_one_leaves_no_lock(world):
    payload = world.execution_input()
    sfn = world.aws.client("stepfunctions")
    first = _start(world, payload)
    _wait_until(lambda: "Run the preflight checks" in _states(world, first), "the first execution's preflight")

    # Given one migration running, a second start for the same app
    second = _start(world, payload)
    desc = _wait_until(lambda: _ended(world, second), "the second execution")
    # ends in MigrationInProgress naming the running one, before preflight (nothing read, nothing created).
    assert desc["status"] == "FAILED", desc["status"]
    assert desc["error"] == "MigrationInProgress"
    assert first in desc["cause"]
    assert _states(world, second) == REFUSED
    assert sfn.describe_execution(executionArn=first)["status"] == "RUNNING"  # the first one is untouched

    # When the first is aborted (StopExecution: no rollback, no cleanup state runs), nothing stays locked:
    sfn.stop_execution(executionArn=first, error="Operator", cause="aborted by the test")
    _wait_until(lambda: _ended(world, first), "the abort")
    _proceeds(world, _start(world, payload))


def test_after_a_rollback_a_new_execution_proceeds(world, rehearse):
    report = rehearse(overrides={"database.strategy": "dms-cdc"})  # refused in preflight, rolled back
    assert report["error"] == "MigrationRolledBack"
    _proceeds(world, _start(world, world.execution_input()))
