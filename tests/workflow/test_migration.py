"""The whole migration, rehearsed: happy paths, bad input, and the rollback branches."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from workflow_helpers import assert_rolled_back, heroku_app


def test_full_migration_moves_the_app_and_its_data(world, rehearse):
    # Given the sample app on "Heroku", when the whole migration runs,
    report = rehearse()
    # then it succeeds with both verifications matching and all traffic on AWS,
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    assert report["verification"]["postgres"]["match"] is True
    # (the copy step verified every table itself - the DMS post-data task, in an ECS task, issue 18 - so the
    # report names it instead of counting the rows a second time; the rows are on RDS:)
    assert report["verification"]["postgres"]["verified_by"] not in (None, "", "verify-data")
    rows = world.target_pg.sql("app", "SELECT (SELECT count(*) FROM customers) + (SELECT count(*) FROM orders)"
                                      " + (SELECT count(*) FROM order_items) + (SELECT count(*) FROM page_views)")
    assert int(rows.strip()) >= 100_000, rows
    assert report["verification"]["redis"]["match"] is True
    assert report["traffic"] == {"aws": 100, "heroku": 0}
    assert report["leftovers"] == []  # DMS is torn down; only the app's secret, services and records remain
    assert report["source_intact"] is True
    # Heroku stays in maintenance with its dynos at 0, so no stale client can write to the old database,
    assert heroku_app(world)["maintenance"] is True
    assert all(q == 0 for _, q, _ in heroku_app(world)["formation"])
    # and the app, through the ALB, now serves from the target data stores.
    with urllib.request.urlopen(world.ids["health_url"], timeout=5) as resp:  # noqa: S310
        health = json.loads(resp.read())
    assert str(world.target_pg.port) in health["database"]
    assert str(world.target_redis.port) in health["redis"]
    # The end of the execution reached the notification topic: EventBridge may publish to it (the stack's own
    # KMS key, not alias/aws/sns, and a topic policy for the rule), as the emulated delivery checks.
    from heroku2aws_rehearsal.services.events import EVENTS

    deadline = time.monotonic() + 10
    while not any(d["target"] == world.ids["topic_arn"] for d in EVENTS.delivered) and time.monotonic() < deadline:
        time.sleep(0.2)
    delivered = [d for d in EVENTS.delivered if d["target"] == world.ids["topic_arn"]]
    assert delivered and delivered[-1]["status"] == "SUCCEEDED", EVENTS.dropped
    assert not [d for d in EVENTS.dropped if d["target"] == world.ids["topic_arn"]]


def test_bad_input_ends_at_the_first_state_with_nothing_created(world, rehearse):
    report = rehearse(overrides={"traffic.steps": [10, 300]})
    assert report["status"] == "FAILED"
    assert report["error"] == "InvalidInput"
    assert "traffic.steps" in report["cause"]
    assert [s["name"] for s in report["states"]] == ["Validate the execution input", "Input is invalid"]
    assert report["leftovers"] == []


def test_dms_cdc_is_refused_when_the_source_role_lacks_replication(world, rehearse):
    report = rehearse(overrides={"database.strategy": "dms-cdc"})
    assert report["status"] == "FAILED"
    assert report["error"] == "MigrationRolledBack"
    cause = json.loads(report["cause"])
    assert cause["Error"] == "PreflightFailed"
    assert "REPLICATION" in cause["Cause"]
    assert report["leftovers"] == []


@pytest.mark.parametrize("step", [0, 1, 2])
def test_a_failed_health_gate_at_any_step_puts_traffic_back_on_heroku(world, rehearse, step):
    before = heroku_app(world)
    report = rehearse(fail_at=[("Run the health gate", step)])
    assert_rolled_back(world, report, before)
    cause = json.loads(report["cause"])
    assert cause["State"] == "Shift traffic step by step"


def test_dump_restore_strategy_migrates_too(world, rehearse):
    report = rehearse(overrides={"database.strategy": "dump-restore"})
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    assert report["verification"]["postgres"]["match"] is True
    assert report["leftovers"] == []


def _write_while_heroku_serves(world, after_state: str, statements: list[str], done: dict, deadline: float = 120) -> None:
    """Play the app on Heroku: once ``after_state`` has run, write to the source (as live traffic does
    until the freeze), and record when, so the test can tell what change capture had to carry."""
    from heroku2aws_cli.executions import history

    sfn = world.aws.client("stepfunctions")
    seen: dict[str, object] = {}  # execution -> its history so far: each poll reads only the new events
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        for ex in sfn.list_executions(stateMachineArn=world.ids["state_machine_arn"], statusFilter="RUNNING")["executions"]:
            seen[ex["executionArn"]] = hist = history(sfn, ex["executionArn"], previous=seen.get(ex["executionArn"]))
            states = hist.states
            if any(s.name == after_state and s.status == "SUCCEEDED" for s in states):
                if any(s.name == "Freeze writes on Heroku" for s in states):
                    done["too_late"] = True
                    return
                world.source_pg.sql("app", "; ".join(statements))
                done["written"] = True
                return
        time.sleep(0.1)


def test_dms_cdc_loads_before_the_freeze_and_the_freeze_only_drains_the_last_changes(world, rehearse):
    import threading

    from heroku2aws_cli.executions import history

    # Given a source role with REPLICATION (never on Heroku Postgres, but on a self-managed source),
    world.source_pg.sql("postgres", "ALTER ROLE app REPLICATION")
    writes = ["INSERT INTO jobs_done (job, worker) VALUES ('{\"kind\": \"written-during-cdc\"}', 'heroku')",
              "UPDATE customers SET email = 'changed-during-cdc@example.com' WHERE id = 7",
              "INSERT INTO page_views (viewed_at, path) VALUES (now(), '/written-during-cdc')"]
    done: dict = {}
    writer = threading.Thread(target=_write_while_heroku_serves, daemon=True,
                              args=(world, "Add indexes and constraints for change capture", writes, done))
    try:
        writer.start()
        # when the migration runs with dms-cdc, and the app keeps writing on Heroku after RDS is loaded,
        report = rehearse(overrides={"database.strategy": "dms-cdc"})
        writer.join(5)
    finally:
        world.source_pg.sql("postgres", "ALTER ROLE app NOREPLICATION")
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    assert done == {"written": True}, done
    # then RDS was loaded and capturing changes before the freeze, and the freeze only waited for the drain,
    names = [s.name for s in history(world.aws.client("stepfunctions"), report["execution_arn"]).states]
    assert names.index("Start DMS with change capture") < names.index("Freeze writes on Heroku") \
        < names.index("Compare the databases while CDC drains") < names.index("Stop the DMS task")
    assert "Start the DMS replication task" not in names and "Add indexes and constraints on RDS" not in names
    # and the writes made after the load reached RDS through change capture, verified table by table.
    assert report["verification"]["postgres"]["match"] is True
    assert world.target_pg.sql("app", "SELECT count(*) FROM jobs_done WHERE job->>'kind' = 'written-during-cdc'").strip() == "1"
    assert world.target_pg.sql("app", "SELECT email FROM customers WHERE id = 7").strip() == "changed-during-cdc@example.com"
    assert world.target_pg.sql("app", "SELECT count(*) FROM page_views WHERE path = '/written-during-cdc'").strip() == "1"
    assert report["traffic"] == {"aws": 100, "heroku": 0} and report["leftovers"] == []


def _approve(world, answer: dict | None, deadline: float = 60) -> None:
    """Play the approver: wait for the approval message on the topic, answer with its task token."""
    from heroku2aws_rehearsal.patches.local import PUBLISHED

    sfn = world.aws.client("stepfunctions")
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        for published in list(PUBLISHED):
            try:
                body = json.loads(published["message"])
            except ValueError:
                continue
            if body.get("action") == "approve-switchover":
                if answer is None:
                    return
                if answer.get("approved"):
                    sfn.send_task_success(taskToken=body["taskToken"], output=json.dumps(answer))
                else:
                    sfn.send_task_failure(taskToken=body["taskToken"], error="SwitchoverRejected", cause="no")
                return
        time.sleep(0.2)
    raise AssertionError("no approval request was published")


def test_approval_rejected_rolls_back(world, rehearse):
    import threading

    before = heroku_app(world)
    approver = threading.Thread(target=_approve, args=(world, {"approved": False}), daemon=True)
    approver.start()
    report = rehearse(overrides={"approval.required": True})
    approver.join(5)
    assert_rolled_back(world, report, before)
    assert json.loads(report["cause"])["Error"] == "SwitchoverRejected"


def test_approval_timed_out_rolls_back(world, rehearse):
    before = heroku_app(world)
    report = rehearse(overrides={"approval.required": True, "timings.approval_timeout_seconds": 2})
    assert_rolled_back(world, report, before)
    assert json.loads(report["cause"])["Error"] == "States.Timeout"


def test_approval_granted_continues(world, rehearse):
    import threading

    approver = threading.Thread(target=_approve, args=(world, {"approved": True}), daemon=True)
    approver.start()
    report = rehearse(overrides={"approval.required": True})
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
