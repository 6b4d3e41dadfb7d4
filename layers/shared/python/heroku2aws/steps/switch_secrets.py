"""Stage 6 "Point the app at RDS and ElastiCache" (and its undo): DATABASE_URL / REDIS_URL in the app's secret.

Event (built by the ASL)::

    {"input": <normalised execution input>, "to": "target" | "source", "execution_id": "<execution ARN>"}

Return::

    {"secret_arn": "arn:…:secret:heroku2aws/<app>/config-AbCdEf",
     "switched_to": "target" | "source",
     "changed": bool,        # false: both URLs were already there, no new version written
     "version_id": "<the secret's AWSCURRENT version id after the call>"}

The secret ``heroku2aws/<app>/config`` (written in stage 3, see :mod:`heroku2aws.steps.import_config`) is a
JSON object of config vars. ``DATABASE_URL`` is set to the URL built from ``<to>.postgres_secret_arn``
(:func:`heroku2aws.clients.connections.postgres_url`; ``sslmode=require`` for the Heroku source as stage 3
wrote it, ``prefer`` unless the secret says otherwise for the RDS target), ``REDIS_URL`` from
``<to>.redis_secret_arn`` when the input has Redis. Every other var is kept as it is.

Idempotent: identical content writes nothing. A write uses a ``ClientRequestToken`` derived from the
execution, the direction, the new content and the version it replaces, so a retried call never
makes a second version, and switching back and forth never reuses a token.

Errors: :class:`~heroku2aws.contracts.errors.SecretSwitchFailed` when the secret is missing, scheduled for
deletion, not heroku2aws's (:func:`heroku2aws.contracts.names.is_workflow_secret`) or not a
JSON object. Messages carry names and ARNs, never a URL or a value.

Environment: none of its own (boto3 reads ``AWS_REGION`` / ``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from ..clients import connections
from ..clients.aws import client, error_code, request_token
from ..contracts import names
from ..contracts.errors import SecretSwitchFailed
from ..contracts.events import Direction
from ..contracts.input import ExecutionInput
from ..contracts.results import SwitchSecretsResult
from ..obs import get_logger

log = get_logger("switch_secrets")

__all__ = ["describe", "desired_urls", "switch", "switch_secrets"]


def desired_urls(to: Direction, postgres_secret_arn: str, redis_secret_arn: str | None, sm=None) -> dict[str, str]:
    """``{"DATABASE_URL": …, "REDIS_URL": …}`` for one side (values stay inside this process)."""
    sslmode = connections.TARGET_SSLMODE if to == "target" else connections.SOURCE_SSLMODE
    urls = {"DATABASE_URL": connections.postgres_url(postgres_secret_arn, default_sslmode=sslmode, client=sm)}
    if redis_secret_arn:
        urls["REDIS_URL"] = connections.redis_url(redis_secret_arn, client=sm)
    return urls


def describe(app: str, sm=None) -> dict[str, Any] | None:
    """The config secret's description, or None when it does not exist (or is scheduled for deletion)."""
    sm = sm or client("secretsmanager")
    try:
        desc = sm.describe_secret(SecretId=names.config_secret_name(app))
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            return None
        raise
    return None if desc.get("DeletedDate") else desc


def switch(app: str, to: Direction, postgres_secret_arn: str, redis_secret_arn: str | None, execution_id: str,
           sm=None) -> SwitchSecretsResult:
    """Point the app's config secret at ``to``'s data stores; see the module docstring."""
    sm = sm or client("secretsmanager")
    name = names.config_secret_name(app)
    desc = describe(app, sm)
    if desc is None:
        raise SecretSwitchFailed(f"secret {name} does not exist (or is scheduled for deletion): stage 3 imports it")
    arn = desc["ARN"]
    if not names.is_workflow_secret(desc.get("Tags"), app):
        raise SecretSwitchFailed(f"secret {name} was not created by heroku2aws (no tag {names.MANAGED_TAG}=true): "
                                 "left untouched")
    current = sm.get_secret_value(SecretId=arn)
    try:
        doc = json.loads(current.get("SecretString") or "")
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise SecretSwitchFailed(f"secret {name} does not hold a JSON object of config vars")
    urls = desired_urls(to, postgres_secret_arn, redis_secret_arn, sm)
    if all(doc.get(k) == v for k, v in urls.items()):
        log.info("config secret already points there", extra={"secret_name": name, "to": to})
        return SwitchSecretsResult(secret_arn=arn, switched_to=to, changed=False, version_id=current["VersionId"])
    new = {**doc, **urls}
    text = json.dumps(new, sort_keys=True, separators=(",", ":"))
    token = request_token(execution_id, to, current["VersionId"], text, scope="switch")
    put = sm.put_secret_value(SecretId=arn, SecretString=text, ClientRequestToken=token)
    changed_keys = sorted(k for k, v in urls.items() if doc.get(k) != v)
    log.info("config secret switched", extra={"secret_name": name, "to": to, "keys": changed_keys})
    return SwitchSecretsResult(secret_arn=arn, switched_to=to, changed=True, version_id=put["VersionId"])


def switch_secrets(cfg: ExecutionInput, to: Direction, execution_id: str, sm=None) -> SwitchSecretsResult:
    side = cfg.target if to == "target" else cfg.source
    return switch(cfg.heroku.app, to, side.postgres_secret_arn, side.redis_secret_arn, execution_id, sm)
