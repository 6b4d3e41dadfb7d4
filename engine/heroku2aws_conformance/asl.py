"""The state machine against the published rules: integrations, Arguments, error names, JSONata, variables.

Every Task state is checked, nested ones included (Parallel branches, Map item processors):

- ``aws-sdk:<service>:<action>``: the service and the action exist in the botocore models;
- Arguments (of aws-sdk and optimized integrations): every key is a member of the operation's input
  shape (compared case-insensitively: Step Functions takes PascalCase), recursively through literal
  structures, lists and maps; required members are present; literal values have the member's type and,
  for enums, one of its values (``{% … %}`` strings are not typed: their value is known only at run time);
- every ``ErrorEquals`` name of a Retry/Catch is one that the integration can raise;
- every JSONata expression (any ``{% … %}`` string, in any field) calls only functions Step Functions has;
- no variable is assigned in a nested scope under a name an enclosing scope assigns; reserved names;
- Route 53 calls get the bare hosted zone id.
"""

from __future__ import annotations

import ast
import builtins
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.model

from . import rules
from .finding import ASL, FUNCTIONS, LAYER, Finding, rel

ASL_STATES_SPEC = "https://states-language.net/spec.html"

_AWS_SDK = re.compile(r"^arn:aws[a-z-]*:states:::aws-sdk:([a-z0-9]+):([A-Za-z0-9]+)(\.[A-Za-z]+)?$")

# Optimized integration -> (botocore service, operation, members whose value is free JSON): Step Functions
# passes the Arguments as the API's request (SRC_LAMBDA "Payload" is any JSON; SRC_SNS: Message may be JSON).
OPTIMIZED_SHAPES: dict[str, tuple[str, str, frozenset[str]]] = {
    "arn:aws:states:::lambda:invoke": ("lambda", "Invoke", frozenset({"payload", "clientcontext"})),
    "arn:aws:states:::ecs:runTask": ("ecs", "RunTask", frozenset()),
    "arn:aws:states:::ecs:runTask.sync": ("ecs", "RunTask", frozenset()),
    "arn:aws:states:::sns:publish": ("sns", "Publish", frozenset({"message"})),
    "arn:aws:states:::sns:publish.waitForTaskToken": ("sns", "Publish", frozenset({"message"})),
    "arn:aws:states:::codebuild:startBuild.sync": ("codebuild", "StartBuild", frozenset()),
}
OPTIMIZED_SOURCES: dict[str, str] = {
    "arn:aws:states:::lambda:invoke": rules.SRC_LAMBDA_BP,
    "arn:aws:states:::ecs:runTask": rules.SRC_ECS,
    "arn:aws:states:::ecs:runTask.sync": rules.SRC_ECS,
    "arn:aws:states:::sns:publish": rules.SRC_SNS,
    "arn:aws:states:::sns:publish.waitForTaskToken": rules.SRC_SNS,
    "arn:aws:states:::codebuild:startBuild.sync": rules.SRC_CODEBUILD,
}


def is_jsonata(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")


# ---------------------------------------------------------------------------------------- walking


def walk_states(states: dict[str, Any], prefix: str = "", scope: tuple[str, ...] = ()) -> Iterator[tuple[str, dict, tuple]]:
    """Every state as (path, state, scope): scope is the chain of enclosing Parallel branches / Map processors."""
    for name, state in states.items():
        path = f"{prefix}{name}"
        yield path, state, scope
        if state.get("Type") == "Parallel":
            for i, branch in enumerate(state.get("Branches", [])):
                inner = f"{path}/branch {i}"
                yield from walk_states(branch.get("States", {}), inner + "/", (*scope, inner))
        elif state.get("Type") == "Map":
            processor = state.get("ItemProcessor") or state.get("Iterator") or {}
            inner = f"{path}/items"
            yield from walk_states(processor.get("States", {}), inner + "/", (*scope, inner))


def _strings(value: Any, skip_nested: bool = True) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, skip_nested)
    elif isinstance(value, dict):
        for k, v in value.items():
            if skip_nested and k in {"Branches", "ItemProcessor", "Iterator"}:
                continue
            yield from _strings(v, skip_nested)


# ---------------------------------------------------------------------------------------- Lambda errors


def lambda_error_names(layer: Path = LAYER, functions: Path = FUNCTIONS) -> set[str]:
    """Names a function of ours can fail with: Lambda reports ``errorType`` = the exception's class name.

    Every exception class defined in the shared package or a function (``errors.py``'s and others such as
    ``HerokuApiError``), and Python's built-in exceptions (an unhandled ``KeyError`` is ``KeyError``).
    """
    builtin = {n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)}
    classes: dict[str, set[str]] = {}
    for root in (layer, functions):
        for path in root.rglob("*.py"):
            try:
                tree = ast.parse(path.read_text())
            except (SyntaxError, UnicodeDecodeError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef):
                    bases = {b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "") for b in node.bases}
                    classes.setdefault(node.name, set()).update(bases)
    found = set(builtin)
    changed = True
    while changed:
        changed = False
        for name, bases in classes.items():
            if name not in found and bases & found:
                found.add(name)
                changed = True
    return found


# ---------------------------------------------------------------------------------------- Arguments


def _type_ok(shape: botocore.model.Shape, value: Any) -> bool:
    t = shape.type_name
    if t == "structure" or t == "map":
        return isinstance(value, dict)
    if t == "list":
        return isinstance(value, list)
    if t == "string":
        return isinstance(value, str)
    if t in {"integer", "long"}:
        return isinstance(value, int) and not isinstance(value, bool)
    if t in {"double", "float"}:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if t == "boolean":
        return isinstance(value, bool)
    if t == "timestamp":
        return isinstance(value, str | int | float) and not isinstance(value, bool)
    if t == "blob":
        return isinstance(value, str)
    return True


def check_arguments(
    shape: botocore.model.StructureShape, args: dict, where: str, file: str, source: str, free: frozenset[str] = frozenset()
) -> list[Finding]:
    """Keys, required members and literal types of ``args`` against an input shape (recursively)."""
    out: list[Finding] = []

    def value(member: botocore.model.Shape, v: Any, at: str) -> None:
        if is_jsonata(v):
            return
        if not _type_ok(member, v):
            out.append(
                Finding(file, where, "asl.argument-type", f"{at}: {json.dumps(v)[:60]} is not a {member.type_name}", source)
            )
            return
        if member.type_name == "structure":
            struct(member, v, at)  # type: ignore[arg-type]
        elif member.type_name == "list":
            for i, item in enumerate(v):
                value(member.member, item, f"{at}[{i}]")  # type: ignore[attr-defined]
        elif member.type_name == "map":
            for k, item in v.items():
                value(member.value, item, f"{at}.{k}")  # type: ignore[attr-defined]
        elif member.type_name == "string":
            enum = getattr(member, "enum", None) or []
            if enum and v not in enum and not re.fullmatch(r"\$\{\w+\}", v):
                out.append(Finding(file, where, "asl.argument-enum", f"{at}: {v!r} is not one of {sorted(enum)}", source))

    def struct(s: botocore.model.StructureShape, obj: dict, at: str) -> None:
        members = {name.lower(): name for name in s.members}
        for key, v in obj.items():
            name = members.get(key.lower())
            label = f"{at}.{key}" if at else key
            if name is None:
                out.append(
                    Finding(
                        file,
                        where,
                        "asl.argument-unknown",
                        f"{label} is not a member of {s.name} (members: {', '.join(sorted(s.members))})",
                        source,
                    )
                )
            elif not (at == "" and key.lower() in free):
                value(s.members[name], v, label)
        present = {k.lower() for k in obj}
        for req in s.required_members:
            if req.lower() not in present:
                out.append(
                    Finding(
                        file, where, "asl.argument-required", f"{at + '.' if at else ''}{req} is required by {s.name}", source
                    )
                )

    struct(shape, args, "")
    return out


# ---------------------------------------------------------------------------------------- checks


def check_task(path: str, state: dict, file: str, lambda_errors: set[str], models_strip_zone: bool) -> list[Finding]:
    out: list[Finding] = []
    resource = rules._strip_partition(str(state.get("Resource", "")))
    args = state.get("Arguments", state.get("Parameters"))
    m = _AWS_SDK.match(resource)
    if m:
        sfn_service, action = m[1], m[2]
        service = rules.botocore_service(sfn_service)
        if service is None:
            return [Finding(file, path, "asl.sdk-service", f"aws-sdk:{sfn_service} is no AWS SDK service", rules.SRC_AWSSDK)]
        op = rules.operation_name(sfn_service, action)
        source = rules.botocore_source(service)
        if op is None:
            return [Finding(file, path, "asl.sdk-action", f"{service} has no operation {action}", source)]
        if action[:1] != action[:1].lower():
            out.append(Finding(file, path, "asl.sdk-action", f"aws-sdk actions are camelCase: {action}", rules.SRC_AWSSDK))
        if isinstance(args, dict):
            shape = rules.service_model(service).operation_model(op).input_shape
            if shape is not None:
                out += check_arguments(shape, args, path, file, source)
            if sfn_service == "route53":
                out += _check_hosted_zone(path, args, file, models_strip_zone)
    elif resource in OPTIMIZED_SHAPES:
        service, op, free = OPTIMIZED_SHAPES[resource]
        shape = rules.service_model(service).operation_model(op).input_shape
        if isinstance(args, dict) and shape is not None:
            out += check_arguments(shape, args, path, file, OPTIMIZED_SOURCES[resource], free)
        elif args is None:
            out.append(Finding(file, path, "asl.argument-required", f"{resource} needs Arguments", OPTIMIZED_SOURCES[resource]))
    out += check_error_names(path, state, resource, file, lambda_errors)
    return out


def _check_hosted_zone(path: str, args: dict, file: str, models_strip_zone: bool) -> list[Finding]:
    """Step Functions' SDK does not strip ``/hostedzone/`` (boto3 does; see ``heroku2aws.contracts.input.Dns``): the id
    must arrive bare."""
    zone = next((v for k, v in args.items() if k.lower() == "hostedzoneid"), None)
    src = rules.botocore_source("route53") + " (HostedZoneId: ResourceId, max 32)"
    if isinstance(zone, str) and not is_jsonata(zone) and zone.startswith("/hostedzone/"):
        return [Finding(file, path, "asl.route53-zone-id", f"HostedZoneId {zone!r} carries the /hostedzone/ prefix", src)]
    if isinstance(zone, str) and is_jsonata(zone):
        stripped = "hostedzone" in zone or (models_strip_zone and "$cfg.dns.hosted_zone_id" in zone)
        if not stripped:
            return [
                Finding(
                    file,
                    path,
                    "asl.route53-zone-id",
                    f"HostedZoneId {zone} is not known to be stripped of /hostedzone/ (strip it, or take the validated"
                    " $cfg.dns.hosted_zone_id)",
                    src,
                )
            ]
    return []


def check_error_names(path: str, state: dict, resource: str, file: str, lambda_errors: set[str]) -> list[Finding]:
    out: list[Finding] = []
    allowed = rules.errors_a_task_can_raise(resource)
    custom_any = resource == "arn:aws:states:::sns:publish.waitForTaskToken"
    m = _AWS_SDK.match(resource)
    if m:
        service = rules.botocore_service(m[1])
        source = f"{rules.SRC_AWSSDK}; {rules.botocore_source(service)}" if service else rules.SRC_AWSSDK
    else:
        source = OPTIMIZED_SOURCES.get(resource, rules.SRC_ERRORS)
    for kind in ("Retry", "Catch"):
        rules_list = state.get(kind, [])
        for i, rule in enumerate(rules_list):
            names = rule.get("ErrorEquals", [])
            if "States.ALL" in names and (len(names) > 1 or i != len(rules_list) - 1):
                out.append(
                    Finding(file, path, "asl.states-all", f"{kind}[{i}]: States.ALL must be alone and last", rules.SRC_ERRORS)
                )
            for name in names:
                if name.startswith("States."):
                    if name not in rules.STATES_ERRORS:
                        out.append(
                            Finding(file, path, "asl.error-name", f"{kind}[{i}]: {name} is no States error", rules.SRC_ERRORS)
                        )
                    continue
                if allowed is None or name in allowed or custom_any:
                    continue
                if resource == "arn:aws:states:::lambda:invoke" and name in lambda_errors:
                    continue
                out.append(
                    Finding(
                        file,
                        path,
                        "asl.error-name",
                        f"{kind}[{i}]: {resource.removeprefix('arn:aws:states:::')} never raises {name}{_hint(name, allowed)}",
                        source,
                    )
                )
    return out


def _hint(name: str, allowed: frozenset[str]) -> str:
    tail = name.split(".", 1)[-1].lower()
    close = sorted(a for a in allowed if a.split(".", 1)[-1].lower() == tail)
    if close:
        return f" (did you mean {close[0]}?)"
    generic = sorted(a for a in allowed if a.count(".") == 1 and a.split(".")[1] == a.split(".")[0] + "Exception")
    if generic and any(w in tail for w in ("throttl", "limit", "unavailable", "internal", "server")):
        return f" (undeclared errors, throttling included, arrive as {generic[0]})"
    return ""


def check_jsonata(path: str, state: dict, file: str) -> list[Finding]:
    out: list[Finding] = []
    for text in _strings(state):
        if "{%" not in text:
            continue
        if not is_jsonata(text):
            out.append(
                Finding(
                    file,
                    path,
                    "asl.jsonata-syntax",
                    f"a JSONata string must be exactly '{{% … %}}': {text[:50]!r}",
                    rules.SRC_JSONATA,
                )
            )
            continue
        for fn in rules.unsupported_jsonata_functions(text[2:-2]):
            why = "$eval is not available in Step Functions (use $parse)" if fn == "eval" else f"${fn} is no JSONata function"
            out.append(Finding(file, path, "asl.jsonata-function", why, rules.SRC_JSONATA))
    return out


def check_variables(definition: dict, file: str) -> list[Finding]:
    out: list[Finding] = []
    assigned: dict[tuple[str, ...], dict[str, str]] = {}
    for path, state, scope in walk_states(definition.get("States", {})):
        blocks = [state.get("Assign")] + [c.get("Assign") for c in state.get("Catch", [])]
        for block in blocks:
            if not isinstance(block, dict):
                continue
            for name in block:
                if name in rules.RESERVED_VARIABLE_NAMES:
                    out.append(Finding(file, path, "asl.variable-reserved", f"${name} is reserved", rules.SRC_VARIABLES))
                elif not rules.VARIABLE_NAME.match(name):
                    out.append(
                        Finding(file, path, "asl.variable-name", f"{name!r} is not a valid variable name", rules.SRC_VARIABLES)
                    )
                assigned.setdefault(scope, {}).setdefault(name, path)
            literal = json.dumps({k: v for k, v in block.items() if not is_jsonata(v)})
            if len(literal.encode()) > rules.MAX_ASSIGN_BYTES:
                out.append(Finding(file, path, "asl.variable-size", "Assign is over 256 KiB", rules.SRC_VARIABLES))
    if not rules.INNER_SCOPE_MAY_REASSIGN_OUTER:
        for scope, names in assigned.items():
            for depth in range(len(scope)):
                outer = assigned.get(scope[:depth], {})
                for name, inner_path in names.items():
                    if name in outer:
                        out.append(
                            Finding(
                                file,
                                inner_path,
                                "asl.variable-scope",
                                f"${name} is assigned here, inside {scope[-1]!r}, and in an enclosing scope"
                                f" at {outer[name]!r}: a nested scope cannot assign an outer scope's variable",
                                rules.SRC_VARIABLES,
                            )
                        )
    return out


def _models_strip_zone(layer: Path = LAYER) -> bool:
    """Does the validated input (the execution input's model, ``dns.hosted_zone_id``) come out bare? Asked of
    the model itself, by validating a prefixed ID."""
    import importlib

    for module in ("heroku2aws.contracts.input",):
        try:
            dns = importlib.import_module(module).Dns
        except (ImportError, AttributeError):
            continue
        fields = {name: info for name, info in dns.model_fields.items() if info.is_required()}
        sample = {"hosted_zone_id": "/hostedzone/Z0123456789ABC", "record_name": "www.example.com",
                  "heroku_target": "app-1.herokudns.com"}
        try:
            value = dns.model_validate({k: sample[k] for k in fields if k in sample}).hosted_zone_id
        except Exception:  # the model changed shape: not known to strip
            return False
        return bool(value == "Z0123456789ABC")
    return False


def check_definition(definition: dict, file: str = rel(ASL), lambda_errors: set[str] | None = None) -> list[Finding]:
    """Every finding on a state machine definition (a parsed ASL document)."""
    errors = lambda_error_names() if lambda_errors is None else lambda_errors
    strip = _models_strip_zone()
    out: list[Finding] = []
    for path, state, _scope in walk_states(definition.get("States", {})):
        if state.get("Type") == "Task":
            out += check_task(path, state, file, errors, strip)
        out += check_jsonata(path, state, file)
    out += check_variables(definition, file)
    return sorted(set(out), key=lambda f: (f.where, f.rule, f.message))


def check(path: Path = ASL) -> list[Finding]:
    return check_definition(json.loads(path.read_text()), rel(path))
