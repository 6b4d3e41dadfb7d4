"""``scheduled-jobs``: the schedules made of Heroku Scheduler's jobs are deleted, once; a missing one is fine (moto)."""

from __future__ import annotations

import boto3
from helpers import APP, run_compensation

ROLE = "arn:aws:iam::123456789012:role/heroku2aws-scheduled-jobs"
CLUSTER = "arn:aws:ecs:us-east-1:123456789012:cluster/acme"


def make(name: str) -> None:
    boto3.client("scheduler").create_schedule(
        Name=name, ScheduleExpression="rate(1 day)", FlexibleTimeWindow={"Mode": "OFF"}, State="DISABLED",
        Target={"Arn": CLUSTER, "RoleArn": ROLE, "EcsParameters": {"TaskDefinitionArn": "arn:aws:ecs:us-east-1:"
                "123456789012:task-definition/acme-scheduler:1"}})


def names() -> set[str]:
    return {s["Name"] for s in boto3.client("scheduler").list_schedules()["Schedules"]}


def test_the_recorded_schedules_are_deleted_once_and_others_are_left(cfg, moto):
    mine = [f"h2a-{APP}.nightly", f"h2a-{APP}.sweep", f"h2a-{APP}.never-created"]
    make(mine[0])
    make(mine[1])
    make(f"h2a-{APP}-eu.nightly")      # another app's (acme-storefront-eu): same prefix, not in the ledger
    entry = {"kind": "scheduled-jobs", "app": APP, "names": mine}
    first = run_compensation("scheduled-jobs", entry, cfg)
    assert names() == {f"h2a-{APP}-eu.nightly"}
    assert sorted(first.actions) == [f"deleted schedule h2a-{APP}.nightly", f"deleted schedule h2a-{APP}.sweep"]
    again = run_compensation("scheduled-jobs", entry, cfg)
    assert again.actions == [] and names() == {f"h2a-{APP}-eu.nightly"}
