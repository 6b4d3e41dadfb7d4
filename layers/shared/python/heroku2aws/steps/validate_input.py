"""Stage 1, "Validate input": the execution input checked against :class:`~heroku2aws.contracts.input.ExecutionInput`.

Event (built by the ASL)::

    {"input": <the raw execution input>, "execution_id": "<Step Functions execution ARN>"}

Return: the normalised input — every default filled in — as JSON (``ExecutionInput.model_dump(mode="json")``).

Two shapes (issue 16, interface B). The full one (bring your own AWS side) as above. The minimal one — ``version``,
``heroku``, ``dns.record_name`` and optional choices (:class:`~heroku2aws.contracts.input.MinimalInput`), recognised by
having none of ``source``, ``target``, ``load_balancer`` — is accepted only when the stack was deployed with
Landing=create: it is completed from the landing's IDs the template passes as ``LANDING_*`` environment variables
(cluster, private subnets, security groups, roles, ALB and target group, target secrets, hosted zone) and returned as a
:class:`~heroku2aws.contracts.input.PendingInput`: ``source`` is ``null`` until the next state creates the source
secrets from Heroku's live ``DATABASE_URL`` / ``REDIS_URL`` (:mod:`heroku2aws.steps.complete_input`). On a stack with
Landing=none the minimal shape is refused, saying so.

Errors: :class:`~heroku2aws.contracts.errors.InvalidInput` when the input is not a JSON object, is larger than
32 KiB, breaks the model, or holds anything that looks like a secret value in ANY field (a URL with a
password, an ``HRKU-`` / UUID API key, an ``sk_live_`` key — the model checks only the ARN fields; this
also catches one pasted into ``ecs.image`` or a Procfile command). Its message names every bad field by
its dotted path (``ecs.subnets[0]``) and says what is wrong, and never echoes a value: pydantic's
``input_value=…`` is left out, and an unexpected key that looks like a secret is not repeated either.
A pasted API key never comes back.

:func:`parse_event` is the same check for every stage's event model, so a malformed event (an ASL
wiring mistake) fails as ``InvalidInput`` with the same value-free message.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..contracts.errors import InvalidInput
from ..contracts.input import LOOKS_SECRET, ExecutionInput, MinimalInput, PendingInput, is_minimal
from ..obs import get_logger

log = get_logger("validate_input")

__all__ = ["MAX_INPUT_BYTES", "Landing", "complete_from_landing", "describe_errors", "landing_from_env", "parse_event",
           "validate_input"]

#: Larger inputs are refused: the real ones are ~3 KiB, and Step Functions caps a payload at 256 KiB.
MAX_INPUT_BYTES = 32 * 1024
#: At most this many problems are listed (then "and N more").
MAX_LISTED = 25

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")

M = TypeVar("M", bound=BaseModel)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def _path(loc: tuple[Any, ...], unexpected_key: bool) -> str:
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        part = str(part)
        last = i == len(loc) - 1
        if unexpected_key and last and (not _PLAIN_KEY.match(part) or LOOKS_SECRET.search(part)):
            part = "<an unexpected key, not repeated here>"
        out += f".{part}" if out else part
    return out or "(input)"


def describe_errors(exc: ValidationError, prefix: str = "") -> list[str]:
    """One line per problem, ``path: what is wrong`` — never the offending value."""
    lines = []
    for err in exc.errors(include_url=False, include_context=False, include_input=False):
        loc = tuple(err.get("loc") or ())
        path = _path(loc, err.get("type") == "extra_forbidden")
        if prefix:
            path = f"{prefix}.{path}" if path != "(input)" else prefix
        msg = str(err.get("msg") or err.get("type"))
        msg = re.sub(r"^(Value|Assertion) error, ", "", msg)
        lines.append(f"{path}: {msg}")
    return lines


def _message(what: str, lines: list[str]) -> str:
    shown = lines[:MAX_LISTED]
    more = f"; and {len(lines) - MAX_LISTED} more" if len(lines) > MAX_LISTED else ""
    noun = "problem" if len(lines) == 1 else "problems"
    return f"{what} is invalid ({len(lines)} {noun}): " + "; ".join(shown) + more


_SECRET_HINT = "looks like a secret value: store it in Secrets Manager and pass the secret's ARN"


def _secret_like_paths(value: Any, loc: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Where a string anywhere in the input looks like a secret (a URL with a password, an API key).

    The model refuses these in the secret-ARN fields; this catches them in every other field too
    (an image name, a Procfile command with a database URL in it), so none travels in state.
    """
    found: list[tuple[Any, ...]] = []
    if isinstance(value, str):
        if LOOKS_SECRET.search(value) or any(LOOKS_SECRET.search(line.strip()) for line in value.splitlines()[:500]):
            found.append(loc)
    elif isinstance(value, dict):
        for k, v in value.items():
            found += _secret_like_paths(v, (*loc, str(k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += _secret_like_paths(v, (*loc, i))
    return found


#: Deeper than any valid input (it has four levels): refused before anything walks it recursively.
MAX_DEPTH = 32


def _too_deep(raw: Any, limit: int = MAX_DEPTH) -> bool:
    """True when objects / arrays nest deeper than ``limit`` (iterative: no recursion on hostile input)."""
    stack: list[tuple[Any, int]] = [(raw, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


@dataclass(frozen=True)
class Landing:
    """The landing stack's IDs, as the template passes them to the validate function (``LANDING_*``)."""

    cluster_arn: str
    private_subnets: list[str]
    app_security_group: str
    dms_security_group: str
    execution_role_arn: str
    task_role_arn: str
    target_group_arn: str
    load_balancer_arn: str
    load_balancer_dns: str
    domain: str
    app_port: int
    health_check_path: str
    target_postgres_secret_arn: str
    target_redis_secret_arn: str
    hosted_zone_id: str


def landing_from_env(env: Mapping[str, str]) -> Landing | None:
    """The landing's IDs from the function's environment; None when the stack was deployed with Landing=none."""
    if env.get("LANDING") != "create":
        return None
    return Landing(
        cluster_arn=env.get("LANDING_CLUSTER_ARN", ""),
        private_subnets=[s for s in env.get("LANDING_PRIVATE_SUBNETS", "").split(",") if s],
        app_security_group=env.get("LANDING_APP_SECURITY_GROUP", ""),
        dms_security_group=env.get("LANDING_DMS_SECURITY_GROUP", ""),
        execution_role_arn=env.get("LANDING_EXECUTION_ROLE_ARN", ""),
        task_role_arn=env.get("LANDING_TASK_ROLE_ARN", ""),
        target_group_arn=env.get("LANDING_TARGET_GROUP_ARN", ""),
        load_balancer_arn=env.get("LANDING_LOAD_BALANCER_ARN", ""),
        load_balancer_dns=env.get("LANDING_LOAD_BALANCER_DNS", ""),
        domain=env.get("LANDING_DOMAIN", ""),
        app_port=int(env.get("LANDING_APP_PORT") or 5000),
        health_check_path=env.get("LANDING_HEALTH_CHECK_PATH") or "/",
        target_postgres_secret_arn=env.get("LANDING_TARGET_POSTGRES_SECRET_ARN", ""),
        target_redis_secret_arn=env.get("LANDING_TARGET_REDIS_SECRET_ARN", ""),
        hosted_zone_id=env.get("HEROKU2AWS_HOSTED_ZONE_ID", ""),
    )


def complete_from_landing(minimal: MinimalInput, landing: Landing) -> dict[str, Any]:
    """The full input's shape from the minimal input and the landing (``source`` and, when not given,
    ``dns.heroku_target`` are left for the workflow to take from Heroku: :mod:`heroku2aws.steps.complete_input`)."""
    if not landing.target_postgres_secret_arn:
        raise InvalidInput("the landing has no RDS (deployed with PostgresEngineVersion empty): the workflow migrates a "
                           "Postgres database; deploy with PostgresEngineVersion set (heroku2aws init sets it)")
    record = minimal.dns.record_name.rstrip(".").lower()
    if landing.domain and record != landing.domain.rstrip(".").lower():
        raise InvalidInput(f"dns.record_name {minimal.dns.record_name} is not the landing's Domain {landing.domain} "
                           "(its ALB's certificate names that domain only)")
    ecs: dict[str, Any] = {
        "cluster_arn": landing.cluster_arn, "subnets": landing.private_subnets,
        "security_groups": [landing.app_security_group], "assign_public_ip": False,
        "execution_role_arn": landing.execution_role_arn, "task_role_arn": landing.task_role_arn,
        "port": landing.app_port, **minimal.ecs.model_dump(mode="json", exclude_defaults=True)}
    if minimal.image is not None:
        ecs["image"] = minimal.image
    elif ExecutionInput.model_fields["ecs"].annotation.model_fields["image"].is_required():  # type: ignore[union-attr]
        raise InvalidInput("image: required (the app's container image; this stack has no image build stage)")
    dns = {"hosted_zone_id": landing.hosted_zone_id, **minimal.dns.model_dump(mode="json", exclude_none=True)}
    target = {"postgres_secret_arn": landing.target_postgres_secret_arn}
    if landing.target_redis_secret_arn:
        target["redis_secret_arn"] = landing.target_redis_secret_arn
    return {
        "version": 1,
        "heroku": minimal.heroku.model_dump(mode="json"),
        "target": target,
        "ecs": ecs,
        "load_balancer": {
            "target_group_arn": landing.target_group_arn, "load_balancer_arn": landing.load_balancer_arn,
            "dns_name": landing.load_balancer_dns,
            "health_url": minimal.health_url or f"https://{landing.load_balancer_dns}{landing.health_check_path}"},
        "dns": dns,
        "database": {**minimal.database.model_dump(mode="json"), "dms_subnet_ids": landing.private_subnets,
                     "dms_security_group_ids": [landing.dms_security_group]},
        "traffic": minimal.traffic.model_dump(mode="json"),
        "timings": minimal.timings.model_dump(mode="json"),
        "approval": minimal.approval.model_dump(mode="json"),
        "rollback": minimal.rollback.model_dump(mode="json"),
        "scheduler": minimal.scheduler.model_dump(mode="json"),
    }


def _validate_minimal(raw: dict, env: Mapping[str, str]) -> ExecutionInput:
    landing = landing_from_env(env)
    if landing is None:
        raise InvalidInput("execution input has the minimal shape (no source, target or load_balancer), which needs "
                           "the stack deployed with Landing=create (heroku2aws init writes it); this stack has "
                           "Landing=none: give the full input (README, 'Bring your own AWS side') or deploy again "
                           "with Landing=create")
    try:
        minimal = MinimalInput.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(_message("execution input", describe_errors(exc))) from None
    full = complete_from_landing(minimal, landing)
    try:
        return PendingInput.model_validate(full)
    except ValidationError as exc:  # the landing's own IDs are wrong: name them (values are IDs, not secrets)
        raise InvalidInput(_message("execution input completed from the landing stack (LANDING_*)",
                                    describe_errors(exc))) from None


def validate_input(raw: Any, env: Mapping[str, str] | None = None) -> ExecutionInput:
    """The execution input as the model, or :class:`InvalidInput` naming every bad field. A minimal input (stack
    deployed with Landing=create) comes back completed from the landing as a :class:`PendingInput`."""
    if not isinstance(raw, dict):
        raise InvalidInput(f"execution input must be a JSON object, got {_json_type(raw)}")
    if _too_deep(raw):
        raise InvalidInput(f"execution input nests objects or arrays deeper than {MAX_DEPTH} levels")
    try:
        size = len(json.dumps(raw, separators=(",", ":"), ensure_ascii=False).encode())
    except (TypeError, ValueError, RecursionError):
        raise InvalidInput("execution input is not JSON") from None
    if size > MAX_INPUT_BYTES:
        raise InvalidInput(f"execution input is {size} bytes; at most {MAX_INPUT_BYTES} (32 KiB) are accepted")
    lines: list[str] = []
    model: ExecutionInput | None = None
    minimal = is_minimal(raw)
    if minimal:
        secret_like = [_path(loc, unexpected_key=True) for loc in _secret_like_paths(raw)]
        if secret_like:
            raise InvalidInput(_message("execution input", [f"{path}: {_SECRET_HINT}" for path in secret_like]))
        model = _validate_minimal(raw, os.environ if env is None else env)
    else:
        try:
            model = ExecutionInput.model_validate(raw)
        except ValidationError as exc:
            model = None
            lines = describe_errors(exc)
    named = {line.split(": ", 1)[0] for line in lines}
    for loc in _secret_like_paths(raw):
        path = _path(loc, unexpected_key=True)
        if path not in named:
            lines.append(f"{path}: {_SECRET_HINT}")
    if lines or model is None:
        raise InvalidInput(_message("execution input", lines))
    log.info("execution input is valid", extra={"app": model.heroku.app, "strategy": model.database.strategy,
                                                "shape": "minimal" if minimal else "full"})
    return model


def parse_event(model: type[M], event: Any, what: str = "event") -> M:
    """``event`` as ``model``, or :class:`InvalidInput` with a value-free message."""
    if not isinstance(event, dict):
        raise InvalidInput(f"{what} must be a JSON object, got {_json_type(event)}")
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        raise InvalidInput(_message(what, describe_errors(exc))) from None
