"""The definition checks AWS makes at CreateStateMachine / UpdateStateMachine and moto does not.

Each refuses the definition with ``InvalidDefinition`` ("Invalid State Machine Definition: ..."), as the
Step Functions API does (API reference, CreateStateMachine, Errors: InvalidDefinition,
https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateStateMachine.html):

- a ``{% %}`` expression that is not valid JSONata, or that calls a function Step Functions does not
  support (``$eval``; guide: "Transforming data with JSONata in Step Functions",
  https://docs.aws.amazon.com/step-functions/latest/dg/transforming-data.html);
- a variable assigned inside a Parallel branch or a Map iteration with the name of a variable an enclosing
  scope assigns (guide: "Passing data between states with variables", section "Variable scope",
  https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html — an inner scope may read
  the outer scopes' variables but may not assign a variable of the same name as one in an outer scope);
- an ``aws-sdk:`` Task whose service or API action does not exist (the guide's "AWS SDK service
  integrations", https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html:
  the action is the SDK's API name in camelCase; botocore's models list each service's operations).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from .jsonata import check_expression
from .models import boto_service, operation_model

_EXPRESSION = re.compile(r"^\{%(.*)%\}$", re.S)
_AWS_SDK = re.compile(r"^arn:aws[a-z-]*:states:::aws-sdk:([a-z0-9]+):([A-Za-z0-9]+)(\.waitForTaskToken)?$")


def _expressions(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        match = _EXPRESSION.match(value)
        if match:
            yield path, match.group(1)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _expressions(item, f"{path}/{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _expressions(item, f"{path}/{i}")


def _assigned(state: dict) -> set[str]:
    """Variables one state assigns: its own Assign, its Catchers' and its Choice rules'."""
    names = set((state.get("Assign") or {}) if isinstance(state.get("Assign"), dict) else ())
    for holder in (state.get("Catch") or []) + (state.get("Choices") or []):
        if isinstance(holder, dict) and isinstance(holder.get("Assign"), dict):
            names |= set(holder["Assign"])
    return names


def _inner_scopes(state: dict, path: str) -> Iterator[tuple[dict, str]]:
    for i, branch in enumerate(state.get("Branches") or []):
        yield branch, f"{path}/Branches/{i}"
    for key in ("ItemProcessor", "Iterator"):
        if isinstance(state.get(key), dict):
            yield state[key], f"{path}/{key}"


def _scope_problems(machine: dict, path: str, outer: dict[str, str]) -> list[str]:
    states = machine.get("States") or {}
    here: dict[str, str] = {}
    problems = []
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        for variable in sorted(_assigned(state)):
            if variable in outer:
                problems.append(f"the variable '{variable}' assigned at {path}/States/{name} is already assigned in an "
                                f"outer scope (at {outer[variable]}): a Parallel branch or Map iteration cannot assign "
                                "a variable of the same name as an outer scope's")
            here.setdefault(variable, f"{path}/States/{name}")
    for name, state in states.items():
        if isinstance(state, dict):
            for inner, inner_path in _inner_scopes(state, f"{path}/States/{name}"):
                problems += _scope_problems(inner, inner_path, {**outer, **here})
    return problems


def _all_states(machine: dict, path: str = "") -> Iterator[tuple[str, dict]]:
    for name, state in (machine.get("States") or {}).items():
        if isinstance(state, dict):
            yield f"{path}/States/{name}", state
            for inner, inner_path in _inner_scopes(state, f"{path}/States/{name}"):
                yield from _all_states(inner, inner_path)


def _resource_problems(machine: dict) -> list[str]:
    problems = []
    for path, state in _all_states(machine):
        resource = state.get("Resource")
        if state.get("Type") != "Task" or not isinstance(resource, str) or ":::aws-sdk:" not in resource:
            continue
        match = _AWS_SDK.match(resource)
        try:
            if match is None:
                raise KeyError(resource)
            operation_model(boto_service(match.group(1)), match.group(2))
        except Exception:
            problems.append(f"the resource provided {resource} is not recognized: no such AWS SDK service or API action "
                            f"(at {path}/Resource)")
    return problems


def _codebuild_argument_problems(machine: dict) -> list[str]:
    """``codebuild:startBuild`` (and ``.sync``) take StartBuild's request members, PascalCase (guide, "Manage AWS
    CodeBuild builds with Step Functions"); any other field is refused when the definition is created, as AWS's
    validator does (SCHEMA_VALIDATION_FAILED: the field is not supported by Step Functions)."""
    problems = []
    members: set[str] | None = None
    for path, state in _all_states(machine):
        resource = state.get("Resource")
        if state.get("Type") != "Task" or not isinstance(resource, str) \
                or not re.match(r"^arn:aws[a-z-]*:states:::codebuild:startBuild(\.sync)?$", resource):
            continue
        if members is None:
            members = {m[0].upper() + m[1:] for m in operation_model("codebuild", "StartBuild").input_shape.members}
        arguments = state.get("Arguments") or state.get("Parameters") or {}
        if isinstance(arguments, dict):
            for key in arguments:
                name = key[:-2] if key.endswith(".$") else key
                if name not in members:
                    problems.append(f"SCHEMA_VALIDATION_FAILED: The field \"{name}\" is not supported by Step Functions "
                                    f"(at {path}/Arguments)")
    return problems


def definition_problems(definition: str) -> list[str]:
    """Everything in ``definition`` AWS's validator refuses that moto's parser accepts; ``[]`` when none."""
    try:
        machine = json.loads(definition)
    except ValueError:
        return []  # moto's parser reports malformed JSON itself
    if not isinstance(machine, dict):
        return []
    problems = [f"{problem} (at {path})" for path, body in _expressions(machine, "")
                for problem in check_expression(body)]
    problems += _scope_problems(machine, "", {})
    problems += _resource_problems(machine)
    problems += _codebuild_argument_problems(machine)
    return problems


def apply() -> None:
    from moto.core.exceptions import AWSError
    from moto.stepfunctions.parser.api import InvalidDefinition as ParserInvalidDefinition
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    class InvalidDefinition(AWSError):
        """moto's parser raised its InvalidDefinition with no error code (``code`` where AWSError reads ``TYPE``):
        the client saw an empty code. AWS's code is ``InvalidDefinition``, HTTP 400."""

        TYPE = "InvalidDefinition"
        STATUS = 400

    original = StepFunctionsParserBackend._validate_definition

    def _validate_definition(definition: str) -> None:
        try:
            original(definition=definition)
        except ParserInvalidDefinition as exc:
            raise InvalidDefinition(exc.message) from exc
        problems = definition_problems(definition)
        if problems:
            raise InvalidDefinition("Invalid State Machine Definition: '"
                                    + ", ".join(f"SCHEMA_VALIDATION_FAILED: {p}" for p in problems) + "'")

    StepFunctionsParserBackend._validate_definition = staticmethod(_validate_definition)
