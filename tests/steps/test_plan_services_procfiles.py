"""Every real Procfile of the corpus (tests/steps/procfiles/, sources in INDEX.md) is planned, and every process
gets a container command whose script bash accepts (``bash -n``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers import EXECUTION_ID

from heroku2aws.contracts.errors import InvalidInput
from heroku2aws.contracts.input import ExecutionInput
from heroku2aws.steps.plan_services import (
    PROCESS_WRAPPER,
    STOP_TIMEOUT_SECONDS,
    container_command,
    login_script,
    parse_procfile,
    plan_services,
)

CORPUS = Path(__file__).with_name("procfiles")
FILES = sorted(CORPUS.glob("*.Procfile"))
#: Lines without ``name:`` (a bare command): refused with the line number, as Heroku's own parser refuses them
#: (heroku/buildpacks-procfile src/procfile.rs; INDEX.md says which and why).
REFUSED = {"heroku__gradle-getting-started.Procfile": "line 1", "18F__identity-idp.Procfile": "line 3"}
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:111122223333:secret:heroku2aws/acme-storefront/config-AbCdEf"
CONFIG = {"secret_arn": SECRET_ARN, "imported": ["DATABASE_URL", "REDIS_URL"]}


def bash_accepts(script: str) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/bash", "-n", "-c", script], capture_output=True, text=True, timeout=10, check=False)


def test_the_corpus_holds_at_least_fifty_real_procfiles_each_with_its_source():
    index = (CORPUS / "INDEX.md").read_text()
    assert len(FILES) >= 50
    for path in FILES:
        assert f"| {path.name} |" in index, f"{path.name} has no source in INDEX.md"


def test_the_wrapper_itself_is_valid_bash():
    result = bash_accepts(PROCESS_WRAPPER)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_given_a_real_procfile_when_planned_then_every_process_has_a_command_bash_accepts(path, production_input):
    text = path.read_text()
    if path.name in REFUSED:
        with pytest.raises(InvalidInput, match=REFUSED[path.name]):
            parse_procfile(text)
        return
    cfg = ExecutionInput.model_validate({**production_input, "ecs": {**production_input["ecs"], "procfile": text}})
    out = plan_services(cfg, {"heroku": {"formation": []}}, CONFIG, EXECUTION_ID)
    planned = [s.task_definition for s in out.services] + ([out.release] if out.release else [])
    commands = parse_procfile(text)
    assert sorted(td["ContainerDefinitions"][0]["Name"] for td in planned) == sorted(commands)
    for td in planned:
        container = td["ContainerDefinitions"][0]
        command = commands[container["Name"]]
        assert container["Command"] == container_command(command, container["Name"])
        assert container["StopTimeout"] == STOP_TIMEOUT_SECONDS
        result = bash_accepts(login_script(command))
        assert result.returncode == 0, f"{container['Name']}: {result.stderr}"
