"""Helpers for the stage 4-7 function tests (a uniquely named module: tests import it by name)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from lambda_helpers import FakeLambdaContext, load_handler  # noqa: F401  (re-exported)

ROOT = Path(__file__).resolve().parents[2]
EXECUTION_ID = "arn:aws:states:us-east-1:123456789012:execution:heroku2aws-acme-storefront:run-1"
APP = "acme-storefront"


def production_input() -> dict[str, Any]:
    """The production example input, validated and with every default filled (as stage 1 returns it)."""
    from heroku2aws.contracts.input import ExecutionInput

    raw = json.loads((ROOT / "events" / "production.json").read_text())
    return ExecutionInput.model_validate(raw).model_dump(mode="json")


def with_changes(doc: dict, **paths) -> dict:
    """A deep copy of ``doc`` with dotted paths set (``heroku__api_url="http://…"``)."""
    out = copy.deepcopy(doc)
    for dotted, value in paths.items():
        keys = dotted.split("__")
        node = out
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return out


def create_secret(name: str, value: Any, *, app: str = APP) -> str:
    """A secret in the (moto) account, tagged for the app as the deploy guide asks; its ARN."""
    import boto3

    text = value if isinstance(value, str) else json.dumps(value)
    return boto3.client("secretsmanager").create_secret(
        Name=name, SecretString=text, Tags=[{"Key": "heroku2aws:app", "Value": app}])["ARN"]


def pg_secret_doc(server, dbname: str = "postgres") -> dict[str, Any]:
    """The connection secret (DMS format) of a PostgresServer, as its superuser."""
    doc = {"engine": "postgres", "host": "127.0.0.1", "port": server.port, "username": server.superuser,
           "password": server.password, "dbname": dbname}
    if server.ssl:
        doc["sslmode"] = "require"
    return doc
