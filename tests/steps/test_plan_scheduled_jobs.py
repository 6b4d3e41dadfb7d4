"""Stage 3: Heroku Scheduler's jobs (scheduler.jobs) as one task definition and one disabled schedule each, in the
shapes ECS RegisterTaskDefinition and EventBridge Scheduler CreateSchedule take (botocore's models judge)."""

from __future__ import annotations

import json

import botocore.session
from botocore.validate import ParamValidator
from helpers import EXECUTION_ID, load_handler, with_changes

from heroku2aws.steps.plan_services import container_command

handler = load_handler("plan_services")
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:111122223333:secret:heroku2aws/acme-storefront/config-AbCdEf"
CONFIG = {"secret_arn": SECRET_ARN, "imported": ["DATABASE_URL", "RAILS_ENV"]}
FORMATION = [{"type": "web", "quantity": 2, "size": "Standard-2X", "command": "bundle exec puma"}]
JOBS = [{"name": "nightly-report", "command": "bin/rake reports:nightly", "schedule": "cron(0 2 * * ? *)"},
        {"name": "sweep", "command": "python -m app.sweep --all", "schedule": "rate(10 minutes)",
         "size": "Performance-M", "timezone": "Europe/Paris"}]
ROLE = "arn:aws:iam::111122223333:role/heroku2aws-acme-storefront-ScheduledJobRole-AbC"
TD_ARN = "arn:aws:ecs:us-east-1:111122223333:task-definition/acme-storefront-scheduler:3"


def invoke(cfg, context):
    return handler({"input": cfg, "plan": {"heroku": {"formation": FORMATION}}, "config": CONFIG,
                    "execution_id": EXECUTION_ID}, context)


def to_botocore(value, shape):
    """Step Functions' PascalCase request as botocore names it (its aws-sdk integration capitalises every member:
    ECS's ``family``, Scheduler's ``awsvpcConfiguration``)."""
    if shape.type_name == "structure" and isinstance(value, dict):
        members = {name.lower(): name for name in shape.members}
        return {members.get(k.lower(), k): to_botocore(v, shape.members.get(members.get(k.lower(), k)) or shape)
                for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [to_botocore(v, shape.member) for v in value]
    return value


def valid(service: str, operation: str, params: dict) -> None:
    model = botocore.session.get_session().get_service_model(service).operation_model(operation)
    report = ParamValidator().validate(to_botocore(params, model.input_shape), model.input_shape)
    assert not report.has_errors(), report.generate_report()


def test_without_jobs_there_is_no_scheduler_block(production_input, context):
    assert invoke(production_input, context).get("scheduler") is None


def test_jobs_become_a_task_definition_and_disabled_schedules_running_the_command(production_input, context):
    out = invoke(with_changes(production_input, scheduler={"jobs": JOBS}), context)["scheduler"]
    td = out["task_definition"]
    assert td["Family"] == "acme-storefront-scheduler"
    assert (td["Cpu"], td["Memory"]) == ("256", "512")              # the smaller job: standard-1x
    container = td["ContainerDefinitions"][0]
    assert container["Name"] == "scheduler" and "PortMappings" not in container
    assert all(e["Name"] != "PORT" for e in container["Environment"])
    assert container["LogConfiguration"]["Options"]["awslogs-stream-prefix"] == "scheduler"
    valid("ecs", "RegisterTaskDefinition", {k: v for k, v in td.items()})
    assert out["names"] == ["h2a-acme-storefront.nightly-report", "h2a-acme-storefront.sweep"]
    nightly, sweep = out["schedules"]
    assert (nightly["ScheduleExpression"], nightly["ScheduleExpressionTimezone"], nightly["State"]) == (
        "cron(0 2 * * ? *)", "UTC", "DISABLED")
    assert sweep["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert json.loads(nightly["Target"]["Input"]) == {"containerOverrides": [
        {"name": "scheduler", "command": container_command("bin/rake reports:nightly", "scheduler")}]}
    assert json.loads(sweep["Target"]["Input"])["cpu"] == "1024"   # Performance-M: 1 vCPU / 3 GB
    assert json.loads(sweep["Target"]["Input"])["memory"] == "3072"
    network = nightly["Target"]["EcsParameters"]["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["Subnets"] == production_input["ecs"]["subnets"] and network["AssignPublicIp"] == "DISABLED"
    assert nightly["Target"]["Arn"] == production_input["ecs"]["cluster_arn"]
    assert nightly["Target"]["RetryPolicy"] == {"MaximumRetryAttempts": 0}
    for schedule in out["schedules"]:   # what the ASL sends: the planned schedule with the role and the TD's ARN
        target = {**schedule["Target"], "RoleArn": ROLE,
                  "EcsParameters": {**schedule["Target"]["EcsParameters"], "TaskDefinitionArn": TD_ARN}}
        valid("scheduler", "CreateSchedule", {**schedule, "Target": target})
        valid("scheduler", "UpdateSchedule", {**schedule, "Target": target, "State": "ENABLED"})
        assert len(schedule["Name"]) <= 64


def test_the_longest_app_and_job_names_still_make_a_valid_schedule_name(production_input, context):
    app = "a" + "b" * 29
    cfg = with_changes(production_input, scheduler={"jobs": [{"name": "j" * 29, "command": "x",
                                                               "schedule": "rate(1 day)"}]})
    cfg["heroku"]["app"] = app
    name = invoke(cfg, context)["scheduler"]["names"][0]
    assert len(name) == 64
