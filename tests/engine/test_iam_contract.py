"""IAM contract tests: the emulated account refuses what AWS refuses.

Each principal calls with its own identity and every request is evaluated against the caller's
policies (``heroku2aws_rehearsal.services.iam``); EventBridge delivers a rule's events to an SNS
target only when AWS would (``services.events``). Every test here fails on a lenient emulator —
one that lets every identity do everything, or that delivers every event.
"""

from __future__ import annotations

import json
import textwrap
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from heroku2aws_cli.executions import follow
from heroku2aws_rehearsal.aws import ACCOUNT_ID, REGION
from heroku2aws_rehearsal.patches import local
from heroku2aws_rehearsal.services import events as emulated_events
from heroku2aws_rehearsal.services import iam as emulated_iam
from heroku2aws_rehearsal.services.iam.policy import Decision, Request, evaluate

SECRETS = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret"


def make_role(aws, name: str, service: str, statements: list[dict], tags: dict | None = None) -> str:
    iam = aws.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust),
                          Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()])["Role"]["Arn"]
    if statements:
        iam.put_role_policy(RoleName=name, PolicyName="p",
                            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    return arn


def client_as(aws, role_arn: str, service: str, session: str = "contract"):
    creds = emulated_iam.credentials_for(role_arn, session)
    return boto3.client(service, region_name=REGION, endpoint_url=aws.endpoint,
                        aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                        aws_session_token=creds["AWS_SESSION_TOKEN"],
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}))


def secret(aws, name: str, tags: dict | None = None) -> str:
    return aws.client("secretsmanager").create_secret(
        Name=name, SecretString="v", Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()])["ARN"]


def denied(exc: pytest.ExceptionInfo, code: str = "AccessDeniedException") -> str:
    assert exc.value.response["Error"]["Code"] == code
    return exc.value.response["Error"]["Message"]


# ---------------------------------------------------------------------------------------- identity policies


def test_a_lambda_calls_as_its_execution_role_and_an_ungranted_call_is_access_denied(aws, tmp_path):
    arn = secret(aws, "heroku2aws/app/db")
    role = make_role(aws, "reader", "lambda.amazonaws.com", [
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": f"{SECRETS}:heroku2aws/app/*"}])
    code = tmp_path / "fn"
    code.mkdir()
    (code / "app.py").write_text(textwrap.dedent("""
        import boto3
        from botocore.exceptions import ClientError

        def handler(event, context):
            sm = boto3.client("secretsmanager")
            out = {"value": sm.get_secret_value(SecretId=event["arn"])["SecretString"]}
            try:
                sm.describe_secret(SecretId=event["arn"])
            except ClientError as exc:
                out["describe"] = [exc.response["Error"]["Code"], exc.response["Error"]["Message"]]
            return out
    """))
    fn = aws.client("lambda").create_function(FunctionName="reader", Runtime="python3.12", Role=role,
                                              Handler="app.handler", Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18})
    local.FUNCTIONS["reader"] = local.LocalFunction(name="reader", arn=fn["FunctionArn"], handler="app.handler",
                                                    code_dir=code, layer_dirs=[], environment={})
    out = json.loads(aws.client("lambda").invoke(FunctionName="reader",
                                                 Payload=json.dumps({"arn": arn}))["Payload"].read())
    assert out["value"] == "v"  # granted: the identity is the role's, not a deny-all one
    assert out["describe"] == ["AccessDeniedException",
                               f"User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/reader/reader is not authorized to "
                               f"perform: secretsmanager:DescribeSecret on resource: {arn} because no "
                               "identity-based policy allows the secretsmanager:DescribeSecret action"]


def test_a_grant_whose_resource_pattern_does_not_match_is_denied(aws):
    mine, other = secret(aws, "heroku2aws/app/db"), secret(aws, "heroku2aws/other/db")
    role = make_role(aws, "r", "lambda.amazonaws.com", [
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": f"{SECRETS}:heroku2aws/app/*"}])
    sm = client_as(aws, role, "secretsmanager")
    assert mine.rsplit("-", 1)[0].endswith("heroku2aws/app/db")  # the ARN carries the random suffix ...
    assert sm.get_secret_value(SecretId="heroku2aws/app/db")["SecretString"] == "v"  # ... the pattern matches it
    with pytest.raises(ClientError) as exc:
        sm.get_secret_value(SecretId=other)
    assert f"on resource: {other} " in denied(exc)


def test_an_explicit_deny_wins_over_an_allow(aws):
    arn = secret(aws, "heroku2aws/app/db")
    role = make_role(aws, "r", "lambda.amazonaws.com", [
        {"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "secretsmanager:DeleteSecret", "Resource": f"{SECRETS}:heroku2aws/*"}])
    sm = client_as(aws, role, "secretsmanager")
    sm.describe_secret(SecretId=arn)
    with pytest.raises(ClientError) as exc:
        sm.delete_secret(SecretId=arn)
    assert denied(exc).endswith("with an explicit deny in an identity-based policy")


def test_a_condition_that_is_not_met_denies(aws):
    ours = secret(aws, "a", {"heroku2aws:app": "sample-app"})
    theirs = secret(aws, "b", {"heroku2aws:app": "someone-else"})
    untagged = secret(aws, "c")
    role = make_role(aws, "r", "lambda.amazonaws.com", [
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": f"{SECRETS}:*",
         "Condition": {"StringEquals": {"secretsmanager:ResourceTag/heroku2aws:app": "sample-app"}}}])
    sm = client_as(aws, role, "secretsmanager")
    sm.get_secret_value(SecretId=ours)
    for arn in (theirs, untagged):
        with pytest.raises(ClientError) as exc:
            sm.get_secret_value(SecretId=arn)
        denied(exc)


def test_passing_a_role_needs_iam_pass_role_for_that_service(aws):
    task_role = make_role(aws, "task", "ecs-tasks.amazonaws.com", [])
    register = {"Effect": "Allow", "Action": "ecs:RegisterTaskDefinition", "Resource": "*"}
    args = {"family": "app-web", "taskRoleArn": task_role,
            "containerDefinitions": [{"name": "web", "image": "x", "memory": 512, "command": ["true"]}]}
    no_pass = client_as(aws, make_role(aws, "a", "states.amazonaws.com", [register]), "ecs")
    with pytest.raises(ClientError) as exc:
        no_pass.register_task_definition(**args)
    assert f"perform: iam:PassRole on resource: {task_role} " in denied(exc)
    wrong_service = client_as(aws, make_role(aws, "b", "states.amazonaws.com", [register, {
        "Effect": "Allow", "Action": "iam:PassRole", "Resource": task_role,
        "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}}]), "ecs")
    with pytest.raises(ClientError) as exc:
        wrong_service.register_task_definition(**args)
    denied(exc)
    right = client_as(aws, make_role(aws, "c", "states.amazonaws.com", [register, {
        "Effect": "Allow", "Action": "iam:PassRole", "Resource": task_role,
        "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}}]), "ecs")
    right.register_task_definition(**args)


def test_route53_refuses_with_its_own_error_code(aws):
    zone = aws.client("route53").create_hosted_zone(Name="example.com", CallerReference="r")["HostedZone"]["Id"]
    zone_id = zone.rsplit("/", 1)[-1]
    role = make_role(aws, "r", "lambda.amazonaws.com", [
        {"Effect": "Allow", "Action": "route53:ListResourceRecordSets", "Resource": "arn:aws:route53:::hostedzone/OTHER"}])
    with pytest.raises(ClientError) as exc:
        client_as(aws, role, "route53").list_resource_record_sets(HostedZoneId=zone_id)
    assert f"on resource: arn:aws:route53:::hostedzone/{zone_id} " in denied(exc, "AccessDenied")


def test_an_unknown_access_key_is_refused(aws):
    stranger = boto3.client("ecs", region_name=REGION, endpoint_url=aws.endpoint, aws_access_key_id="AKIASTRANGER",
                            aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as exc:
        stranger.list_clusters()
    assert exc.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_an_operation_the_emulator_cannot_map_is_refused_and_recorded_not_allowed(aws):
    role = make_role(aws, "r", "lambda.amazonaws.com", [{"Effect": "Allow", "Action": "*", "Resource": "*"}])
    with pytest.raises(ClientError) as exc:
        client_as(aws, role, "ecs").list_container_instances(cluster="default")
    assert exc.value.response["Error"]["Code"] == "RehearsalIamGap"
    assert emulated_iam.ENFORCER.gaps[-1]["operation"] == "ListContainerInstances"


# ---------------------------------------------------------------------------------------- the state machine


def test_a_state_machines_aws_sdk_call_without_a_grant_fails_the_state_with_the_aws_error(aws):
    role = make_role(aws, "machine", "states.amazonaws.com", [
        {"Effect": "Allow", "Action": "ecs:ListTaskDefinitions", "Resource": "*"}])
    sfn = aws.client("stepfunctions")
    definition = {"QueryLanguage": "JSONata", "StartAt": "Allowed", "States": {
        "Allowed": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:ecs:listTaskDefinitions", "Next": "Denied"},
        "Denied": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:ecs:listServices", "End": True}}}
    machine = sfn.create_state_machine(name=f"iam-{uuid.uuid4().hex[:6]}", definition=json.dumps(definition),
                                       roleArn=role)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    desc, hist = follow(sfn, execution, 60)
    assert desc["status"] == "FAILED"
    failed = [e["taskFailedEventDetails"] for e in hist.events if e["type"] == "TaskFailed"]
    assert [f["error"] for f in failed] == ["Ecs.AccessDeniedException"]
    assert "assumed-role/machine/StepFunctions is not authorized to perform: ecs:ListServices" in failed[0]["cause"]


# ---------------------------------------------------------------------------------------- ECS tasks


def test_an_ecs_task_whose_execution_role_cannot_read_its_secret_fails_to_start(aws):
    arn = secret(aws, "heroku2aws/app/config")
    execution = make_role(aws, "exec", "ecs-tasks.amazonaws.com", [
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": f"{SECRETS}:heroku2aws/other/*"}])
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName="c")
    td = ecs.register_task_definition(
        family="app", requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256", memory="512",
        executionRoleArn=execution, containerDefinitions=[{
            "name": "main", "image": "x", "command": ["python", "-c", "pass"],
            "secrets": [{"name": "TOKEN", "valueFrom": arn}]}])["taskDefinition"]["taskDefinitionArn"]
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    task = ecs.run_task(cluster="c", taskDefinition=td, launchType="FARGATE", networkConfiguration={
        "awsvpcConfiguration": {"subnets": [subnet]}})["tasks"][0]["taskArn"]
    described = ecs.describe_tasks(cluster="c", tasks=[task])["tasks"][0]
    assert described["lastStatus"] == "STOPPED"
    assert described["stopCode"] == "TaskFailedToStart"
    assert described["stoppedReason"].startswith("ResourceInitializationError: unable to pull secrets")
    assert ("assumed-role/exec/" in described["stoppedReason"]
            and f"secretsmanager:GetSecretValue on resource: {arn}" in described["stoppedReason"])


# ---------------------------------------------------------------------------------------- EventBridge -> SNS


def _notify_on_success(aws, kms_key: str | None, topic_policy: bool = True) -> tuple[str, str]:
    """A state machine, a rule on its SUCCEEDED status change and an SNS topic as the rule's target."""
    sfn, sns, events = aws.client("stepfunctions"), aws.client("sns"), aws.client("events")
    role = make_role(aws, f"m-{uuid.uuid4().hex[:6]}", "states.amazonaws.com", [])
    machine = sfn.create_state_machine(name=f"ev-{uuid.uuid4().hex[:6]}", roleArn=role, definition=json.dumps(
        {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:6]}",
                             Attributes={"KmsMasterKeyId": kms_key} if kms_key else {})["TopicArn"]
    rule = events.put_rule(Name=f"r-{uuid.uuid4().hex[:6]}", EventPattern=json.dumps({
        "source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["SUCCEEDED"], "stateMachineArn": [machine]}}))["RuleArn"]
    events.put_targets(Rule=rule.rsplit("/", 1)[-1], Targets=[{"Id": "notify", "Arn": topic}])
    if topic_policy:
        sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sns:Publish",
                "Resource": topic, "Condition": {"ArnEquals": {"aws:SourceArn": rule}}}]}))
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    assert follow(sfn, execution, 30)[0]["status"] == "SUCCEEDED"
    return topic, execution


def _outcome(topic: str) -> tuple[list, list]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        delivered = [d for d in emulated_events.EVENTS.delivered if d["target"] == topic]
        dropped = [d for d in emulated_events.EVENTS.dropped if d["target"] == topic]
        if delivered or dropped:
            return delivered, dropped
        time.sleep(0.05)
    raise AssertionError(f"no delivery to {topic} was attempted within 10 s")


def test_eventbridge_does_not_deliver_to_a_topic_encrypted_with_alias_aws_sns(aws):
    topic, _ = _notify_on_success(aws, "alias/aws/sns")
    delivered, dropped = _outcome(topic)
    assert delivered == []
    assert "alias/aws/sns" in dropped[0]["reason"]


def test_eventbridge_delivers_to_a_topic_whose_customer_key_allows_events(aws):
    key = aws.client("kms").create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
         "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"}]}))["KeyMetadata"]["Arn"]
    topic, execution = _notify_on_success(aws, key)
    delivered, dropped = _outcome(topic)
    assert dropped == []
    event = json.loads(delivered[0]["message"])
    assert event["detail-type"] == "Step Functions Execution Status Change"
    assert event["source"] == "aws.states" and event["resources"] == [execution]
    assert event["detail"]["status"] == "SUCCEEDED" and event["detail"]["executionArn"] == execution


def test_eventbridge_does_not_deliver_with_a_customer_key_that_does_not_allow_events(aws):
    key = aws.client("kms").create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "kms:*",
         "Resource": "*"}]}))["KeyMetadata"]["Arn"]
    topic, _ = _notify_on_success(aws, key)
    assert _outcome(topic)[0] == []


def test_eventbridge_does_not_deliver_when_the_topic_policy_does_not_allow_events(aws):
    topic, _ = _notify_on_success(aws, None, topic_policy=False)
    delivered, dropped = _outcome(topic)
    assert delivered == [] and "access policy" in dropped[0]["reason"]


def test_the_schedule_starts_the_execution_only_if_its_role_may(aws):
    sfn = aws.client("stepfunctions")
    machine_role = make_role(aws, "m", "states.amazonaws.com", [])
    machine = sfn.create_state_machine(name="cutover", roleArn=machine_role, definition=json.dumps(
        {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    for name, statements in (("denied", []), ("allowed", [
            {"Effect": "Allow", "Action": "states:StartExecution", "Resource": machine}])):
        role = make_role(aws, f"schedule-{name}", "scheduler.amazonaws.com", statements)
        aws.client("scheduler").create_schedule(Name=name, ScheduleExpression="at(2030-01-01T00:00:00)",
                                                FlexibleTimeWindow={"Mode": "OFF"},
                                                Target={"Arn": machine, "RoleArn": role, "Input": "{}"})
    with pytest.raises(ClientError) as exc:
        emulated_events.fire_schedule("denied")
    denied(exc)
    assert emulated_events.fire_schedule("allowed").startswith(f"arn:aws:states:{REGION}:{ACCOUNT_ID}:execution:")


# ---------------------------------------------------------------------------------------- the evaluator


@pytest.mark.parametrize(("statement", "request_", "expected"), [
    # a * in the Resource never crosses a colon of the ARN
    ({"Effect": "Allow", "Action": "dms:*", "Resource": "arn:aws:dms:us-east-1:1:*"},
     Request("dms:DeleteEndpoint", "arn:aws:dms:us-east-1:1:endpoint:X"), Decision.ALLOW),
    ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"},
     Request("s3:GetObject", "arn:aws:s3:::c/b/x"), Decision.IMPLICIT_DENY),
    # actions match case-insensitively, ? is one character
    ({"Effect": "Allow", "Action": "ECS:describe?ervices", "Resource": "*"},
     Request("ecs:DescribeServices", "arn:x"), Decision.ALLOW),
    # NotAction allows everything else
    ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, Request("iam:PassRole", "arn:r"),
     Decision.IMPLICIT_DENY),
    # an Allow whose condition fails does not apply (it does not deny)
    ({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"aws:ResourceTag/a": "b"}}},
     Request("sns:Publish", "arn:t"), Decision.IMPLICIT_DENY),
    # a negated operator holds when the key is absent; IfExists holds when it is absent
    ({"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"StringNotEquals": {"aws:ResourceTag/a": "b"}}},
     Request("sns:Publish", "arn:t"), Decision.EXPLICIT_DENY),
    ({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEqualsIfExists": {"k:x": "y"}}},
     Request("sns:Publish", "arn:t"), Decision.ALLOW),
    ({"Effect": "Allow", "Action": "*", "Resource": "*",
      "Condition": {"ForAnyValue:StringLike": {"aws:TagKeys": ["heroku2aws:*"]}}},
     Request("ecs:TagResource", "arn:t", {"aws:TagKeys": ["a", "heroku2aws:app"]}), Decision.ALLOW),
    ({"Effect": "Allow", "Action": "*", "Resource": "*",
      "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:events:*:*:rule/x"}}},
     Request("sns:Publish", "arn:t", {"aws:SourceArn": "arn:aws:events:us-east-1:1:rule/x"}), Decision.ALLOW),
])
def test_policy_evaluation(statement, request_, expected):
    assert evaluate([{"Statement": [statement]}], request_) is expected
