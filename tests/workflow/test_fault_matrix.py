"""The fault matrix, generated from the ASL itself: every Task state, nested ones included, made to
fail once. A state added later is covered without anyone editing this file.

Each rehearsal must end FAILED with MigrationRolledBack (InvalidInput at the first state), traffic at
Heroku 100 / AWS 0, Heroku's formation and maintenance as they were, the sources unchanged and
nothing the execution created left in the emulated account.
"""

from __future__ import annotations

import json

import pytest
from workflow_helpers import assert_rolled_back, heroku_app

from heroku2aws_rehearsal import engine_paths

ASL = json.loads((engine_paths.ROOT / "statemachine" / "migration.asl.json").read_text())

# States on the rollback path itself: failing them is the "rollback needs a person" case, tested apart.
ROLLBACK_STATES = {"Roll back what was created"}
# States only a minimal input (a stack deployed with Landing=create) reaches: their faults run in the landing's own
# world (tests/workflow/test_landing_rehearsal.py), which takes every state of this set from here.
LANDING_ONLY = {"Create the source secrets from Heroku's config vars"}

# dms-cdc needs a source role with REPLICATION (Heroku never grants it): the test grants it for these.
CDC = {"overrides": {"database.strategy": "dms-cdc"}, "replication": True}

SCHEDULED = {"overrides": {"scheduler.jobs": [{"name": "nightly", "command": "echo nightly",
                                                "schedule": "cron(0 2 * * ? *)"}]}}

# What it takes to reach states that the default rehearsal input does not: input overrides and,
# for a Catch-routed state, an AWS error injected first to take that route.
REACH: dict[str, dict] = {
    "Ask for approval to switch the data stores": {"overrides": {"approval.required": True,
                                                                 "timings.approval_timeout_seconds": 30}},
    "Dump and restore Postgres": {"overrides": {"database.strategy": "dump-restore"}},
    **{state: CDC for state in [
        "Create the schema on RDS for change capture", "Start DMS with change capture", "Check the DMS initial load",
        "Add indexes and constraints for change capture", "Check the DMS change capture",
        "Compare the databases while CDC drains", "Stop the DMS task"]},
    "Reload DMS with change capture": {**CDC, "before": [("Start DMS with change capture", 0,
                                                          "DatabaseMigration.InvalidResourceStateException")]},
    "Reload the DMS replication task": {"before": [("Start the DMS replication task", 0,
                                                    "DatabaseMigration.InvalidResourceStateException")]},
    "Update the service": {"setup": "existing web service"},
    # Heroku Scheduler's jobs (scheduler.jobs): states only an input with jobs reaches; an existing schedule is
    # updated after CreateSchedule's ConflictException (the Catch that routes there).
    **{state: SCHEDULED for state in ["Register the scheduled jobs' task definition", "Create the schedule",
                                      "Read the schedule", "Enable the schedule"]},
    "Update the existing schedule": {**SCHEDULED, "before": [("Create the schedule", 0, "Scheduler.ConflictException")]},
}

# Finalize runs after the switch: the migration is complete and writes may have reached RDS, so a failure
# there must not roll back (that would strand those writes). It ends in FinalizeIncomplete instead.
FINALIZE_STATES = {"Tear down DMS", "Publish the report", "Read the schedule", "Enable the schedule"}


def existing_web_service(world) -> None:
    """A service left by an earlier run (tagged as ours), so the workflow takes its update path."""
    ecs = world.aws.client("ecs")
    tags = [{"key": "heroku2aws:app", "value": "sample-app"}]
    td = ecs.register_task_definition(
        family="sample-app-web", requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256", memory="512",
        tags=tags, containerDefinitions=[{"name": "web", "image": "rehearsal", "essential": True,
                                          "command": ["python", "-c", "import time; time.sleep(600)"]}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster=world.ids["cluster_arn"], serviceName="sample-app-web", taskDefinition=td,
                       desiredCount=0, launchType="FARGATE", tags=tags, networkConfiguration={
                           "awsvpcConfiguration": {"subnets": [world.ids["subnet_a"]],
                                                   "securityGroups": [world.ids["security_group"]]}})


def task_states(states: dict) -> list[str]:
    found = []
    for name, state in states.items():
        if state["Type"] == "Task":
            found.append(name)
        for branch in state.get("Branches", []):
            found += task_states(branch["States"])
        if "ItemProcessor" in state:
            found += task_states(state["ItemProcessor"]["States"])
    return found


TASKS = [s for s in task_states(ASL["States"]) if s not in ROLLBACK_STATES | LANDING_ONLY]


def test_the_matrix_covers_every_task_state():
    assert len(TASKS) >= 30
    assert "Validate the execution input" in TASKS
    assert "Set the DNS weights" in TASKS  # nested in a Map
    assert "Create the DMS replication task" in TASKS  # nested in a Parallel


@pytest.mark.parametrize("state", TASKS)
def test_a_failure_at_any_task_state_rolls_everything_back(world, rehearse, state):
    reach = REACH.get(state, {})
    if reach.get("replication"):  # dms-cdc needs a source role with REPLICATION (Heroku never grants it)
        world.source_pg.sql("postgres", "ALTER ROLE app REPLICATION")
    if reach.get("setup") == "existing web service":
        existing_web_service(world)
    try:
        before = heroku_app(world)
        report = rehearse(fail_at=[*reach.get("before", []), state], overrides=reach.get("overrides", {}))
    finally:
        world.source_pg.sql("postgres", "ALTER ROLE app NOREPLICATION")
    assert "notes" not in report, report.get("notes")  # every armed fault fired
    if state == "Validate the execution input":
        assert report["status"] == "FAILED" and report["error"] == "InvalidInput"
        assert report["leftovers"] == []
        return
    if state in FINALIZE_STATES:
        assert report["status"] == "FAILED" and report["error"] == "FinalizeIncomplete", report["error"]
        cause = json.loads(report["cause"])
        assert cause["error"]["Error"] == "Rehearsal.InjectedFailure"
        assert cause["verification"]["postgres"]["match"] is True
        assert report["traffic"] == {"aws": 100, "heroku": 0}
        assert report["source_intact"] is True
        return
    assert_rolled_back(world, report, before)
    assert json.loads(report["cause"])["Error"] == "Rehearsal.InjectedFailure"
