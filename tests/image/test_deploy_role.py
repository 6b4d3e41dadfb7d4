"""The GitHub Actions deploy role of template.yaml (GitHubRepository given): who may assume it, and what it may do,
evaluated with the rehearsal's IAM policy evaluator on the template's own documents."""

from __future__ import annotations

from typing import Any

import pytest

from heroku2aws_conformance.iam import Resolver
from heroku2aws_rehearsal.deploy import load_template
from heroku2aws_rehearsal.services.iam.policy import Decision, Request, evaluate

ACCOUNT, REGION, APP = "123456789012", "us-east-1", "sample-app"
ARN = f"arn:aws:{{}}:{REGION}:{ACCOUNT}:{{}}"


def _deep(resolve: Resolver, value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)).startswith(("Ref", "Fn::")):
            return _deep(resolve, resolve(value))
        return {k: _deep(resolve, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep(resolve, v) for v in value]
    return value


@pytest.fixture(scope="module")
def role() -> dict:
    template = load_template()
    resolve = Resolver(template)
    resolve.params.update(AppName=APP, GitHubRepository="acme/storefront", Landing="create")
    res = template["Resources"]["GitHubDeployRole"]
    assert res["Condition"] == "HasGitHubDeploy"
    return _deep(resolve, res["Properties"])


def _allowed(role: dict, action: str, resource: str, **context: Any) -> bool:
    docs = [p["PolicyDocument"] for p in role["Policies"]]
    return evaluate(docs, Request(action=action, resource=resource, context=context)) is Decision.ALLOW


def test_trust_is_github_oidc_for_the_main_branch_of_the_repository_only(role):
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert "Federated" in statement["Principal"]
    assert statement["Condition"] == {"StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": "repo:acme/storefront:ref:refs/heads/main"}}


def test_pushes_to_the_app_repository_only(role):
    app_repo = ARN.format("ecr", f"repository/heroku2aws/{APP}")
    for action in ("ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"):
        assert _allowed(role, action, app_repo), action
        assert not _allowed(role, action, ARN.format("ecr", f"repository/heroku2aws-{APP}-tasks")), action
    assert not _allowed(role, "ecr:BatchDeleteImage", app_repo)


def test_updates_this_app_s_services_and_task_definitions_only(role):
    assert _allowed(role, "ecs:UpdateService", ARN.format("ecs", f"service/{APP}/{APP}-web"))
    assert not _allowed(role, "ecs:UpdateService", ARN.format("ecs", f"service/{APP}/other-web"))
    assert not _allowed(role, "ecs:UpdateService", ARN.format("ecs", "service/other/other-web"))
    assert not _allowed(role, "ecs:DeleteService", ARN.format("ecs", f"service/{APP}/{APP}-web"))
    assert _allowed(role, "ecs:RegisterTaskDefinition", ARN.format("ecs", f"task-definition/{APP}-worker"))
    assert not _allowed(role, "ecs:RegisterTaskDefinition", ARN.format("ecs", "task-definition/other-worker"))


def test_runs_only_the_release_task_on_the_app_cluster(role):
    release = ARN.format("ecs", f"task-definition/{APP}-release:3")
    cluster = ARN.format("ecs", f"cluster/{APP}")
    assert _allowed(role, "ecs:RunTask", release, **{"ecs:cluster": cluster})
    assert not _allowed(role, "ecs:RunTask", release, **{"ecs:cluster": ARN.format("ecs", "cluster/other")})
    assert not _allowed(role, "ecs:RunTask", ARN.format("ecs", f"task-definition/{APP}-web:3"),
                        **{"ecs:cluster": cluster})


def test_passes_only_the_landing_roles_and_only_to_ecs_tasks(role):
    execution = f"arn:aws:iam::{ACCOUNT}:role/heroku2aws-{APP}-execution"
    task = f"arn:aws:iam::{ACCOUNT}:role/heroku2aws-{APP}-task"
    for arn in (execution, task):
        assert _allowed(role, "iam:PassRole", arn, **{"iam:PassedToService": "ecs-tasks.amazonaws.com"})
        assert not _allowed(role, "iam:PassRole", arn, **{"iam:PassedToService": "lambda.amazonaws.com"})
    assert not _allowed(role, "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin",
                        **{"iam:PassedToService": "ecs-tasks.amazonaws.com"})
