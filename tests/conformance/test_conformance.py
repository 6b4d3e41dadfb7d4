"""The conformance check finds each known breakage when it is put back into a copy of the real ASL / template.

The real files are loaded and mutated in memory (never written): the checker must report the breakage
whatever state the rest of the project is in, so each test asserts on the finding it caused.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from heroku2aws_conformance import asl, iam, rules
from heroku2aws_conformance.finding import ASL, TEMPLATE, Finding


@pytest.fixture(scope="module")
def real_asl() -> dict:
    return json.loads(ASL.read_text())


@pytest.fixture(scope="module")
def real_template() -> dict:
    from heroku2aws_rehearsal.deploy import load_template

    return load_template(TEMPLATE)


@pytest.fixture
def definition(real_asl: dict) -> dict:
    return copy.deepcopy(real_asl)


@pytest.fixture
def template(real_template: dict) -> dict:
    return copy.deepcopy(real_template)


def tasks(definition: dict, resource_part: str) -> Iterator[tuple[str, dict, tuple]]:
    for path, state, scope in asl.walk_states(definition["States"]):
        if state.get("Type") == "Task" and resource_part in state.get("Resource", ""):
            yield path, state, scope


def first_task(definition: dict, resource_part: str, with_dict_args: bool = True) -> tuple[str, dict]:
    for path, state, _scope in tasks(definition, resource_part):
        if not with_dict_args or isinstance(state.get("Arguments"), dict):
            return path, state
    raise AssertionError(f"the ASL has no task {resource_part}")


def found(findings: list[Finding], rule: str, where: str | None = None, text: str = "") -> list[Finding]:
    return [f for f in findings if f.rule == rule and (where is None or f.where == where) and text in f.message]


# ------------------------------------------------------------------------------------------ ASL


def test_eval_in_a_jsonata_expression(definition: dict) -> None:
    path, state = first_task(definition, "aws-sdk:databasemigration:")
    key = next(k for k, v in state["Arguments"].items() if asl.is_jsonata(v))
    state["Arguments"][key] = "{% $eval('\"x\"') %}"
    hits = found(asl.check_definition(definition), "asl.jsonata-function", path, "$eval")
    assert hits and hits[0].source == rules.SRC_JSONATA


def test_eval_anywhere_in_a_state(definition: dict) -> None:
    name = next(n for n, s in definition["States"].items() if s["Type"] == "Pass")
    definition["States"][name]["Assign"] = {"parsed": "{% $eval($states.input.text) %}"}
    assert found(asl.check_definition(definition), "asl.jsonata-function", name, "$eval")


@pytest.mark.parametrize(
    ("resource", "name"),
    [("aws-sdk:ecs:", "Ecs.ThrottlingException"), ("aws-sdk:databasemigration:", "DatabaseMigration.ThrottlingException")],
)
def test_a_retry_name_aws_never_raises(definition: dict, resource: str, name: str) -> None:
    path, state = first_task(definition, resource, with_dict_args=False)
    state["Retry"] = [{"ErrorEquals": [name], "MaxAttempts": 3}, *state.get("Retry", [])]
    hits = found(asl.check_definition(definition), "asl.error-name", path, name)
    assert hits
    assert "arrive as" in hits[0].message  # points at the generic exception (Ecs.EcsException, …)


def test_optimized_ecs_names_are_not_the_aws_sdk_ones(definition: dict) -> None:
    path, state = first_task(definition, "ecs:runTask.sync")
    state["Retry"] = [{"ErrorEquals": ["Ecs.EcsException"]}]
    assert found(asl.check_definition(definition), "asl.error-name", path, "Ecs.EcsException")


def test_declared_and_function_errors_are_accepted(definition: dict) -> None:
    path, state = first_task(definition, "aws-sdk:databasemigration:")
    state["Retry"] = [
        {"ErrorEquals": ["DatabaseMigration.DatabaseMigrationException", "DatabaseMigration.ResourceNotFoundException"]}
    ]
    lpath, lstate = first_task(definition, "lambda:invoke")
    lstate["Retry"] = [{"ErrorEquals": ["Lambda.ServiceException", "HerokuApiError", "InvalidInput"]}]
    findings = asl.check_definition(definition)
    assert not found(findings, "asl.error-name", path)
    assert not found(findings, "asl.error-name", lpath)


def test_a_hosted_zone_id_with_its_prefix(definition: dict) -> None:
    path, state = first_task(definition, "aws-sdk:route53:changeResourceRecordSets")
    state["Arguments"]["HostedZoneId"] = "/hostedzone/Z0123456789ABC"
    assert found(asl.check_definition(definition), "asl.route53-zone-id", path, "/hostedzone/")


def test_a_hosted_zone_id_not_known_to_be_stripped(definition: dict) -> None:
    path, state = first_task(definition, "aws-sdk:route53:changeResourceRecordSets")
    state["Arguments"]["HostedZoneId"] = "{% $states.input.zone %}"
    assert found(asl.check_definition(definition), "asl.route53-zone-id", path)


def test_a_variable_assigned_at_two_nesting_levels(definition: dict) -> None:
    top = next(n for n, s in definition["States"].items() if isinstance(s.get("Assign"), dict) and s["Assign"])
    name = next(iter(definition["States"][top]["Assign"]))
    path, state, scope = next(t for t in tasks(definition, "") if t[2])  # a task inside a Parallel branch / Map
    state.setdefault("Assign", {})[name] = "{% $now() %}"
    hits = found(asl.check_definition(definition), "asl.variable-scope", path, f"${name}")
    assert hits and hits[0].source == rules.SRC_VARIABLES


def test_an_unknown_arguments_key(definition: dict) -> None:
    path, state = first_task(definition, "aws-sdk:databasemigration:")
    state["Arguments"]["ReplicationTaskIdentifer"] = "typo"
    assert found(asl.check_definition(definition), "asl.argument-unknown", path, "ReplicationTaskIdentifer")


def test_an_unknown_nested_key(definition: dict) -> None:
    path, state = first_task(definition, "aws-sdk:route53:changeResourceRecordSets")
    state["Arguments"]["ChangeBatch"]["Commment"] = "typo"
    assert found(asl.check_definition(definition), "asl.argument-unknown", path, "ChangeBatch.Commment")


def test_a_missing_required_member(definition: dict) -> None:
    path, state = first_task(definition, "aws-sdk:databasemigration:startReplicationTask")
    del state["Arguments"]["ReplicationTaskArn"]
    assert found(asl.check_definition(definition), "asl.argument-required", path, "ReplicationTaskArn")


def test_an_optimized_integration_without_its_required_member(definition: dict) -> None:
    path, state = first_task(definition, "lambda:invoke")
    del state["Arguments"]["FunctionName"]
    assert found(asl.check_definition(definition), "asl.argument-required", path, "FunctionName")


def test_a_bad_enum_value(definition: dict) -> None:
    path, state = first_task(definition, "aws-sdk:databasemigration:startReplicationTask")
    state["Arguments"]["StartReplicationTaskType"] = "start-everything"
    assert found(asl.check_definition(definition), "asl.argument-enum", path, "start-everything")


def test_an_unknown_action(definition: dict) -> None:
    path, state = first_task(definition, "aws-sdk:ecs:", with_dict_args=False)
    state["Resource"] = "arn:aws:states:::aws-sdk:ecs:describeServicez"
    assert found(asl.check_definition(definition), "asl.sdk-action", path)


USER_SECRETS = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:heroku2aws/${AppName}/*"

MINIMAL_CLEAN: dict[str, Any] = {
    "QueryLanguage": "JSONata",
    "StartAt": "Describe",
    "States": {
        "Describe": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:ecs:describeServices",
            "Arguments": {"Cluster": "{% $states.input.cluster %}", "Services": ["web"]},
            "Retry": [{"ErrorEquals": ["Ecs.EcsException", "Ecs.ServerException"], "JitterStrategy": "FULL"}],
            "Catch": [
                {"ErrorEquals": ["Ecs.ClusterNotFoundException"], "Next": "Notify"},
                {"ErrorEquals": ["States.ALL"], "Next": "Notify"},
            ],
            "Assign": {"count": "{% $count($states.result.Services) %}"},
            "Next": "Each",
        },
        "Each": {
            "Type": "Map",
            "Items": "{% $range(1, 3, 1) %}",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Invoke",
                "States": {
                    "Invoke": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::lambda:invoke",
                        "Arguments": {"FunctionName": "${FunctionArn}", "Payload": {"n": "{% $states.input %}"}},
                        "Retry": [{"ErrorEquals": ["Lambda.ServiceException", "Lambda.TooManyRequestsException"]}],
                        "Assign": {"inner": "{% $parse('1') %}"},
                        "End": True,
                    }
                },
            },
            "Next": "Notify",
        },
        "Notify": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sns:publish",
            "Arguments": {"TopicArn": "${TopicArn}", "Message": "{% $string($count) %}"},
            "Retry": [{"ErrorEquals": ["SNS.AmazonSNSException"]}],
            "End": True,
        },
    },
}


def test_a_minimal_clean_definition_has_no_finding() -> None:
    assert asl.check_definition(copy.deepcopy(MINIMAL_CLEAN)) == []


# ------------------------------------------------------------------------------------------ IAM


def test_a_function_calling_apis_no_role_grants(template: dict, tmp_path: Path) -> None:
    code = tmp_path / "cleanup"
    code.mkdir()
    (code / "app.py").write_text(
        "import boto3\n\n\ndef lambda_handler(event, context):\n"
        "    ecs = boto3.client('ecs')\n"
        "    for page in ecs.get_paginator('list_services').paginate(cluster=event['cluster']):\n"
        "        pass\n"
        "    return ecs.list_task_definition_families(familyPrefix='x')\n"
    )
    template["Resources"]["CleanupFunction"] = {
        "Type": "AWS::Serverless::Function",
        "Properties": {"CodeUri": str(code), "Handler": "app.lambda_handler", "Runtime": "python3.12"},
    }
    findings = iam.check_template(template)
    missing = found(findings, "iam.missing", "CleanupFunctionRole")
    assert {f.message.split(" ")[0] for f in missing} >= {"ecs:ListServices", "ecs:ListTaskDefinitionFamilies"}


def test_pass_role_on_every_role(template: dict) -> None:
    template["Resources"]["RollbackFunction"]["Properties"].setdefault("Policies", []).append(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "iam:PassRole",
                    "Resource": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*"},
                }
            ]
        }
    )
    assert found(iam.check_template(template), "iam.broad-passrole", "RollbackFunctionRole")


def test_an_eventbridge_target_topic_on_the_aws_managed_key(template: dict) -> None:
    template["Resources"]["NotificationTopic"]["Properties"]["KmsMasterKeyId"] = "alias/aws/sns"
    hits = [f for f in iam.check_template(template) if f.rule == "iam.eventbridge-sns-kms" and "alias/aws/sns" in f.message]
    assert hits and hits[0].source == rules.SRC_EVENTBRIDGE_SNS


def test_grants_that_are_broader_than_needed(template: dict) -> None:
    statements = [
        {"Effect": "Allow", "Action": "ecs:UpdateService", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": "dms:DeleteEndpoint",
            "Resource": {"Fn::Sub": "arn:${AWS::Partition}:dms:${AWS::Region}:${AWS::AccountId}:*"},
        },
        {"Effect": "Allow", "Action": "route53:ChangeResourceRecordSets", "Resource": "arn:aws:route53:::hostedzone/*"},
    ]
    template["Resources"]["RollbackFunction"]["Properties"].setdefault("Policies", []).append({"Statement": statements})
    findings = iam.check_template(template)
    for rule in ("iam.broad-star", "iam.broad-dms", "iam.broad-route53"):
        assert found(findings, rule, "RollbackFunctionRole"), rule


def test_writes_under_the_prefix_the_readme_gives_users(template: dict) -> None:
    template["Resources"]["RollbackFunction"]["Properties"].setdefault("Policies", []).append(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "secretsmanager:DeleteSecret",
                    "Resource": {"Fn::Sub": USER_SECRETS},
                }
            ]
        }
    )
    readme = "Keep your input secrets (Heroku API key, database URLs) under `heroku2aws/<app>/` in Secrets Manager."
    assert found(iam.check_template(template, readme=readme), "iam.secret-prefix", "RollbackFunctionRole")


# ------------------------------------------------------------------------------------------ rules


def test_error_names_follow_the_java_sdk() -> None:
    assert (
        rules.sdk_error_name("databasemigration", "ResourceAlreadyExistsFault")
        == "DatabaseMigration.ResourceAlreadyExistsException"
    )
    assert rules.sdk_error_name("rds", "DBInstanceNotFoundFault") == "Rds.DbInstanceNotFoundException"
    assert rules.sdk_error_name("s3", "BucketAlreadyExists") == "S3.BucketAlreadyExistsException"
    assert rules.generic_error_name("ecs") == "Ecs.EcsException"
    assert rules.generic_error_name("route53") == "Route53.Route53Exception"
    assert rules.botocore_service("elasticloadbalancingv2") == "elbv2"
    assert "Ecs.ThrottlingException" not in rules.declared_errors("ecs", "updateService")
    assert "DatabaseMigration.DatabaseMigrationException" in rules.declared_errors("databasemigration", "createEndpoint")


def test_jsonata_functions() -> None:
    assert rules.unsupported_jsonata_functions("$eval(x)") == ["eval"]
    assert rules.unsupported_jsonata_functions("($f := function($a) { $a + 1 }; $f(1) & $uuid() & $hash('a', 'SHA-256'))") == []
    assert rules.unsupported_jsonata_functions("'$eval(1)' & $string(1)") == []
