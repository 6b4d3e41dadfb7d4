"""Stage 6 "Point the app at RDS and ElastiCache" (and its undo): DATABASE_URL / REDIS_URL in the app's secret.

Event (built by the ASL)::

    {"input": <normalised execution input>, "to": "target" | "source", "execution_id": "<execution ARN>"}

Return::

    {"secret_arn": "arn:…:secret:heroku2aws/<app>/config-AbCdEf",
     "switched_to": "target" | "source",
     "changed": bool,        # false: both URLs were already there, no new version written
     "version_id": "<the secret's AWSCURRENT version id after the call>"}

The secret ``heroku2aws/<app>/config`` (written in stage 3, see :mod:`heroku2aws.steps.import_config`) is a
JSON object of every Heroku config var. Only the data stores' URLs are replaced: ``DATABASE_URL``, ``REDIS_URL``
and their aliases - the vars the app's ``DATABASE`` / ``REDIS`` add-on sets (``HEROKU_POSTGRESQL_<COLOR>_URL``,
``REDIS_TLS_URL``) and any var whose value is the same URL (:func:`read_heroku_stores`, read from Heroku at the
moment of the switch, so credentials Heroku rotated since stage 3 are the ones used):

- ``to: target``: each Postgres var becomes the RDS URL (``<to>.postgres_secret_arn``) *in the form Heroku gave
  it*: its scheme (``postgres://`` stays ``postgres://``) and query are kept; ``sslmode`` only when the target
  secret names one (none: libpq's ``prefer`` negotiates TLS with RDS as it did with Heroku, and drivers configured
  in code - node-postgres' ``ssl`` option - keep their settings; see the README); each Redis var becomes the
  ElastiCache URL of the target secret (``rediss://`` when it serves TLS);
- ``to: source`` (rollback): each of them gets Heroku's current value back.

A var Heroku does not have (``DATABASE_URL`` when the app had none) comes from ``<to>``'s connection secret, as
before. Every other var is kept as it is.

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
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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

__all__ = ["HerokuStores", "describe", "desired_urls", "in_heroku_form", "read_heroku_stores", "switch",
           "switch_secrets"]

#: The add-on attachments whose stores the migration moves, and the var each sets.
STORE_ATTACHMENTS = {"postgres": ("DATABASE", "DATABASE_URL"), "redis": ("REDIS", "REDIS_URL")}


@dataclass
class HerokuStores:
    """The app's config vars as Heroku has them now, and which of them name each data store."""

    config_vars: dict[str, str] = field(default_factory=dict)
    names: dict[str, list[str]] = field(default_factory=dict)  # "postgres" / "redis" -> var names


def store_var_names(config_vars: dict[str, Any], addon_vars: dict[str, list[str]]) -> dict[str, list[str]]:
    """``{"postgres": [...], "redis": [...]}``: the primary var, every var the store's add-on sets, and every var
    whose value is the same URL as the primary's."""
    out: dict[str, list[str]] = {}
    for kind, (attachment, primary) in STORE_ATTACHMENTS.items():
        found = {n for n in addon_vars.get(attachment, []) if n in config_vars}
        value = config_vars.get(primary)
        if value:
            found.add(primary)
            found |= {n for n, v in config_vars.items() if v == value}
        if found:
            out[kind] = sorted(found)
    return out


def read_heroku_stores(api: Any, app: str) -> HerokuStores:
    """Heroku's config vars and the store vars among them (Platform API: config-vars, addon-attachments, addons:
    an add-on lists the ``config_vars`` it sets; every attachment of the same add-on sets ``<NAME>_URL``)."""
    config_vars = {k: str(v) for k, v in api.get_config_vars(app).items() if v is not None}
    attachments = api.addon_attachments(app)
    addons = {a.get("id"): a for a in api.addons(app)}
    addon_vars: dict[str, list[str]] = {}
    for attachment, _ in STORE_ATTACHMENTS.values():
        ids = {(a.get("addon") or {}).get("id") for a in attachments if a.get("name") == attachment} - {None}
        names = [f"{a['name']}_URL" for a in attachments if (a.get("addon") or {}).get("id") in ids and a.get("name")]
        for addon_id in ids:
            names += [v for v in (addons.get(addon_id) or {}).get("config_vars") or [] if isinstance(v, str)]
        addon_vars[attachment] = names
    return HerokuStores(config_vars=config_vars, names=store_var_names(config_vars, addon_vars))


def in_heroku_form(heroku_url: str | None, target_url: str) -> str:
    """``target_url`` with the scheme and query Heroku's URL has (``postgres://`` stays ``postgres://``); the
    target's own query (an ``sslmode`` its secret names) wins."""
    if not heroku_url:
        return target_url
    theirs, ours = urlsplit(heroku_url), urlsplit(target_url)
    query = {**dict(parse_qsl(theirs.query)), **dict(parse_qsl(ours.query))}
    return urlunsplit((theirs.scheme or ours.scheme, ours.netloc, ours.path, urlencode(query), ""))


def desired_urls(to: Direction, postgres_secret_arn: str, redis_secret_arn: str | None, sm=None,
                 heroku: HerokuStores | None = None) -> dict[str, str]:
    """Every store var's value for one side (values stay inside this process); see the module docstring."""
    heroku = heroku or HerokuStores()
    urls: dict[str, str] = {}
    kinds = [("postgres", "DATABASE_URL", postgres_secret_arn)]
    if redis_secret_arn:
        kinds.append(("redis", "REDIS_URL", redis_secret_arn))
    for kind, primary, arn in kinds:
        names = sorted({primary, *heroku.names.get(kind, [])})
        if kind == "postgres":
            # the target: no sslmode unless its secret names one; the source's secret only when Heroku lacks the var
            # (postgres_url passes default_sslmode to postgres_url_from_doc, where None means "none in the URL")
            sslmode = None if to == "target" else connections.SOURCE_SSLMODE
            own = connections.postgres_url(arn, default_sslmode=sslmode, client=sm)  # type: ignore[arg-type]
        else:
            own = connections.redis_url(arn, client=sm)
        for name in names:
            current = heroku.config_vars.get(name)
            if to == "target":
                urls[name] = in_heroku_form(current, own) if kind == "postgres" else own
            else:
                urls[name] = current or own
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
           sm=None, heroku: HerokuStores | None = None) -> SwitchSecretsResult:
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
    urls = desired_urls(to, postgres_secret_arn, redis_secret_arn, sm, heroku)
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


def heroku_stores_for(cfg: ExecutionInput, api: Any = None) -> HerokuStores:
    """Heroku's store vars now; ``HerokuApiError`` when Heroku answers 429/5xx or not at all (worth a retry),
    :class:`SecretSwitchFailed` for any other refusal (the key, the app)."""
    from ..contracts.errors import HerokuApiError, HerokuControlFailed
    from .heroku_control import TRANSIENT, client_for

    try:
        api = api or client_for(cfg.heroku.api_key_secret_arn, cfg.heroku.api_url)
        return read_heroku_stores(api, cfg.heroku.app)
    except HerokuApiError as exc:
        if exc.status in TRANSIENT:
            raise
        raise SecretSwitchFailed(f"cannot read the config vars of {cfg.heroku.app} from Heroku: "
                                 f"{exc.status} {exc.id}") from None
    except HerokuControlFailed as exc:  # the key secret cannot be read
        raise SecretSwitchFailed(str(exc)) from None


def switch_secrets(cfg: ExecutionInput, to: Direction, execution_id: str, sm=None, heroku: Any = None
                   ) -> SwitchSecretsResult:
    side = cfg.target if to == "target" else cfg.source
    stores = heroku_stores_for(cfg, heroku)
    return switch(cfg.heroku.app, to, side.postgres_secret_arn, side.redis_secret_arn, execution_id, sm, stores)
