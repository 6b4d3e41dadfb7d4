"""Stage 1, "Validate input": the execution input checked against :class:`~heroku2aws.contracts.input.ExecutionInput`.

Event (built by the ASL)::

    {"input": <the raw execution input>, "execution_id": "<Step Functions execution ARN>"}

Return: the normalised input — every default filled in — as JSON (``ExecutionInput.model_dump(mode="json")``).

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
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..contracts.errors import InvalidInput
from ..contracts.input import LOOKS_SECRET, ExecutionInput
from ..obs import get_logger

log = get_logger("validate_input")

__all__ = ["MAX_INPUT_BYTES", "describe_errors", "parse_event", "validate_input"]

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


def validate_input(raw: Any) -> ExecutionInput:
    """The execution input as the model, or :class:`InvalidInput` naming every bad field."""
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
    log.info("execution input is valid", extra={"app": model.heroku.app, "strategy": model.database.strategy})
    return model


def parse_event(model: type[M], event: Any, what: str = "event") -> M:
    """``event`` as ``model``, or :class:`InvalidInput` with a value-free message."""
    if not isinstance(event, dict):
        raise InvalidInput(f"{what} must be a JSON object, got {_json_type(event)}")
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        raise InvalidInput(_message(what, describe_errors(exc))) from None
