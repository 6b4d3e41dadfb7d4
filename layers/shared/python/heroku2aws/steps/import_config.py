"""Stage 3, "Import the config vars into Secrets Manager": one secret per app, written idempotently.

Event (built by the ASL)::

    {"input": <normalised execution input>, "execution_id": "<execution ARN>"}

Return::

    {"secret_arn": "arn:aws:secretsmanager:…:secret:heroku2aws/<app>/config-AbCdEf",
     "secret_name": "heroku2aws/<app>/config",
     "created": bool,     # this call created the secret
     "restored": bool,    # the secret was scheduled for deletion and this call restored it
     "changed": bool,     # a new secret version was written (false: identical content already there)
     "imported": [names], # every key of the secret, sorted: every Heroku config var (+ DATABASE_URL / REDIS_URL)
     "excluded": [names], # Heroku vars left out, sorted (none: a var with no value)
     "replaced": [names]} # the data stores' URLs among them, pointed at RDS / ElastiCache at the switch

What goes in the secret (a JSON object of strings): **every** Heroku config var, as Heroku has it - the app's
own and every var an add-on sets (``SENDGRID_API_KEY``, ``PAPERTRAIL_API_TOKEN``, ``NEW_RELIC_*``,
``CLOUDAMQP_URL``, ``SENTRY_DSN`` …): the app on AWS needs its third-party services. The data stores' URLs
(``DATABASE_URL``, ``REDIS_URL`` and their aliases, ``replaced``) keep Heroku's values too: the ECS services first
run against the Heroku data stores; stage 6 (:mod:`heroku2aws.steps.switch_secrets`) replaces exactly those.
``DATABASE_URL`` / ``REDIS_URL`` are built from the *source* connection secrets only when Heroku has no such var.

Idempotent: a missing secret is created (tags :func:`heroku2aws.contracts.names.tags`: ``app``,
``heroku2aws:app`` = app, ``heroku2aws:execution``, ``heroku2aws:managed`` = true); one scheduled for deletion
is restored first; identical content writes nothing (``changed: false``); different content is a new version
(``PutSecretValue``). Retries of the same request reuse a ``ClientRequestToken`` derived from the execution
and the content, so a retried call never makes a second version. A secret of that name that heroku2aws did
not create is never touched.

Errors: :class:`~heroku2aws.contracts.errors.ConfigImportFailed` (the secret exists but is not heroku2aws's; a
config var name ECS cannot pass; the secret would exceed Secrets Manager's 64 KiB), ``HerokuApiError``
from the Heroku client. Messages carry names and sizes, never values.

Environment: none of its own (boto3 reads ``AWS_REGION`` / ``AWS_ENDPOINT_URL``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from ..clients import connections
from ..clients.aws import client, error_code, request_token
from ..clients.heroku import client_for
from ..contracts import names
from ..contracts.errors import ConfigImportFailed
from ..contracts.input import ExecutionInput
from ..contracts.results import ImportConfigResult
from ..obs import get_logger

log = get_logger("import_config")

__all__ = ["ALWAYS_EXCLUDED", "CONFIG_VAR_NAME", "bad_names", "import_config", "split_config", "upsert_secret"]

#: The names ECS can pass as environment variables (and Heroku recommends).
CONFIG_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: The vars the migration replaces at the switch (with their aliases, found by switch_secrets.read_heroku_stores).
ALWAYS_EXCLUDED = frozenset({"DATABASE_URL", "REDIS_URL"})
MAX_SECRET_BYTES = 65536


def split_config(config_vars: dict[str, Any], attachment_vars: Iterable[str] = ()) -> tuple[dict[str, str], list[str]]:
    """``(kept, excluded names)``: every var with a value is kept (add-on vars included); only a var without a
    value is left out. ``attachment_vars`` is accepted for callers that still pass it and not used."""
    del attachment_vars
    kept = {name: str(value) for name, value in config_vars.items() if value is not None}
    return kept, sorted(name for name, value in config_vars.items() if value is None)


def bad_names(var_names: Iterable[str]) -> list[str]:
    """Config var names ECS cannot pass as an environment variable (names are not secret; values are)."""
    return sorted(n for n in var_names if not CONFIG_VAR_NAME.match(n))


def upsert_secret(name: str, content: dict[str, str], app: str, execution_id: str, sm=None) -> dict[str, Any]:
    """Create, restore or update the secret ``name`` to ``content``; ``{arn, created, restored, changed}``."""
    sm = sm or client("secretsmanager")
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    size = len(text.encode())
    if size > MAX_SECRET_BYTES:
        raise ConfigImportFailed(f"the config vars of {app} take {size} bytes as JSON; a secret holds at most "
                                 f"{MAX_SECRET_BYTES}")
    token = request_token(execution_id, text)
    tags = names.tags(app, execution_id)
    try:
        desc = sm.describe_secret(SecretId=name)
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        desc = None
    if desc is None:
        try:
            arn = sm.create_secret(Name=name, SecretString=text, Tags=tags, ClientRequestToken=token,
                                   Description=f"Config vars of the Heroku app {app}, imported by heroku2aws")["ARN"]
            return {"arn": arn, "created": True, "restored": False, "changed": True}
        except ClientError as exc:
            if error_code(exc) != "ResourceExistsException":  # created meanwhile (a concurrent retry): update it
                raise
            desc = sm.describe_secret(SecretId=name)
    arn = desc["ARN"]
    if not names.is_workflow_secret(desc.get("Tags"), app):
        raise ConfigImportFailed(f"secret {name} exists but was not created by heroku2aws (no tag {names.MANAGED_TAG}=true): "
                                 "delete it or tag it, then run again")
    restored = False
    if desc.get("DeletedDate"):
        sm.restore_secret(SecretId=arn)
        restored = True
    try:
        current = sm.get_secret_value(SecretId=arn)["SecretString"]
        same = json.loads(current) == json.loads(text)
    except (ClientError, KeyError, ValueError):  # no current version, or not JSON: write a new one
        same = False
    if not same:
        sm.put_secret_value(SecretId=arn, SecretString=text, ClientRequestToken=token)
    if restored or not same:
        sm.tag_resource(SecretId=arn, Tags=tags)
    return {"arn": arn, "created": False, "restored": restored, "changed": not same}


def import_config(cfg: ExecutionInput, execution_id: str, *, heroku=None, sm=None) -> ImportConfigResult:
    """Read the app's config vars and write them (plus the source data-store URLs) to the app's secret."""
    app = cfg.heroku.app
    api = heroku or client_for(cfg.heroku.api_key_secret_arn, cfg.heroku.api_url)
    from .switch_secrets import read_heroku_stores

    stores = read_heroku_stores(api, app)
    kept, excluded = split_config(api.get_config_vars(app))
    bad = bad_names(kept)
    if bad:
        raise ConfigImportFailed(f"config var names ECS cannot pass as environment variables: {', '.join(bad)} "
                                 "(rename them on Heroku: letters, digits and '_')")
    if "DATABASE_URL" not in kept:
        kept["DATABASE_URL"] = connections.postgres_url(cfg.source.postgres_secret_arn)
    if cfg.source.redis_secret_arn and "REDIS_URL" not in kept:
        kept["REDIS_URL"] = connections.redis_url(cfg.source.redis_secret_arn)
    replaced = sorted({"DATABASE_URL", *stores.names.get("postgres", [])}
                      | ({"REDIS_URL", *stores.names.get("redis", [])} if cfg.source.redis_secret_arn else set()))
    name = names.config_secret_name(app)
    outcome = upsert_secret(name, kept, app, execution_id, sm=sm)
    result = ImportConfigResult(secret_arn=outcome["arn"], secret_name=name, created=outcome["created"],
                                restored=outcome["restored"], changed=outcome["changed"],
                                imported=sorted(kept), excluded=excluded, replaced=replaced)
    log.info("config vars imported", extra={"secret_name": name, "secret_created": result.created,
                                            "secret_changed": result.changed, "imported": len(result.imported),
                                            "excluded": result.excluded})
    return result
