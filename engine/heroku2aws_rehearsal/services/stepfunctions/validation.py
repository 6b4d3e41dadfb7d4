"""Every aws-sdk call validated against the operation's input shape, as AWS validates it.

moto's SDK client runs with ``parameter_validation=False`` and moto's handlers accept almost anything: an
unknown key, a string where a number belongs, a value outside an enum, a missing required member (moto
created a resource with no name). AWS refuses each of them. After Step Functions' PascalCase ->
botocore-casing normalisation we run botocore's own ``ParamValidator`` (unknown keys, types, required
members, ``min``) plus the ``enum`` and ``max`` traits of the same model (the service enforces those;
botocore leaves them to it). Source: botocore's service models (``botocore/data/<service>/*/service-2.json``),
the models the AWS SDKs are generated from.

A null member is an absent member (Step Functions' SDK treats JSON null as "not set"), so nulls are dropped
before validation, and a required member that is null is reported missing.
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError
from botocore.model import ListShape, MapShape, Shape, StructureShape
from botocore.validate import ParamValidator

LOG = logging.getLogger(__name__)

#: The error code the refusal carries; errors.py names it as Step Functions would (``Service.<...>Exception``).
VALIDATION_ERROR_CODE = "ValidationException"


def drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def _trait_errors(value: Any, shape: Shape | None, path: str) -> list[str]:
    """The ``enum`` and ``max`` traits botocore's validator does not check."""
    if shape is None or value is None:
        return []
    errors: list[str] = []
    enum = getattr(shape, "enum", None) or []
    if shape.type_name == "string" and enum and isinstance(value, str) and value not in enum:
        errors.append(f"Value '{value}' at '{path}' failed to satisfy constraint: Member must satisfy enum value set: "
                      f"[{', '.join(enum)}]")
    maximum = shape.metadata.get("max")
    if maximum is not None:
        size = (len(value) if isinstance(value, str | list | dict) and shape.type_name in {"string", "list", "map"}
                else value if shape.type_name in {"integer", "long"} and isinstance(value, int) else None)
        if size is not None and size > maximum:
            what = "value less than or equal to" if shape.type_name in {"integer", "long"} else "length less than or equal to"
            errors.append(f"Value at '{path}' failed to satisfy constraint: Member must have {what} {maximum}")
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value:
                errors += _trait_errors(value[name], member, f"{path}.{name}" if path else name)
    elif isinstance(shape, ListShape) and isinstance(value, list):
        for i, item in enumerate(value):
            errors += _trait_errors(item, shape.member, f"{path}[{i}]")
    elif isinstance(shape, MapShape) and isinstance(value, dict):
        for key, item in value.items():
            errors += _trait_errors(item, shape.value, f"{path}.{key}")
    return errors


def request_errors(parameters: dict, shape: StructureShape) -> list[str]:
    """What AWS would refuse in this (botocore-cased, null-free) request; ``[]`` when it is valid."""
    report = ParamValidator().validate(parameters, shape)
    errors = report.generate_report().splitlines() if report.has_errors() else []
    return errors + _trait_errors(parameters, shape, "")


def refuse_invalid(service: str, action: str, parameters: dict, shape: StructureShape | None) -> None:
    """Raise the ClientError AWS answers with when ``parameters`` do not fit the operation's input shape."""
    if shape is None:
        return
    errors = request_errors(parameters, shape)
    if errors:
        LOG.warning("refused %s.%s: %s", service, action, "; ".join(errors))
        raise ClientError({"Error": {"Code": VALIDATION_ERROR_CODE,
                                     "Message": f"{len(errors)} validation error(s) detected: " + "; ".join(errors)},
                           "ResponseMetadata": {"HTTPStatusCode": 400, "RequestId": "rehearsal"}}, action)
