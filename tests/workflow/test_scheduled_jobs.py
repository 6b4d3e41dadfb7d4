"""Heroku Scheduler's jobs (scheduler.jobs) as EventBridge Scheduler schedules, rehearsed: created DISABLED in stage 3,
enabled at the switch, fired as the stack's scheduler role (IAM enforced) to run the job's command in the app's
container against the new database; deleted by rollback."""

from __future__ import annotations

import json

import pytest
from workflow_helpers import assert_rolled_back, heroku_app

from heroku2aws_rehearsal.world import APP

# The job writes a row to the app's database (DATABASE_URL: its config var, pointed at RDS after the switch).
JOB_COMMAND = ("python -c \"import os, psycopg; c = psycopg.connect(os.environ['DATABASE_URL']); "
               "c.execute('CREATE TABLE IF NOT EXISTS scheduled_job_runs (job text)'); "
               "c.execute('INSERT INTO scheduled_job_runs VALUES (%s)', ['nightly']); c.commit()\"")
JOBS = [{"name": "nightly", "command": JOB_COMMAND, "schedule": "cron(0 2 * * ? *)"},
        {"name": "sweep", "command": "echo sweep", "schedule": "rate(10 minutes)", "size": "Standard-2X"}]
NAMES = [f"h2a-{APP}.nightly", f"h2a-{APP}.sweep"]


def schedules(world) -> dict[str, dict]:
    scheduler = world.aws.client("scheduler")
    return {s["Name"]: scheduler.get_schedule(Name=s["Name"]) for s in scheduler.list_schedules()["Schedules"]
            if s["Name"].startswith(f"h2a-{APP}.")}


def test_jobs_are_enabled_at_the_switch_and_run_the_command_against_the_new_database(world, rehearse):
    report = rehearse(overrides={"scheduler.jobs": JOBS})
    assert report["status"] == "SUCCEEDED", (report["error"], report["cause"])
    states = [s["name"] for s in report["states"]]
    assert states.index("Create the scheduled jobs, disabled") < states.index("Point the app at RDS and ElastiCache") \
        < states.index("Enable the scheduled jobs")
    found = schedules(world)
    assert sorted(found) == NAMES
    nightly = found[NAMES[0]]
    assert (nightly["State"], nightly["ScheduleExpression"], nightly["ScheduleExpressionTimezone"]) == (
        "ENABLED", "cron(0 2 * * ? *)", "UTC")
    assert nightly["Target"]["RoleArn"] == world.stack.outputs.get("ScheduledJobRoleArn", nightly["Target"]["RoleArn"])
    assert ":task-definition/sample-app-scheduler:" in nightly["Target"]["EcsParameters"]["TaskDefinitionArn"]
    assert json.loads(found[NAMES[1]]["Target"]["Input"])["cpu"] == "512"   # Standard-2X: the larger size
    # EventBridge Scheduler fires it at its time: here, now, as the schedule's role (the stack's ScheduledJobRole).
    from heroku2aws_rehearsal.services.scheduler import fire

    task_arn = fire(NAMES[0])
    _wait(world, task_arn)
    rows = world.target_pg.sql("app", "SELECT job FROM scheduled_job_runs").split()
    assert rows == ["nightly"], rows
    assert report["leftovers"] == []


def _wait(world, task_arn: str) -> None:
    import time

    ecs = world.aws.client("ecs")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        task = ecs.describe_tasks(cluster=task_arn.split("/")[1], tasks=[task_arn])["tasks"][0]
        if task["lastStatus"] == "STOPPED":
            assert task["containers"][0].get("exitCode") == 0, task
            return
        time.sleep(0.5)
    pytest.fail(f"the scheduled job's task {task_arn} did not stop within 60 s")


def test_rollback_deletes_the_schedules(world, rehearse):
    before = heroku_app(world)
    report = rehearse(overrides={"scheduler.jobs": JOBS}, fail_at=["Run the health gate"])
    states = [s["name"] for s in report["states"]]
    assert "Create the scheduled jobs, disabled" in states
    assert_rolled_back(world, report, before)   # leftovers include every schedule: none is left
    assert schedules(world) == {}
