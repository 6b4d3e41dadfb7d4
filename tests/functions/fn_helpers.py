"""Helpers for the stage 1-3 function tests (a uniquely named module: tests import it by name)."""

from __future__ import annotations

import copy
import functools
from pathlib import Path

from lambda_helpers import FakeLambdaContext, load_handler  # noqa: F401  (re-exported)

ROOT = Path(__file__).resolve().parents[2]
EXECUTION_ID = "arn:aws:states:us-east-1:123456789012:execution:heroku2aws-acme-storefront:run-1"


def with_changes(doc: dict, **paths) -> dict:
    """A deep copy of ``doc`` with dotted paths set (``ecs__port=1`` sets doc["ecs"]["port"])."""
    out = copy.deepcopy(doc)
    for dotted, value in paths.items():
        keys = dotted.split("__")
        node = out
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return out


@functools.cache
def _service_model(service: str):
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def to_boto(service: str, operation: str, params: dict) -> dict:
    """Step Functions' PascalCase request -> boto3's parameter names, checked against botocore's shape.

    A key that is not a member of the operation's input shape fails the test (as AWS would refuse it).
    """
    shape = _service_model(service).operation_model(operation).input_shape

    def convert(value, shape):
        if shape.type_name == "structure":
            members = {name.lower(): name for name in shape.members}
            out = {}
            for key, item in value.items():
                name = members.get(key.lower())
                assert name is not None, f"{operation}: {key!r} is not a member of {shape.name}"
                out[name] = convert(item, shape.members[name])
            return out
        if shape.type_name == "list":
            return [convert(item, shape.member) for item in value]
        if shape.type_name == "map":
            return {k: convert(v, shape.value) for k, v in value.items()}
        return value

    return convert(params, shape)
