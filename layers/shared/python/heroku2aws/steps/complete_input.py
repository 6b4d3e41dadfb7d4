"""Stage 1b, "Create the source secrets from Heroku's config vars": a minimal input (Landing=create) made whole.

Event (built by the ASL, only when the validated input has no ``source``)::

    {"input": <PendingInput: the minimal input completed from the landing>, "execution_id": "<execution ARN>"}

Return: the complete execution input (``ExecutionInput`` as JSON), which the ASL makes ``$cfg``: ``source`` names
the secrets this step wrote, ``dns.heroku_target`` is Heroku's DNS target of the domain when the input gave none.

What it writes, from the app's config vars as Heroku has them now (Platform API ``GET /apps/{app}/config-vars``), so
no person copies a credential:

- ``heroku2aws/<app>/source-postgres``: ``DATABASE_URL`` as the connection secret DMS and the workflow read, JSON
  ``{engine, host, port, username, password, dbname, sslmode}`` (``sslmode`` from the URL, else ``require``: Heroku
  Postgres accepts TLS connections only);
- ``heroku2aws/<app>/source-redis``: ``REDIS_URL`` as JSON ``{url}`` — only when Heroku has one. The landing's
  ElastiCache is then required; without a ``REDIS_URL`` the target Redis is left out of the input.

Idempotent: :func:`heroku2aws.steps.import_config.upsert_secret` (created tagged ``heroku2aws:managed``, restored when
scheduled for deletion, rewritten only when Heroku's value changed, never a secret heroku2aws did not create). The
ledger kind ``source-secrets`` is recorded before this state; its compensation deletes both.

Errors: :class:`~heroku2aws.contracts.errors.InvalidInput` (Heroku has no ``DATABASE_URL``, or a ``REDIS_URL`` but the
landing no ElastiCache; the domain is not the app's on Heroku), ``ConfigImportFailed`` (a secret of that name that
heroku2aws did not create), ``HerokuApiError``. Messages carry names, never values.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ..clients.connections import SOURCE_SSLMODE, normalise_url
from ..clients.heroku import client_for
from ..contracts import names
from ..contracts.errors import HerokuApiError, InvalidInput
from ..contracts.input import ExecutionInput, PendingInput
from ..obs import get_logger
from .import_config import upsert_secret
from .switch_secrets import read_heroku_stores

log = get_logger("complete_input")

__all__ = ["complete_input", "postgres_document"]


def postgres_document(url: str) -> dict[str, Any]:
    """A Heroku ``DATABASE_URL`` as the connection secret's JSON (raises ``ValueError`` naming no value)."""
    parts = urlsplit(normalise_url(url))
    if parts.scheme not in ("postgres", "postgresql") or not parts.hostname or not parts.username:
        raise ValueError("DATABASE_URL is not a postgres:// URL with a user and a host")
    query = dict(parse_qsl(parts.query))
    return {"engine": "postgres", "host": parts.hostname, "port": parts.port or 5432,
            "username": unquote(parts.username), "password": unquote(parts.password or ""),
            "dbname": unquote(parts.path.lstrip("/")) or "postgres", "sslmode": query.get("sslmode") or SOURCE_SSLMODE}


def complete_input(cfg: PendingInput, execution_id: str, *, heroku=None, sm=None) -> ExecutionInput:
    app = cfg.heroku.app
    api = heroku or client_for(cfg.heroku.api_key_secret_arn, cfg.heroku.api_url)
    stores = read_heroku_stores(api, app)
    database_url = stores.config_vars.get("DATABASE_URL")
    if not database_url:
        raise InvalidInput(f"the Heroku app {app} has no DATABASE_URL: there is no Heroku Postgres to migrate")
    redis_url = stores.config_vars.get("REDIS_URL")
    if redis_url and not cfg.target.redis_secret_arn:
        raise InvalidInput(f"the Heroku app {app} has a REDIS_URL but the landing has no ElastiCache: deploy with "
                           "RedisEngineVersion set (heroku2aws init sets it from the Redis add-on)")
    try:
        pg_doc = postgres_document(database_url)
    except ValueError as exc:
        raise InvalidInput(f"the Heroku app {app}: {exc}") from None
    source: dict[str, Any] = {}
    pg = upsert_secret(names.source_secret_name(app, "postgres"), pg_doc, app, execution_id, sm=sm)
    source["postgres_secret_arn"] = pg["arn"]
    if redis_url:
        redis = upsert_secret(names.source_secret_name(app, "redis"), {"url": redis_url}, app, execution_id, sm=sm)
        source["redis_secret_arn"] = redis["arn"]
    doc = cfg.model_dump(mode="json")
    doc["source"] = source
    if not redis_url:
        doc["target"].pop("redis_secret_arn", None)
    if not doc["dns"].get("heroku_target"):
        doc["dns"]["heroku_target"] = _heroku_target(api, app, cfg.dns.record_name)
    full = ExecutionInput.model_validate(doc)
    log.info("source secrets written from Heroku's config vars",
             extra={"app": app, "postgres_created": pg["created"], "redis": bool(redis_url)})
    return full


def _heroku_target(api: Any, app: str, record_name: str) -> str:
    host = record_name.rstrip(".")
    try:
        domain = api.domain(app, host)
    except HerokuApiError as exc:
        if exc.status == 404:
            raise InvalidInput(f"{host} is not a custom domain of the Heroku app {app} (heroku domains:add first)") from None
        raise
    cname = str(domain.get("cname") or "")
    if not cname.rstrip(".").endswith(".herokudns.com"):
        raise InvalidInput(f"{host} on Heroku has no herokudns.com DNS target (kind {domain.get('kind')})")
    return cname
