"""The minimal execution input (issue 16, interface B): completed from the landing's LANDING_* IDs by the validate
step, refused on a stack deployed without Landing=create; the full input keeps working as before."""

from __future__ import annotations

import json

import pytest
from helpers import raw_production_input

from heroku2aws.contracts.errors import InvalidInput
from heroku2aws.contracts.input import ExecutionInput, PendingInput
from heroku2aws.steps.validate_input import validate_input

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:heroku2aws/sample-app/"
LANDING_ENV = {
    "LANDING": "create",
    "LANDING_CLUSTER_ARN": "arn:aws:ecs:us-east-1:123456789012:cluster/sample-app",
    "LANDING_PRIVATE_SUBNETS": "subnet-0a1b2c3d4e5f60718,subnet-0f1e2d3c4b5a69788",
    "LANDING_APP_SECURITY_GROUP": "sg-0123456789abcdef0",
    "LANDING_DMS_SECURITY_GROUP": "sg-0fedcba9876543210",
    "LANDING_EXECUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/heroku2aws-sample-app-execution",
    "LANDING_TASK_ROLE_ARN": "arn:aws:iam::123456789012:role/heroku2aws-sample-app-task",
    "LANDING_TARGET_GROUP_ARN": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef",
    "LANDING_LOAD_BALANCER_ARN": "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/lb/0123456789abcdef",
    "LANDING_LOAD_BALANCER_DNS": "lb-123.us-east-1.elb.amazonaws.com",
    "LANDING_DOMAIN": "www.example.com",
    "LANDING_APP_PORT": "5000",
    "LANDING_HEALTH_CHECK_PATH": "/health",
    "LANDING_TARGET_POSTGRES_SECRET_ARN": ARN + "target-postgres-AbCdEf",
    "LANDING_TARGET_REDIS_SECRET_ARN": ARN + "target-redis-GhIjKl",
    "HEROKU2AWS_HOSTED_ZONE_ID": "Z0123456789ABCDEFGHIJ",
}
NONE_ENV = {"LANDING": "none", "HEROKU2AWS_HOSTED_ZONE_ID": "Z0123456789ABCDEFGHIJ"}


def minimal(**extra) -> dict:
    doc = {"version": 1, "heroku": {"app": "sample-app", "api_key_secret_arn": ARN + "heroku-api-key-MnOpQr"},
           "dns": {"record_name": "www.example.com"}, "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v7"}
    doc.update(extra)
    return doc


def test_given_a_minimal_input_on_a_landing_stack_when_validated_then_the_landing_fills_the_full_shape():
    out = validate_input(minimal(), env=LANDING_ENV)
    assert isinstance(out, PendingInput)
    doc = out.model_dump(mode="json")
    assert doc["ecs"]["cluster_arn"] == LANDING_ENV["LANDING_CLUSTER_ARN"]
    assert doc["ecs"]["subnets"] == ["subnet-0a1b2c3d4e5f60718", "subnet-0f1e2d3c4b5a69788"]
    assert doc["ecs"]["security_groups"] == ["sg-0123456789abcdef0"]
    assert doc["ecs"]["assign_public_ip"] is False
    assert doc["ecs"]["execution_role_arn"].endswith("role/heroku2aws-sample-app-execution")
    assert doc["ecs"]["task_role_arn"].endswith("role/heroku2aws-sample-app-task")
    assert doc["load_balancer"] == {"target_group_arn": LANDING_ENV["LANDING_TARGET_GROUP_ARN"],
                                    "load_balancer_arn": LANDING_ENV["LANDING_LOAD_BALANCER_ARN"],
                                    "dns_name": "lb-123.us-east-1.elb.amazonaws.com",
                                    "health_url": "https://lb-123.us-east-1.elb.amazonaws.com/health"}
    assert doc["dns"]["hosted_zone_id"] == "Z0123456789ABCDEFGHIJ"
    assert doc["dns"]["record_name"] == "www.example.com"
    assert doc["target"] == {"postgres_secret_arn": ARN + "target-postgres-AbCdEf",
                             "redis_secret_arn": ARN + "target-redis-GhIjKl"}
    assert doc["database"]["dms_subnet_ids"] == doc["ecs"]["subnets"]
    assert doc["database"]["dms_security_group_ids"] == ["sg-0fedcba9876543210"]
    # what the workflow takes from Heroku in the next state
    assert doc["source"] is None and doc["dns"]["heroku_target"] is None


def test_given_the_users_choices_when_validated_then_they_are_kept():
    out = validate_input(minimal(database={"strategy": "dump-restore"}, approval={"required": False},
                                 traffic={"steps": [25, 100]}, health_url="https://probe.example.com/up",
                                 dns={"record_name": "www.example.com", "heroku_target": "x-1.herokudns.com"}),
                         env=LANDING_ENV).model_dump(mode="json")
    assert out["database"]["strategy"] == "dump-restore"
    assert out["approval"] == {"required": False}
    assert out["traffic"]["steps"] == [25, 100]
    assert out["load_balancer"]["health_url"] == "https://probe.example.com/up"
    assert out["dns"]["heroku_target"] == "x-1.herokudns.com"


def test_given_a_minimal_input_on_a_stack_without_landing_when_validated_then_it_is_refused_saying_why():
    with pytest.raises(InvalidInput, match="minimal shape.*Landing=create.*Landing=none"):
        validate_input(minimal(), env=NONE_ENV)


def test_given_a_record_other_than_the_landings_domain_when_validated_then_it_is_refused():
    with pytest.raises(InvalidInput, match="dns.record_name api.example.com is not the landing's Domain www.example.com"):
        validate_input(minimal(dns={"record_name": "api.example.com"}), env=LANDING_ENV)


def test_given_a_landing_without_rds_when_validated_then_it_is_refused():
    with pytest.raises(InvalidInput, match="no RDS"):
        validate_input(minimal(), env={**LANDING_ENV, "LANDING_TARGET_POSTGRES_SECRET_ARN": ""})


def test_given_a_landing_field_in_the_minimal_input_when_validated_then_it_is_named_as_unexpected():
    doc = minimal(ecs={"cluster_arn": LANDING_ENV["LANDING_CLUSTER_ARN"]})
    with pytest.raises(InvalidInput, match=r"ecs\.cluster_arn: Extra inputs are not permitted"):
        validate_input(doc, env=LANDING_ENV)


def test_given_a_secret_pasted_into_a_minimal_input_when_validated_then_it_is_refused_and_not_echoed():
    doc = minimal(image="postgres://user:hunter2hunter2@db.example.com/app")
    with pytest.raises(InvalidInput) as err:
        validate_input(doc, env=LANDING_ENV)
    assert "image: looks like a secret value" in str(err.value)
    assert "hunter2" not in str(err.value)


def test_given_the_full_input_when_validated_on_either_stack_then_it_is_todays_model():
    for env in (NONE_ENV, LANDING_ENV):
        out = validate_input(raw_production_input(), env=env)
        assert type(out) is ExecutionInput
        assert out.model_dump(mode="json") == ExecutionInput.model_validate(raw_production_input()).model_dump(mode="json")


def test_given_a_pending_input_when_dumped_then_it_is_json_the_asl_can_test():
    doc = json.loads(json.dumps(validate_input(minimal(), env=LANDING_ENV).model_dump(mode="json")))
    assert "source" in doc and doc["source"] is None  # the ASL's Choice: $type($cfg.source) = 'object' is false
