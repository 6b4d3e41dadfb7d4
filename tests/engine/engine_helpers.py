"""Helpers of the engine's contract tests: run a small inline state machine through the emulation."""

from __future__ import annotations

import json
import uuid

from heroku2aws_cli.executions import follow


def role(aws, name: str = "contract", service: str = "states.amazonaws.com") -> str:
    """A role ``service`` may assume, allowed everything: these contracts are not about IAM (IAM's are in
    test_iam_contract.py), but every principal calls as its role and is authorized."""
    iam = aws.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}
    try:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        return iam.get_role(RoleName=name)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    return arn


def definition(states: dict, start_at: str) -> str:
    return json.dumps({"QueryLanguage": "JSONata", "StartAt": start_at, "States": states})


def create(aws, states: dict, start_at: str) -> str:
    """CreateStateMachine (raises the client's InvalidDefinition when AWS would refuse it)."""
    return aws.client("stepfunctions").create_state_machine(
        name=f"contract-{uuid.uuid4().hex[:8]}", definition=definition(states, start_at), roleArn=role(aws))["stateMachineArn"]


def run(aws, states: dict, start_at: str, payload: dict | None = None, deadline: float = 60) -> tuple[dict, list]:
    sfn = aws.client("stepfunctions")
    arn = create(aws, states, start_at)
    execution = sfn.start_execution(stateMachineArn=arn, name=f"run-{uuid.uuid4().hex[:8]}",
                                    input=json.dumps(payload or {}))["executionArn"]
    desc, hist = follow(sfn, execution, deadline)
    return desc, hist.events


def task_failures(events: list) -> list[str]:
    return [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"]
