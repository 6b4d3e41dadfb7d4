"""Secret values from Secrets Manager, read inside the process that uses them.

Only secret ARNs travel in Step Functions state; a value read here never leaves the function or task
that read it (never logged, never returned, never in an error). :mod:`heroku2aws.clients.connections`
turns these values into connection URLs and keys.
"""

from __future__ import annotations

import json
from typing import Any

from ..contracts.input import SECRET_ARN
from .aws import client

__all__ = ["get_secret_string", "is_secret_arn", "parse_document", "secret_document"]


def is_secret_arn(value: str) -> bool:
    return bool(SECRET_ARN.match(value or ""))


def get_secret_string(arn: str, sm: Any = None) -> str:
    """The SecretString of ``arn`` (boto3 honours AWS_ENDPOINT_URL, so the engine's emulation works)."""
    sm = sm or client("secretsmanager")
    return sm.get_secret_value(SecretId=arn)["SecretString"]


def parse_document(raw: str) -> dict[str, Any] | None:
    """The JSON object a secret string holds, or None when it holds something else (a plain string)."""
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def secret_document(arn: str, sm: Any = None) -> tuple[dict[str, Any] | None, str]:
    """``(the JSON object the secret holds, or None; the raw string)``."""
    raw = get_secret_string(arn, sm)
    return parse_document(raw), raw
