"""``heroku2aws init --ci github``: the deploy path after the move, as a GitHub Actions workflow in the app's repository.

:func:`write_workflow` writes ``.github/workflows/deploy-to-aws.yml``. On every push to ``main`` (or by hand) it:

1. assumes the landing stack's deploy role through GitHub's OIDC provider (``aws-actions/configure-aws-credentials``
   with ``role-to-assume``; the job has ``id-token: write`` and nothing else but ``contents: read``): no AWS key is
   stored in GitHub. The role (template.yaml ``GitHubDeployRole``, created when ``GitHubRepository`` is given)
   trusts only ``repo:<owner>/<name>:ref:refs/heads/main`` with audience ``sts.amazonaws.com``;
2. builds the image: with the app's ``Dockerfile`` when the repository has one, otherwise with Heroku's Cloud Native
   Buildpacks builder (``pack build --builder heroku/builder:24``: the same buildpacks as Heroku's, Dev Center
   "Heroku Cloud Native Buildpacks") with the CNB launcher as its entrypoint (ECS's command replaces only the CMD),
   and pushes it to the app's ECR repository (``heroku2aws/<app>``) tagged with the commit SHA;
3. runs the ``release`` process type once when the app has one (``<app>-release`` task definition, like Heroku's
   release phase: a failure stops the deploy before any service changes);
4. for each process type, registers its current task definition (``<app>-<type>``) again with the new image
   (``aws-actions/amazon-ecs-render-task-definition`` reads it by family) and updates the service ``<app>-<type>``
   on the cluster, waiting until it is stable (``aws-actions/amazon-ecs-deploy-task-definition``).

Actions are pinned to full commit SHAs (the tag each one had, in a comment), as GitHub's security hardening guide
recommends for third-party actions.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["ACTIONS", "WORKFLOW_PATH", "deploy_role_name", "render_workflow", "write_workflow"]

WORKFLOW_PATH = Path(".github") / "workflows" / "deploy-to-aws.yml"

#: action -> (commit, the release tag it is): read from each action's repository tags.
ACTIONS: dict[str, tuple[str, str]] = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "aws-actions/configure-aws-credentials": ("e6de054238d6b7531b4efff3b6587d9aade6a06c", "v6.2.3"),
    "aws-actions/amazon-ecr-login": ("03f1aad4c6c7ffd436567f42f9384779290529bd", "v2.1.7"),
    "buildpacks/github-actions/setup-pack": ("36416a96be10a6cc7170e7c9c63656d4092f78b2", "v6.1.0"),
    "aws-actions/amazon-ecs-render-task-definition": ("138c24f321fdbdf7edee4a685519d253cae2cdea", "v1.9.0"),
    "aws-actions/amazon-ecs-deploy-task-definition": ("c465972ecbd160473f22e683363b422a5412a3de", "v2.6.3"),
}

_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_TYPE = re.compile(r"^[A-Za-z0-9_-]{1,60}$")
CNB_BUILDER = "heroku/builder:24"


def deploy_role_name(app: str) -> str:
    """The deploy role's name (template.yaml ``GitHubDeployRole``: ``heroku2aws-<app>-github-deploy``)."""
    return f"heroku2aws-{app}-github-deploy"


def _uses(action: str) -> str:
    sha, tag = ACTIONS[action]
    return f"{action}@{sha} # {tag}"


def render_workflow(app: str, repo: str, account_id: str, region: str, process_types: list[str],
                    cluster: str | None = None, branch: str = "main") -> str:
    """The workflow's text. ``process_types``: the Procfile's types (``release`` runs once, the others are
    services); ``cluster``: the ECS cluster (the landing's is named after the app)."""
    if not _REPO.match(repo):
        raise ValueError(f"--repo must be owner/name, not {repo!r}")
    if not re.fullmatch(r"\d{12}", account_id):
        raise ValueError(f"not an AWS account ID: {account_id!r}")
    bad = [t for t in process_types if not _TYPE.match(t)]
    if bad:
        raise ValueError(f"process type names ECS cannot use: {', '.join(bad)}")
    services = [t for t in process_types if t != "release"]
    if not services:
        raise ValueError("the app has no process type to deploy")
    role_arn = f"arn:aws:iam::{account_id}:role/{deploy_role_name(app)}"
    lines = [
        f"# Written by `heroku2aws init --ci github` for {app} ({repo}): build the app's image, push it to ECR and",
        "# update the ECS services. Authenticated through GitHub's OIDC provider and the landing stack's deploy role",
        f"# {deploy_role_name(app)} (trusts {repo} on {branch} only): no AWS key is stored in GitHub.",
        "name: Deploy to AWS",
        "",
        "on:",
        "  push:",
        f"    branches: [{branch}]",
        "  workflow_dispatch:",
        "",
        "permissions:",
        "  contents: read",
        "",
        "concurrency:",
        "  group: deploy-to-aws",
        "  cancel-in-progress: false",
        "",
        "env:",
        f"  AWS_REGION: {region}",
        f"  AWS_ROLE_ARN: {role_arn}",
        f"  ECR_REPOSITORY: heroku2aws/{app}",
        f"  ECS_CLUSTER: {cluster or app}",
        f"  APP: {app}",
        "",
        "jobs:",
        "  build:",
        "    name: Build and push the image",
        "    runs-on: ubuntu-24.04",
        "    permissions:",
        "      contents: read",
        "      id-token: write",
        "    outputs:",
        "      image: ${{ steps.image.outputs.image }}",
        "    steps:",
        f"      - uses: {_uses('actions/checkout')}",
        f"      - uses: {_uses('aws-actions/configure-aws-credentials')}",
        "        with:",
        "          role-to-assume: ${{ env.AWS_ROLE_ARN }}",
        "          aws-region: ${{ env.AWS_REGION }}",
        "      - id: ecr",
        f"        uses: {_uses('aws-actions/amazon-ecr-login')}",
        "      - id: image",
        "        name: Name the image",
        "        env:",
        "          REGISTRY: ${{ steps.ecr.outputs.registry }}",
        "        run: echo \"image=$REGISTRY/$ECR_REPOSITORY:$GITHUB_SHA\" >> \"$GITHUB_OUTPUT\"",
        "      - name: Build and push with the app's Dockerfile",
        "        if: hashFiles('Dockerfile') != ''",
        "        env:",
        "          IMAGE: ${{ steps.image.outputs.image }}",
        "        run: |",
        "          docker build --platform linux/amd64 --tag \"$IMAGE\" .",
        "          docker push \"$IMAGE\"",
        f"      - uses: {_uses('buildpacks/github-actions/setup-pack')}",
        "        if: hashFiles('Dockerfile') == ''",
        f"      - name: Build and push with Heroku's Cloud Native Buildpacks ({CNB_BUILDER})",
        "        if: hashFiles('Dockerfile') == ''",
        "        env:",
        "          IMAGE: ${{ steps.image.outputs.image }}",
        "        run: |",
        f"          pack build \"$IMAGE-cnb\" --builder {CNB_BUILDER}",
        "          # ECS's command replaces only the CMD: the launcher itself must be the entrypoint (not the default",
        "          # process's /cnb/process/<type>), so each service's command runs through it (README, the app's image).",
        "          printf 'FROM %s\\nENTRYPOINT [\"/cnb/lifecycle/launcher\"]\\n' \"$IMAGE-cnb\" \\",
        "            | docker build --tag \"$IMAGE\" -",
        "          docker push \"$IMAGE\"",
    ]
    needs = "build"
    if "release" in process_types:
        lines += [
            "",
            "  release:",
            "    name: Run the release command",
            "    needs: build",
            "    runs-on: ubuntu-24.04",
            "    permissions:",
            "      contents: read",
            "      id-token: write",
            "    steps:",
            f"      - uses: {_uses('aws-actions/configure-aws-credentials')}",
            "        with:",
            "          role-to-assume: ${{ env.AWS_ROLE_ARN }}",
            "          aws-region: ${{ env.AWS_REGION }}",
            "      - id: network",
            f"        name: The network of the {services[0]} service (the release task runs beside it)",
            "        run: |",
            f"          cfg=$(aws ecs describe-services --cluster \"$ECS_CLUSTER\" --services \"$APP-{services[0]}\" \\",
            "            --query 'services[0].networkConfiguration.awsvpcConfiguration' --output json)",
            "          echo \"subnets=$(jq -r '.subnets | join(\",\")' <<<\"$cfg\")\" >> \"$GITHUB_OUTPUT\"",
            "          echo \"security-groups=$(jq -r '.securityGroups | join(\",\")' <<<\"$cfg\")\" >> \"$GITHUB_OUTPUT\"",
            "      - id: render",
            f"        uses: {_uses('aws-actions/amazon-ecs-render-task-definition')}",
            "        with:",
            "          task-definition-family: ${{ env.APP }}-release",
            "          container-name: release",
            "          image: ${{ needs.build.outputs.image }}",
            "      - name: Run it once, as Heroku's release phase does",
            f"        uses: {_uses('aws-actions/amazon-ecs-deploy-task-definition')}",
            "        with:",
            "          task-definition: ${{ steps.render.outputs.task-definition }}",
            "          cluster: ${{ env.ECS_CLUSTER }}",
            "          run-task: true",
            "          run-task-launch-type: FARGATE",
            "          run-task-subnets: ${{ steps.network.outputs.subnets }}",
            "          run-task-security-groups: ${{ steps.network.outputs.security-groups }}",
            "          wait-for-task-stopped: true",
        ]
        needs = "[build, release]"
    lines += [
        "",
        "  deploy:",
        "    name: Update the ${{ matrix.process }} service",
        f"    needs: {needs}",
        "    runs-on: ubuntu-24.04",
        "    permissions:",
        "      contents: read",
        "      id-token: write",
        "    strategy:",
        "      fail-fast: false",
        "      matrix:",
        f"        process: [{', '.join(services)}]",
        "    steps:",
        f"      - uses: {_uses('aws-actions/configure-aws-credentials')}",
        "        with:",
        "          role-to-assume: ${{ env.AWS_ROLE_ARN }}",
        "          aws-region: ${{ env.AWS_REGION }}",
        "      - id: render",
        f"        uses: {_uses('aws-actions/amazon-ecs-render-task-definition')}",
        "        with:",
        "          task-definition-family: ${{ env.APP }}-${{ matrix.process }}",
        "          container-name: ${{ matrix.process }}",
        "          image: ${{ needs.build.outputs.image }}",
        f"      - uses: {_uses('aws-actions/amazon-ecs-deploy-task-definition')}",
        "        with:",
        "          task-definition: ${{ steps.render.outputs.task-definition }}",
        "          service: ${{ env.APP }}-${{ matrix.process }}",
        "          cluster: ${{ env.ECS_CLUSTER }}",
        "          wait-for-service-stability: true",
    ]
    return "\n".join(lines) + "\n"


def write_workflow(repo_dir: Path, app: str, repo: str, account_id: str, region: str, process_types: list[str],
                   cluster: str | None = None) -> Path:
    """Write the workflow into ``repo_dir`` (the app's repository checkout); returns its path."""
    path = Path(repo_dir) / WORKFLOW_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_workflow(app, repo, account_id, region, process_types, cluster))
    return path
