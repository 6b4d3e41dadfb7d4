"""Contract tests: the emulated Step Functions is at least as strict as AWS.

Each test fails on moto's lenient behaviour (what the engine did before these rules) and cites the
published source that decides; the rules themselves live in ``heroku2aws_rehearsal.services.stepfunctions``.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from engine_helpers import create, definition, run, task_failures

from heroku2aws_conformance import rules
from heroku2aws_rehearsal.services.stepfunctions import RUNTIME, ImpossibleFault
from heroku2aws_rehearsal.services.stepfunctions.errors import OPTIMIZED_NAMING, optimized_error_name, sdk_error_name
from heroku2aws_rehearsal.services.stepfunctions.jsonata import STEP_FUNCTIONS_FUNCTIONS

SDK = "arn:aws:states:::aws-sdk"

# ---------------------------------------------------------------------- 1. aws-sdk parameter validation
# botocore's service models (the SDKs' source) decide what a request may hold: ParamValidator (unknown keys,
# types, required members, min) plus the models' enum / max traits, which the service enforces.


@pytest.mark.parametrize(("resource", "arguments", "complaint"), [
    (f"{SDK}:ecs:describeClusters", {"Clusters": ["c"], "Bogus": 1}, 'Unknown parameter in input: "Bogus"'),
    (f"{SDK}:ecs:listServices", {"Cluster": "c", "MaxResults": "10"}, "Invalid type for parameter maxResults"),
    (f"{SDK}:ecs:listServices", {"Cluster": "c", "LaunchType": "SPACESHIP"}, "enum value set"),
    (f"{SDK}:databasemigration:createReplicationSubnetGroup",
     {"ReplicationSubnetGroupDescription": "d", "SubnetIds": ["subnet-1"]},
     'Missing required parameter in input: "ReplicationSubnetGroupIdentifier"'),
    (f"{SDK}:route53:getHostedZone", {"Id": "x" * 40}, "length less than or equal to 32"),
    (f"{SDK}:route53:listResourceRecordSets", {"HostedZoneId": "Z1", "StartRecordName": "a", "StartRecordIdentifier": ""},
     "valid min length: 1"),
    (f"{SDK}:ecs:createService", {"ServiceName": "s", "DeploymentConfiguration": {"MaxPercent": 200}},
     'Unknown parameter in deploymentConfiguration: "MaxPercent"'),
])
def test_aws_sdk_requests_are_validated_against_the_botocore_input_shape(aws, resource, arguments, complaint):
    service = resource.split(":")[-2]
    desc, events = run(aws, {"Call": {"Type": "Task", "Resource": resource, "Arguments": arguments, "End": True}}, "Call")
    assert desc["status"] == "FAILED", "moto accepted a request AWS refuses"
    assert desc["error"] == rules.generic_error_name(service)  # ValidationException is declared by none of them
    assert complaint in desc["cause"], desc["cause"]
    assert not [e for e in events if e["type"] == "TaskSucceeded"]


def test_a_refused_request_creates_nothing(aws):
    desc, _ = run(aws, {"Create": {
        "Type": "Task", "Resource": f"{SDK}:databasemigration:createReplicationSubnetGroup", "End": True,
        "Arguments": {"ReplicationSubnetGroupIdentifier": "g", "ReplicationSubnetGroupDescription": "d",
                      "SubnetIds": ["subnet-1"], "Colour": "blue"}}}, "Create")
    assert desc["status"] == "FAILED"
    assert aws.client("dms").describe_replication_subnet_groups()["ReplicationSubnetGroups"] == []


# ---------------------------------------------------------------------- 2. error names per integration
# Guide, "AWS SDK service integrations" (supported-services-awssdk.html): ServiceName.ErrorName for the
# exceptions the model declares; the service's generic exception for everything else, throttling included.


@pytest.mark.parametrize(("service", "code", "expected"), [
    ("ecs", "ThrottlingException", "Ecs.EcsException"),  # ECS declares no throttling exception
    ("databasemigration", "ThrottlingException", "DatabaseMigration.DatabaseMigrationException"),
    ("databasemigration", "InvalidResourceStateFault", "DatabaseMigration.InvalidResourceStateException"),
    ("route53", "ThrottlingException", "Route53.ThrottlingException"),  # Route 53 declares it
    ("route53", "SomethingUndeclared", "Route53.Route53Exception"),
    ("secretsmanager", "ValidationException", "SecretsManager.SecretsManagerException"),
])
def test_only_declared_exceptions_keep_their_name(service, code, expected):
    assert sdk_error_name(service, code) == expected


def test_a_retry_on_a_name_aws_never_raises_does_not_match(aws):
    """The refusal's code (ValidationException) is undeclared by DMS: a Catch on
    DatabaseMigration.ValidationException must miss it; the generic name catches it."""
    desc, events = run(aws, {
        "Call": {"Type": "Task", "Resource": f"{SDK}:databasemigration:describeReplicationTasks",
                 "Arguments": {"MaxRecords": "many"},
                 "Catch": [{"ErrorEquals": ["DatabaseMigration.ValidationException"], "Next": "Wrong"},
                           {"ErrorEquals": ["DatabaseMigration.DatabaseMigrationException"], "Next": "Right"}],
                 "End": True},
        "Wrong": {"Type": "Fail", "Error": "Wrong"},
        "Right": {"Type": "Succeed"}}, "Call")
    assert desc["status"] == "SUCCEEDED", desc
    assert task_failures(events) == ["DatabaseMigration.DatabaseMigrationException"]


def test_optimized_integrations_name_their_errors_as_the_guide_does(aws):
    # connect-ecs.html / rules.OPTIMIZED_INTEGRATION_ERRORS: ECS.<declared exception>, else ECS.AmazonECSException.
    aws.client("ecs").create_cluster(clusterName="c")
    desc, _ = run(aws, {"Run": {"Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync", "End": True,
                                "Arguments": {"Cluster": "nope", "TaskDefinition": "nope:1", "LaunchType": "FARGATE"}}},
                  "Run")
    assert desc["error"] == "ECS.ClusterNotFoundException", desc
    desc, _ = run(aws, {"Publish": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "End": True,
                                    "Arguments": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:nope", "Message": "m"}}},
                  "Publish")
    assert desc["error"] == "SNS.NotFoundException", desc
    assert optimized_error_name("arn:aws:states:::ecs:runTask.sync", "ThrottlingException") == "ECS.AmazonECSException"
    for key, (_, generic, _) in OPTIMIZED_NAMING.items():
        assert generic in rules.OPTIMIZED_INTEGRATION_ERRORS[f"arn:aws:states:::{key}"]


def test_the_fault_injector_refuses_a_name_the_integration_never_raises(aws):
    create(aws, {"Register": {"Type": "Task", "Resource": f"{SDK}:ecs:listClusters", "End": True}}, "Register")
    faults = RUNTIME.faults
    with pytest.raises(ImpossibleFault):
        faults.arm("Register", error="Ecs.ThrottlingException")
    faults.arm("Register", error="Ecs.EcsException")  # what ECS throttling arrives as
    # A state not deployed when armed is checked when it is entered: the fault is refused, never fired.
    faults.arm("Later", error="Ecs.ThrottlingException")
    desc, events = run(aws, {"Later": {"Type": "Task", "Resource": f"{SDK}:ecs:listClusters", "End": True}}, "Later")
    assert desc["status"] == "SUCCEEDED" and ("Later", "Ecs.ThrottlingException") in faults.refused
    assert ("Later", "Ecs.ThrottlingException") not in faults.fired


# ---------------------------------------------------------------------- 3. history quota
# Guide, "Avoid reaching the history quota" (bp-history-limit.html): event 25,000 is ExecutionFailed
# unless it is ExecutionSucceeded; the execution fails, and no Catch handles it.


@pytest.mark.slow
def test_an_execution_past_25000_history_events_fails_and_no_catch_handles_it(aws):
    desc, events = run(aws, {
        "Guard": {"Type": "Parallel", "Next": "Done",
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                  "Branches": [{"StartAt": "Spin", "States": {"Spin": {"Type": "Pass", "Next": "Spin"}}}]},
        "Caught": {"Type": "Succeed"},
        "Done": {"Type": "Succeed"}}, "Guard", deadline=240)
    assert desc["status"] == "FAILED", "moto let the history grow without end"
    assert (desc["error"], desc["cause"]) == ("States.Runtime",
                                              "The execution reached the maximum number of history events (25000).")
    assert len(events) == 25_000
    assert (events[-1]["id"], events[-1]["type"], events[-1]["previousEventId"]) == (25_000, "ExecutionFailed", 24_999)
    assert not any(e["type"].startswith("Succeed") for e in events)


# ---------------------------------------------------------------------- 4. JSONata functions
# Guide, "Transforming data with JSONata in Step Functions" (transforming-data.html): no $eval (use $parse);
# Step Functions adds $partition, $range, $hash, $random(seed), $uuid, $parse.


def test_step_functions_jsonata_functions_work(aws):
    desc, _ = run(aws, {"Fns": {"Type": "Pass", "End": True, "Output": {
        "partition": "{% $partition([1,2,3,4,5], 2) %}",
        "range": "{% $range(0, 10, 2) %}",
        "down": "{% $range(3, 1, -1) %}",
        "hash": "{% $hash('abc', 'SHA-256') %}",
        "seeded": "{% $random(7) = $random(7) %}",
        "uuid": "{% $length($uuid()) %}",
        "parse": "{% $parse($states.input.doc).a %}"}}}, "Fns", payload={"doc": '{"a": [1, 2]}'})
    assert desc["status"] == "SUCCEEDED", desc
    assert json.loads(desc["output"]) == {
        "partition": [[1, 2], [3, 4], [5]], "range": [0, 2, 4, 6, 8, 10], "down": [3, 2, 1],
        "hash": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "seeded": True, "uuid": 36,
        "parse": [1, 2]}
    assert set(STEP_FUNCTIONS_FUNCTIONS) >= rules.STEP_FUNCTIONS_JSONATA_FUNCTIONS


def test_eval_is_refused_at_runtime_too():
    with pytest.raises(ValueError, match=r"\$eval is not supported"):
        RUNTIME.jsonata.evaluate("$eval('1 + 1')")


# ---------------------------------------------------------------------- 5. definition checks


def _refused(aws, states: dict, start_at: str = "A") -> str:
    with pytest.raises(ClientError) as err:
        create(aws, states, start_at)
    assert err.value.response["Error"]["Code"] == "InvalidDefinition"
    return err.value.response["Error"]["Message"]


@pytest.mark.parametrize(("states", "complaint"), [
    ({"A": {"Type": "Pass", "Output": "{% $eval($states.input.code) %}", "End": True}}, "$eval"),
    ({"A": {"Type": "Pass", "Output": "{% $states.input.( %}", "End": True}}, "is not valid"),
    ({"A": {"Type": "Task", "Resource": f"{SDK}:ecs:launchRocket", "End": True}}, "is not recognized"),
    ({"A": {"Type": "Task", "Resource": f"{SDK}:nosuchservice:describeThings", "End": True}}, "is not recognized"),
    # guide, "Passing data between states with variables" (workflow-variables.html), "Variable scope"
    ({"A": {"Type": "Pass", "Assign": {"deadline": 1}, "Next": "B"},
      "B": {"Type": "Parallel", "End": True, "Branches": [
          {"StartAt": "In", "States": {"In": {"Type": "Pass", "Assign": {"deadline": 2}, "End": True}}}]}},
     "'deadline'"),
    ({"A": {"Type": "Map", "End": True, "Assign": {"n": 0}, "Items": [1],
            "ItemProcessor": {"StartAt": "In", "States": {"In": {
                "Type": "Pass", "End": True, "Assign": {"n": "{% $states.input %}"}}}}}},
     "'n'"),
])
def test_create_state_machine_refuses_what_aws_refuses(aws, states, complaint):
    assert complaint in _refused(aws, states)


def test_update_state_machine_refuses_it_too_and_sibling_branches_may_share_names(aws):
    ok = {"A": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "X", "States": {"X": {"Type": "Pass", "Assign": {"tmp": 1}, "End": True}}},
        {"StartAt": "Y", "States": {"Y": {"Type": "Pass", "Assign": {"tmp": 2}, "End": True}}}]}}
    arn = create(aws, ok, "A")
    with pytest.raises(ClientError) as err:
        aws.client("stepfunctions").update_state_machine(
            stateMachineArn=arn, definition=definition({"A": {"Type": "Pass", "Output": "{% $eval('1') %}",
                                                              "End": True}}, "A"))
    assert err.value.response["Error"]["Code"] == "InvalidDefinition"


# ---------------------------------------------------------------------- 6. the 256 KiB payload quota
# Guide, "Step Functions service quotas" (service-quotas.html): 256 KiB for a task's or state's input or output;
# "Handling errors" (concepts-error-handling.html): States.DataLimitExceeded when, after Parameters processing, a
# state's input is over it, and "States.ALL ... can't catch the States.DataLimitExceeded terminal error".

_OVERSIZED = "x" * (256 * 1024 + 1)


def test_a_task_input_over_256_kib_after_its_arguments_is_refused_before_the_call(aws):
    desc, events = run(aws, {"Call": {"Type": "Task", "Resource": f"{SDK}:ecs:listServices",
                                      "Arguments": {"Cluster": "{% $states.input.cluster %}"}, "End": True}},
                       "Call", payload={"cluster": _OVERSIZED[:-200]})  # the input fits; the Arguments add nothing
    assert desc["status"] == "FAILED"
    assert desc["error"] != "States.DataLimitExceeded", "a payload under the quota was refused"
    desc, events = run(aws, {"Call": {"Type": "Task", "Resource": f"{SDK}:ecs:listServices",
                                      "Arguments": {"Cluster": "{% $states.input.cluster & $states.input.cluster %}"},
                                      "End": True}},
                       "Call", payload={"cluster": _OVERSIZED[: 130 * 1024]})
    assert desc["status"] == "FAILED"
    assert desc["error"] == "States.DataLimitExceeded", "moto sent a request over the payload quota"
    assert not [e for e in events if e["type"] == "TaskScheduled"], "the call was made"


def test_the_data_limit_error_is_terminal_no_retry_or_catch_sees_it(aws):
    big = "{% $states.input.half & $states.input.half %}"
    desc, events = run(aws, {
        "Call": {"Type": "Task", "Resource": f"{SDK}:ecs:listServices", "Arguments": {"Cluster": big},
                 "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3, "IntervalSeconds": 1}],
                 "Catch": [{"ErrorEquals": ["States.DataLimitExceeded"], "Next": "Caught"},
                           {"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
                 "End": True},
        "Caught": {"Type": "Succeed"}}, "Call", payload={"half": _OVERSIZED[: 130 * 1024]})
    assert desc["status"] == "FAILED", "a catcher handled States.DataLimitExceeded (AWS: terminal)"
    assert desc["error"] == "States.DataLimitExceeded"
    assert len([e for e in events if e["type"] == "TaskFailed"]) == 1, "it was retried"
    assert not [e for e in events if e["type"] == "SucceedStateEntered"]


# ---------------------------------------------------------------------- 7. GetExecutionHistory pages
# API Reference, GetExecutionHistory: maxResults "default is 100 and the maximum allowed page size is 1000", reverseOrder,
# nextToken. moto answered every event at once, so a client's paging was never exercised.


def test_execution_history_is_paged_as_aws_pages_it(aws):
    desc, events = run(aws, {"Loop": {"Type": "Pass", "Assign": {"n": "{% $exists($n) ? $n + 1 : 1 %}"},
                                      "Next": "Check"},
                             "Check": {"Type": "Choice", "Choices": [{"Condition": "{% $n < 60 %}", "Next": "Loop"}],
                                       "Default": "Done"}, "Done": {"Type": "Succeed"}}, "Loop")
    assert desc["status"] == "SUCCEEDED" and len(events) > 200
    sfn = aws.client("stepfunctions")
    arn = desc["executionArn"]
    first = sfn.get_execution_history(executionArn=arn)
    assert len(first["events"]) == 100 and first["nextToken"]  # the default page
    ids: list[int] = []
    kwargs = {"executionArn": arn, "maxResults": 70, "reverseOrder": True}
    while True:
        page = sfn.get_execution_history(**kwargs)
        assert len(page["events"]) <= 70
        ids += [e["id"] for e in page["events"]]
        if "nextToken" not in page:
            break
        kwargs["nextToken"] = page["nextToken"]
    assert ids == sorted((e["id"] for e in events), reverse=True)  # every event once, newest first
    with pytest.raises(ClientError, match="InvalidToken"):
        sfn.get_execution_history(executionArn=arn, nextToken="not-a-token")
