"""Emulated EventBridge Scheduler: it refuses what the service refuses (schedule expressions, time zones, flexible
windows), authorizes a schedule as ``schedule/<group>/<name>`` with iam:PassRole of its target's role, and fires an
ECS target only as a role scheduler.amazonaws.com may assume for this account. Each test fails on moto as it is."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from heroku2aws_rehearsal.aws import ACCOUNT_ID, REGION
from heroku2aws_rehearsal.services.iam.resources import checks_for

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/jobs"
CLUSTER = f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:cluster/app"
TARGET = {"Arn": CLUSTER, "RoleArn": ROLE,
          "EcsParameters": {"TaskDefinitionArn": f"arn:aws:ecs:{REGION}:{ACCOUNT_ID}:task-definition/app-scheduler:1"}}


def create(aws, **changes):
    args = {"Name": "job", "ScheduleExpression": "rate(1 day)", "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "DISABLED", "Target": TARGET, **changes}
    return aws.client("scheduler").create_schedule(**args)


@pytest.mark.parametrize("changes", [
    {"ScheduleExpression": "rate(1 days)"}, {"ScheduleExpression": "cron(0 2 * * * *)"},
    {"ScheduleExpression": "cron(0 2 * *)"}, {"ScheduleExpression": "every day"},
    {"ScheduleExpressionTimezone": "Mars/Olympus_Mons"},
    {"FlexibleTimeWindow": {"Mode": "OFF", "MaximumWindowInMinutes": 5}}, {"FlexibleTimeWindow": {"Mode": "FLEXIBLE"}},
])
def test_what_eventbridge_scheduler_refuses_is_refused(aws, changes):
    with pytest.raises(ClientError) as refused:
        create(aws, **changes)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert aws.client("scheduler").list_schedules()["Schedules"] == []


def test_what_it_accepts_is_accepted_and_an_update_is_checked_too(aws):
    create(aws, ScheduleExpression="cron(0 2 ? * MON-FRI *)", ScheduleExpressionTimezone="Europe/Paris")
    create(aws, Name="once", ScheduleExpression="at(2026-12-05T03:00:00)")
    scheduler = aws.client("scheduler")
    with pytest.raises(ClientError) as refused:
        scheduler.update_schedule(Name="job", ScheduleExpression="rate(0 minutes)", FlexibleTimeWindow={"Mode": "OFF"},
                                  Target=TARGET)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as exists:
        create(aws)
    assert exists.value.response["Error"]["Code"] == "ConflictException"


def test_a_schedule_is_authorized_by_its_arn_and_passing_its_role():
    checks = checks_for("scheduler", "CreateSchedule", {"Name": "h2a-app.job", "Target": TARGET})
    assert [(c.action, c.resource, c.context) for c in checks] == [
        ("scheduler:CreateSchedule", f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/default/h2a-app.job", {}),
        ("iam:PassRole", ROLE, {"iam:PassedToService": "scheduler.amazonaws.com"})]
    checks = checks_for("scheduler", "DeleteSchedule", {"Name": "n", "GroupName": "g"})
    assert [(c.action, c.resource) for c in checks] == [
        ("scheduler:DeleteSchedule", f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/g/n")]


def test_firing_needs_a_role_scheduler_may_assume_for_this_account(aws):
    from heroku2aws_rehearsal.services.iam.callers import CannotAssume
    from heroku2aws_rehearsal.services.scheduler import fire

    iam = aws.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"},
                                                     "Action": "sts:AssumeRole",
                                                     "Condition": {"StringEquals": {"aws:SourceAccount": "999999999999"}}}]}
    iam.create_role(RoleName="jobs", AssumeRolePolicyDocument=json.dumps(trust))
    create(aws)
    with pytest.raises(CannotAssume):
        fire("job")
