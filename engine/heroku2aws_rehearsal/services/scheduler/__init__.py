"""Emulated EventBridge Scheduler: moto's schedules, refused where the service refuses them, and fired as AWS fires them.

moto stores any ``ScheduleExpression`` and any time zone. EventBridge Scheduler refuses (ValidationException) an
expression that is not ``at(yyyy-mm-ddThh:mm:ss)``, ``rate(value unit)`` or a six-field ``cron(...)`` by its rules
(EventBridge Scheduler User Guide, "Schedule types",
https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html; the rules are
:mod:`heroku2aws.contracts.schedules`, the input's own check), a time zone that is not an IANA name, and a flexible
time window that does not match its mode (``OFF``: no ``MaximumWindowInMinutes``; ``FLEXIBLE``: 1-1440, the
CreateSchedule API reference). Each strictness has its contract test (tests/engine/test_scheduler_service.py).

:func:`fire` runs a schedule's target now, as its role (``scheduler.amazonaws.com`` must be trusted): a state machine
(StartExecution with the schedule's Input) or an ECS cluster (RunTask of ``EcsParameters`` with the Input as the
task's ``overrides``, as a schedule that runs a task does).
"""

from __future__ import annotations

import json
import re
import zoneinfo
from typing import Any

from heroku2aws.contracts.schedules import ScheduleExpressionError, check_expression

from ...aws import ACCOUNT_ID, REGION

_AT = re.compile(r"^at\(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\)$")
_ZONES: set[str] | None = None


def check_request(expression: str | None, timezone: str | None, window: dict[str, Any] | None) -> None:
    """moto's ValidationException (HTTP 400) for what EventBridge Scheduler refuses."""
    from moto.scheduler.exceptions import ValidationException

    global _ZONES
    if expression is not None and not _AT.match(expression):
        try:
            check_expression(expression)
        except ScheduleExpressionError as exc:
            raise ValidationException(f"Invalid Schedule Expression {expression}. {exc}") from None
    if timezone:
        _ZONES = _ZONES or zoneinfo.available_timezones()
        if timezone not in _ZONES:
            raise ValidationException(f"Invalid ScheduleExpressionTimezone {timezone}.")
    window = window or {}
    mode, maximum = window.get("Mode"), window.get("MaximumWindowInMinutes")
    if mode == "OFF" and maximum is not None:
        raise ValidationException("MaximumWindowInMinutes must not be set when FlexibleTimeWindow Mode is OFF.")
    if mode == "FLEXIBLE" and not (isinstance(maximum, int) and 1 <= maximum <= 1440):
        raise ValidationException("MaximumWindowInMinutes (1-1440) is required when FlexibleTimeWindow Mode is "
                                  "FLEXIBLE.")


def _patch() -> None:
    from moto.scheduler.models import EventBridgeSchedulerBackend as backend

    if getattr(backend.create_schedule, "_h2a", False):
        return
    create, update = backend.create_schedule, backend.update_schedule

    def create_schedule(self, *args, **kwargs):
        check_request(kwargs.get("schedule_expression"), kwargs.get("schedule_expression_timezone"),
                      kwargs.get("flexible_time_window"))
        return create(self, *args, **kwargs)

    def update_schedule(self, *args, **kwargs):
        check_request(kwargs.get("schedule_expression"), kwargs.get("schedule_expression_timezone"),
                      kwargs.get("flexible_time_window"))
        return update(self, *args, **kwargs)

    create_schedule._h2a = update_schedule._h2a = True  # type: ignore[attr-defined]
    backend.create_schedule, backend.update_schedule = create_schedule, update_schedule


def fire(name: str, group: str | None = None) -> str:
    """Run a schedule's target now, as its role; the execution's or the task's ARN."""
    import boto3
    from moto.scheduler.models import scheduler_backends

    from ...aws import current
    from ..iam import callers

    schedule = scheduler_backends[ACCOUNT_ID][REGION].get_schedule(group, name)
    target = schedule.target
    role_arn = target.get("RoleArn")
    # The keys EventBridge Scheduler sets when it assumes the role, for the trust policy's confused-deputy conditions
    # (User Guide, "Set up the execution role": aws:SourceAccount, aws:SourceArn = the schedule group).
    group_arn = f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule-group/{group or 'default'}"
    callers.assume(role_arn, "scheduler.amazonaws.com", f"scheduler-{name}",
                   {"aws:SourceAccount": ACCOUNT_ID, "aws:SourceArn": group_arn})
    creds = callers.IDENTITIES.issue(role_arn, f"scheduler-{name}")

    def client(service: str):
        return boto3.client(service, region_name=REGION, endpoint_url=current().endpoint,
                            aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                            aws_session_token=creds["AWS_SESSION_TOKEN"])

    if ":states:" in target["Arn"]:
        return client("stepfunctions").start_execution(stateMachineArn=target["Arn"],
                                                       input=target.get("Input") or "{}")["executionArn"]
    if ":ecs:" in target["Arn"] and ":cluster/" in target["Arn"]:
        ecs = target.get("EcsParameters") or {}
        network = ((ecs.get("NetworkConfiguration") or {}).get("awsvpcConfiguration")) or {}
        args: dict[str, Any] = {"cluster": target["Arn"], "taskDefinition": ecs["TaskDefinitionArn"],
                                "count": int(ecs.get("TaskCount") or 1),
                                "overrides": json.loads(target["Input"]) if target.get("Input") else {},
                                "startedBy": f"scheduler-{name}"[:36]}
        if ecs.get("LaunchType"):
            args["launchType"] = ecs["LaunchType"]
        if network:
            args["networkConfiguration"] = {"awsvpcConfiguration": {
                "subnets": network.get("Subnets") or [], "securityGroups": network.get("SecurityGroups") or [],
                "assignPublicIp": network.get("AssignPublicIp") or "DISABLED"}}
        if ecs.get("PropagateTags"):
            args["propagateTags"] = ecs["PropagateTags"]
        if ecs.get("EnableECSManagedTags") is not None:
            args["enableECSManagedTags"] = bool(ecs["EnableECSManagedTags"])
        tasks = client("ecs").run_task(**args)
        if tasks.get("failures"):
            raise RuntimeError(f"schedule {name}: RunTask failed: {tasks['failures']}")
        return str(tasks["tasks"][0]["taskArn"])
    raise NotImplementedError(f"schedule target {target['Arn']} is not emulated (state machines and ECS clusters)")


def apply() -> None:
    _patch()


__all__ = ["apply", "check_request", "fire"]
