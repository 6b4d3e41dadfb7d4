"""Stage 3: are the ECS services stable and the load balancer's targets healthy? (moto ECS and ELBv2)."""

from __future__ import annotations

import boto3
import pytest
from helpers import EXECUTION_ID, load_handler, to_boto, with_changes

from heroku2aws.contracts.errors import ServicesNotReady
from heroku2aws.steps.plan_services import plan_services

handler = load_handler("check_services")
ACCOUNT, REGION = "123456789012", "us-east-1"
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:heroku2aws/acme-storefront/config-AbCdEf"


@pytest.fixture
def world(moto, monkeypatch, production_input):
    """A cluster, a VPC with a target group, and the input pointing at them."""
    ecs, ec2, elbv2 = boto3.client("ecs"), boto3.client("ec2"), boto3.client("elbv2")
    cluster = ecs.create_cluster(clusterName="acme-storefront")["cluster"]["clusterArn"]
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    tg = elbv2.create_target_group(Name="acme-storefront-web", Protocol="HTTP", Port=80, VpcId=vpc,
                                   TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    cfg = with_changes(production_input, ecs__cluster_arn=cluster, load_balancer__target_group_arn=tg,
                       ecs__subnets=[subnet], ecs__security_groups=[sg])
    return {"cfg": cfg, "ecs": ecs, "elbv2": elbv2, "tg": tg, "cluster": cluster}


def create_services(world, monkeypatch, running: int) -> list[str]:
    """The planned services created the way the ASL does (RegisterTaskDefinition, CreateService)."""
    from heroku2aws.contracts.input import ExecutionInput

    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", str(running))
    cfg = ExecutionInput.model_validate(world["cfg"])
    formation = [{"type": "web", "quantity": 2, "size": "standard-1x", "command": "run"},
                 {"type": "worker", "quantity": 2, "size": "standard-1x", "command": "work"}]
    planned = plan_services(cfg, {"heroku": {"formation": formation}},
                            {"secret_arn": SECRET_ARN, "imported": ["DATABASE_URL"]}, EXECUTION_ID).model_dump()
    names = []
    for item in planned["services"]:
        td = world["ecs"].register_task_definition(**to_boto("ecs", "RegisterTaskDefinition",
                                                             item["task_definition"]))
        args = to_boto("ecs", "CreateService", {**item["service"],
                                                "TaskDefinition": td["taskDefinition"]["taskDefinitionArn"]})
        world["ecs"].create_service(**args)
        names.append(item["service"]["ServiceName"])
    return names


def invoke(world, context, services):
    return handler({"input": world["cfg"], "services": services, "execution_id": EXECUTION_ID}, context)


def test_given_services_still_starting_when_checked_then_not_stable_and_no_error(world, monkeypatch, context):
    names = create_services(world, monkeypatch, running=0)

    out = invoke(world, context, names)

    assert out["stable"] is False
    assert out["healthy"] is False
    assert out["targets"] == []
    assert [s["name"] for s in out["services"]] == names
    assert out["services"][0] == {"name": "acme-storefront-web", "status": "ACTIVE", "desired": 2, "running": 0,
                                  "pending": 2, "deployments": 1, "rollout_state": "IN_PROGRESS"}


def test_given_running_services_and_healthy_targets_when_checked_then_stable_and_healthy(world, monkeypatch,
                                                                                         context):
    names = create_services(world, monkeypatch, running=2)
    world["elbv2"].register_targets(TargetGroupArn=world["tg"], Targets=[{"Id": "10.0.1.5", "Port": 5000},
                                                                         {"Id": "10.0.1.6", "Port": 5000}])

    out = invoke(world, context, names)

    assert out["stable"] is True
    assert out["healthy"] is True
    assert {t["id"] for t in out["targets"]} == {"10.0.1.5", "10.0.1.6"}
    assert all(t["state"] == "healthy" and t["port"] == 5000 for t in out["targets"])


def test_given_the_plan_services_shape_when_checked_then_names_are_taken_from_it(world, monkeypatch, context):
    names = create_services(world, monkeypatch, running=2)
    out = invoke(world, context, [{"type": "web", "service": {"ServiceName": names[0]}},
                                  {"ServiceName": names[1]}])
    assert [s["name"] for s in out["services"]] == names


def test_given_stable_services_but_no_target_when_checked_then_not_healthy(world, monkeypatch, context):
    names = create_services(world, monkeypatch, running=2)
    out = invoke(world, context, names)
    assert out["stable"] is True
    assert out["healthy"] is False


def test_given_one_unhealthy_target_when_checked_then_not_healthy(world, monkeypatch, context):
    names = create_services(world, monkeypatch, running=2)
    elbv2 = _StubElb([{"Target": {"Id": "10.0.1.5", "Port": 5000}, "TargetHealth": {"State": "healthy"}},
                      {"Target": {"Id": "10.0.1.6", "Port": 5000},
                       "TargetHealth": {"State": "unhealthy", "Reason": "Target.ResponseCodeMismatch"}}])
    from heroku2aws.contracts.input import ExecutionInput
    from heroku2aws.steps.check_services import check_services

    out = check_services(ExecutionInput.model_validate(world["cfg"]), names, elbv2=elbv2).model_dump()
    assert out["healthy"] is False
    assert out["targets"][1] == {"id": "10.0.1.6", "port": 5000, "state": "unhealthy",
                                 "reason": "Target.ResponseCodeMismatch"}


def test_given_a_second_deployment_in_flight_when_checked_then_not_stable(world, monkeypatch, context):
    names = create_services(world, monkeypatch, running=2)
    service = _backend_service(world, names[0])
    service.deployments.append({**service.deployments[0], "id": "ecs-svc/2", "status": "ACTIVE"})

    out = invoke(world, context, names)

    assert out["stable"] is False
    assert out["services"][0]["deployments"] == 2


def test_given_a_failed_rollout_when_checked_then_services_not_ready(world, monkeypatch, context):
    names = create_services(world, monkeypatch, running=0)
    service = _backend_service(world, names[1])
    service.deployments[0]["rolloutState"] = "FAILED"
    service.deployments[0]["rolloutStateReason"] = "ECS deployment circuit breaker: tasks failed to start."

    with pytest.raises(ServicesNotReady, match=r"acme-storefront-worker: deployment FAILED: ECS deployment circuit"):
        invoke(world, context, names)


def test_given_a_missing_service_when_checked_then_services_not_ready(world, monkeypatch, context):
    create_services(world, monkeypatch, running=2)
    with pytest.raises(ServicesNotReady, match=r"not found: acme-storefront-clock \(MISSING\)"):
        invoke(world, context, ["acme-storefront-web", "acme-storefront-clock"])


def test_given_a_deleted_service_when_checked_then_services_not_ready(world, monkeypatch, context):
    names = create_services(world, monkeypatch, running=2)
    world["ecs"].delete_service(cluster=world["cluster"], service=names[0], force=True)
    with pytest.raises(ServicesNotReady, match=r"acme-storefront-web is INACTIVE"):
        invoke(world, context, names)


def test_given_a_missing_target_group_when_checked_then_services_not_ready(world, monkeypatch, context):
    names = create_services(world, monkeypatch, running=2)
    world["elbv2"].delete_target_group(TargetGroupArn=world["tg"])
    with pytest.raises(ServicesNotReady, match="target group .* not found"):
        invoke(world, context, names)


def test_given_more_than_ten_services_when_checked_then_described_in_batches(world, monkeypatch, context):
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "1")
    ecs = world["ecs"]
    ecs.register_task_definition(family="acme-storefront-x", containerDefinitions=[{"name": "x", "image": "i", "memory": 512}])
    names = [f"acme-storefront-p{i}" for i in range(12)]
    for name in names:
        ecs.create_service(cluster=world["cluster"], serviceName=name, taskDefinition="acme-storefront-x",
                           desiredCount=1)
    out = invoke(world, context, names)
    assert len(out["services"]) == 12 and out["stable"] is True


def test_given_no_services_when_checked_then_services_not_ready(world, context):
    with pytest.raises(ServicesNotReady, match="no ECS service"):
        invoke(world, context, [])


class _StubElb:
    def __init__(self, descriptions):
        self.descriptions = descriptions

    def describe_target_health(self, TargetGroupArn):  # noqa: N803 - boto3's parameter name
        return {"TargetHealthDescriptions": self.descriptions}


def _backend_service(world, name):
    from moto.ecs.models import ecs_backends

    backend = ecs_backends[ACCOUNT][REGION]
    return backend.services[f"acme-storefront:{name}"]
