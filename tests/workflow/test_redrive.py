"""Re-running after a failure: every create is look-before-you-create, every compensation idempotent."""

from __future__ import annotations

import json

from heroku2aws_rehearsal.world import APP


def test_a_rerun_after_an_incomplete_rollback_completes_without_duplicates(world, rehearse):
    # Given an execution that failed at the first health gate and whose rollback then failed too,
    first = rehearse(fail_at=[("Run the health gate", 0), "Roll back what was created"])
    assert first["status"] == "FAILED"
    assert first["error"] == "RollbackIncomplete"
    assert first["leftovers"], "the failed rollback should have left the stage-3 resources"
    # when the same input runs again as a new execution,
    second = rehearse()
    # then it completes, and nothing exists twice.
    assert second["status"] == "SUCCEEDED", (second["error"], second["cause"])
    assert second["leftovers"] == []
    inventory = world.inventory()
    assert sorted(r for r in inventory if r.startswith("secret:heroku2aws/sample-app/config")) == [
        f"secret:heroku2aws/{APP}/config"]
    services = sorted(r for r in inventory if r.startswith("ecs-service:"))
    assert services == [f"ecs-service:{APP}-web", f"ecs-service:{APP}-worker"]
    weighted = sorted(r for r in inventory if r.startswith("record:"))
    assert len([r for r in weighted if r.endswith(":heroku")]) == 1
    assert len([r for r in weighted if r.endswith(":aws")]) == 1


def test_running_the_rollback_twice_does_no_harm(world, rehearse):
    # A failure late in stage 6 leaves the longest ledger; the rollback is then run once more by hand.
    report = rehearse(fail_at=["Verify the copy"])
    assert report["status"] == "FAILED" and report["error"] == "MigrationRolledBack"
    sfn = world.aws.client("stepfunctions")
    from heroku2aws_cli.executions import history

    events = history(sfn, report["execution_arn"]).events
    ledger_payload = next(json.loads(e["taskScheduledEventDetails"]["parameters"])["Payload"]
                          for e in reversed(events) if e["type"] == "TaskScheduled"
                          and "Rollback" in e["taskScheduledEventDetails"]["parameters"])
    lam = world.aws.client("lambda")
    fn = world.stack.ref("RollbackFunction")
    out = lam.invoke(FunctionName=fn, Payload=json.dumps(ledger_payload).encode())
    assert "FunctionError" not in out, out["Payload"].read()
    result = json.loads(out["Payload"].read())
    assert result["done"] is True
    assert world.inventory() - world.baseline == set()
