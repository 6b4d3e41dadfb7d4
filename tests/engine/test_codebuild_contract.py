"""``codebuild:startBuild.sync`` in the emulator, as strict as Step Functions and CodeBuild: fields StartBuild does
not take are refused at CreateStateMachine; a build that fails fails the state with States.TaskFailed and the build
(BatchGetBuilds' shape) as cause; the build runs as the project's service role, which must trust CodeBuild."""

from __future__ import annotations

import json
from pathlib import Path

import engine_helpers
import pytest
from engine_helpers import run, task_failures

from heroku2aws_rehearsal.patches import local

SYNC = "arn:aws:states:::codebuild:startBuild.sync"


def _project(aws, name: str, service_role: str) -> None:
    source = {"type": "NO_SOURCE", "buildspec": "version: 0.2\nphases:\n  build:\n    commands: [python3 -m x]\n"}
    project = aws.client("codebuild").create_project(
        name=name, source=source, artifacts={"type": "NO_ARTIFACTS"}, serviceRole=service_role,
        environment={"type": "ARM_CONTAINER", "image": "aws/codebuild/amazonlinux-aarch64-standard:3.0",
                     "computeType": "BUILD_GENERAL1_SMALL"})["project"]
    layer = Path(__file__).resolve().parents[2] / "layers" / "shared" / "python"
    local.BUILD_PROJECTS[name] = local.LocalBuildProject(
        name=name, arn=project["arn"], service_role=service_role, environment={}, layer_dirs=[layer],
        exported=["IMAGE_URI"])


def test_a_field_start_build_does_not_take_is_refused_at_create(aws):
    with pytest.raises(Exception, match=r'The field \\?"Project\\?" is not supported'):
        engine_helpers.create(aws, {"Build": {"Type": "Task", "Resource": SYNC,
                                              "Arguments": {"Project": "p"}, "End": True}}, "Build")


def test_a_failed_build_fails_the_state_with_the_build_as_cause(aws):
    _project(aws, "fails", engine_helpers.role(aws, "builder", "codebuild.amazonaws.com"))

    # No HEROKU2AWS_APP / key / repository in its environment: the build script refuses and exits 2.
    desc, events = run(aws, {"Build": {"Type": "Task", "Resource": SYNC, "Arguments": {"ProjectName": "fails"},
                                       "End": True}}, "Build")

    assert desc["status"] == "FAILED"
    assert task_failures(events) == ["States.TaskFailed"]
    failed = next(e for e in events if e["type"] == "TaskFailed")
    build = json.loads(failed["taskFailedEventDetails"]["cause"])
    assert build["BuildStatus"] == "FAILED" and build["ProjectName"] == "fails"
    assert "exit status 2" in build["Phases"][-1]["Contexts"][0]["Message"]


def test_a_service_role_that_does_not_trust_codebuild_fails_the_build(aws):
    _project(aws, "untrusted", engine_helpers.role(aws, "not-for-codebuild", "lambda.amazonaws.com"))

    desc, events = run(aws, {"Build": {"Type": "Task", "Resource": SYNC, "Arguments": {"ProjectName": "untrusted"},
                                       "End": True}}, "Build")

    assert desc["status"] == "FAILED"
    failed = next(e for e in events if e["type"] == "TaskFailed")
    context = json.loads(failed["taskFailedEventDetails"]["cause"])["Phases"][-1]["Contexts"][0]
    assert context["StatusCode"] == "CLIENT_ERROR" and "codebuild.amazonaws.com" in context["Message"]
