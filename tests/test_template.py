"""The deployed template: least privilege, and everything the state machine references exists."""

from __future__ import annotations

import json
import re

import pytest

from heroku2aws_rehearsal import engine_paths
from heroku2aws_rehearsal.deploy import load_template, translate

# Actions whose service accepts no resource-level permission: only these may have Resource "*".
# (Service Authorization Reference: "Resource types" column empty for these actions.)
NO_RESOURCE_LEVEL = {
    "ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions",
    "ecs:DeregisterTaskDefinition", "ecs:ListTaskDefinitionFamilies", "ecs:ListServices",
    "elasticloadbalancing:DescribeTargetHealth", "cloudwatch:GetMetricStatistics",
    "dms:DescribeReplicationInstances", "dms:DescribeReplicationSubnetGroups", "dms:DescribeEndpoints",
    "dms:DescribeConnections", "dms:DescribeReplicationTasks", "dms:DescribeTableStatistics",
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
    "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
    # Service Authorization Reference, Amazon ECR: GetAuthorizationToken has no resource type (the token is the
    # registry's, not a repository's; ECR user guide, "Private registry authentication": Resource "*").
    "ecr:GetAuthorizationToken",
}


@pytest.fixture(scope="module")
def translated() -> dict:
    cfn, _ = translate(load_template(), {"AppName": "sample-app"})
    return cfn


def statements(cfn: dict):
    for logical_id, res in cfn["Resources"].items():
        if res["Type"] == "AWS::IAM::Role":
            for policy in res["Properties"].get("Policies", []):
                for st in policy["PolicyDocument"].get("Statement", []):
                    yield logical_id, st
            for arn in res["Properties"].get("ManagedPolicyArns", []):
                yield logical_id, {"Managed": arn}


def _as_list(value):
    return value if isinstance(value, list) else [value]


def test_no_wildcard_actions_and_no_wildcard_resources_where_a_resource_is_accepted(translated):
    problems = []
    for role, st in statements(translated):
        if "Managed" in st:
            continue
        if st.get("Effect") != "Allow":
            continue
        actions = _as_list(st.get("Action", []))
        resources = _as_list(st.get("Resource", []))
        for action in actions:
            if isinstance(action, str) and (action == "*" or action.endswith(":*")):
                problems.append(f"{role}: wildcard action {action}")
        if "*" in resources:
            for action in actions:
                if action not in NO_RESOURCE_LEVEL:
                    problems.append(f"{role}: {action} on Resource '*' (it accepts a resource ARN)")
    assert not problems, "\n".join(problems)


def test_the_check_itself_catches_a_wildcard(translated):
    bad = {"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyDocument": {
        "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}}]}}}}
    with pytest.raises(AssertionError):
        test_no_wildcard_actions_and_no_wildcard_resources_where_a_resource_is_accepted(bad)


def test_every_function_has_its_own_role(translated):
    functions = {k: v for k, v in translated["Resources"].items() if v["Type"] == "AWS::Lambda::Function"}
    roles = [json.dumps(v["Properties"]["Role"]) for v in functions.values()]
    assert len(set(roles)) == len(roles) == len(functions)


def test_every_substitution_in_the_asl_is_provided_by_the_template():
    asl = (engine_paths.ROOT / "statemachine" / "migration.asl.json").read_text()
    used = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", asl))
    sam = load_template()
    provided = set(sam["Resources"]["MigrationStateMachine"]["Properties"]["DefinitionSubstitutions"])
    assert used == provided


def test_every_state_has_a_comment_and_a_sentence_name():
    asl = json.loads((engine_paths.ROOT / "statemachine" / "migration.asl.json").read_text())

    def walk(states):
        for name, state in states.items():
            yield name, state
            for branch in state.get("Branches", []):
                yield from walk(branch["States"])
            if "ItemProcessor" in state:
                yield from walk(state["ItemProcessor"]["States"])

    missing = [name for name, state in walk(asl["States"]) if not state.get("Comment")]
    assert not missing, f"states without a Comment: {missing}"
    not_sentences = [name for name, _ in walk(asl["States"]) if " " not in name or not name[0].isupper()]
    assert not not_sentences
