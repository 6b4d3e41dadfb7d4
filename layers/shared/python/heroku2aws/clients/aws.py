"""AWS helpers written once: building a boto3 client, reading an error's code.

boto3 reads ``AWS_REGION`` and ``AWS_ENDPOINT_URL`` (the rehearsal's emulation) from the environment.
Call sites name their service literally (``client("ecs")``): the IAM conformance check reads them.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # boto3 is imported on first use: the command-line tools that never call AWS do not pay for it
    from botocore.exceptions import ClientError

__all__ = ["NOT_FOUND", "client", "error_code", "is_not_found", "request_token"]

#: The error codes with which AWS says "there is no such thing" (gone is done, for a compensation).
NOT_FOUND = frozenset({"ResourceNotFoundException", "ResourceNotFoundFault", "ServiceNotFoundException",
                       "ServiceNotActiveException", "ClusterNotFoundException"})


def client(service: str, *, retrying: bool = False, **kwargs: Any) -> Any:
    """A boto3 client; ``retrying``: in botocore's standard retry mode (throttling and transient errors, with
    backoff), 5 attempts, for the steps that must not fail on one throttled call (health gate, compensations)."""
    import boto3
    from botocore.config import Config

    if retrying:
        kwargs.setdefault("config", Config(retries={"mode": "standard", "max_attempts": 5}))
    make: Any = cast(Any, boto3.client)  # the service is a run-time string: none of boto3's per-service overloads
    return make(service, **kwargs)


def error_code(exc: ClientError) -> str:
    """The AWS error code of a botocore ``ClientError`` (``""`` when it has none)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_not_found(exc: ClientError) -> bool:
    return error_code(exc) in NOT_FOUND


def request_token(*parts: str, scope: str = "") -> str:
    """A ``ClientRequestToken`` derived from ``parts``: a retried call sends the same one (no second version),
    a different content or direction a new one."""
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"heroku2aws:{scope + ':' if scope else ''}{digest}"))
